/**
 * API keys and durability over real HTTP: keys made by the CLI's code path (its own context on
 * the same data directory) work at once, use is recorded, revocation bites at once; a restart
 * keeps keys, short links, the organisation, spaces and the broker key; a key rotation keeps
 * old tokens opening while new ones carry the new kid.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openBrokerContext } from '../../src/main/container.js';
import { testFetch } from '../support/inject-fetch.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  assertEnvelope,
  call,
  encrypt,
  HTML,
  headerOf,
  issue,
  joseBody,
  longPath,
  nowSeconds,
  openStored,
  openWithNodeJose,
  storedKeys,
} from './helpers.js';

/** What `instant-connect keys …` does: its own context on the data directory, closed after. */
async function withCliContext<T>(
  server: TestServer,
  fn: (ctx: Awaited<ReturnType<typeof openBrokerContext>>) => Promise<T>,
): Promise<T> {
  const ctx = await openBrokerContext({ dataDir: server.dataDir, publicUrl: 'http://127.0.0.1' });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

const spaceOf = async (server: TestServer, cipher: string) => {
  const answer = await call(`${server.url}/api/v1/space/?int=jose&data=${encodeURIComponent(cipher)}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body as { spaceId: string; visitId: string; organizationId: string };
};

describe('API keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('a key made by the CLI code path works on the running server at once', async () => {
    const made = await withCliContext(server, async (ctx) => {
      assert.equal(ctx.org.id, server.server.context.org.id, 'the CLI sees the same organisation');
      return ctx.apiKeys.create(ctx.org, 'from the cli');
    });
    assert.match(made.key, /^ick_[A-Za-z0-9]{32}$/);
    assert.equal(made.record.prefix, made.key.slice(0, 8));
    const answer = await encrypt(server, joseBody('cli key'), { key: made.key });
    assert.equal(answer.status, 200, answer.text);
    // Its tokens are the organisation's.
    assert.equal(headerOf(answer.body.host[0].cipher)['iss'], server.server.context.org.id);
  });

  test('"last used" is recorded on first use, and the list never shows the key or its hash', async () => {
    const { context } = server.server;
    const { key, record } = await context.apiKeys.create(context.org, 'usage');
    const find = async () => (await context.apiKeys.list(context.org)).find((k) => k.id === record.id)!;
    assert.equal((await find()).lastUsedAt, undefined);
    const before = nowSeconds();
    assert.equal((await encrypt(server, joseBody('use'), { key })).status, 200);
    const used = await find();
    assert.ok(used.lastUsedAt !== undefined, 'lastUsedAt recorded');
    assert.ok(used.lastUsedAt >= before - 1 && used.lastUsedAt <= nowSeconds() + 1);
    // The CLI (another connection) sees it too.
    const seen = await withCliContext(server, (ctx) => ctx.apiKeys.list(ctx.org));
    const listed = seen.find((k) => k.id === record.id)!;
    assert.equal(listed.lastUsedAt, used.lastUsedAt);
    assert.ok(!JSON.stringify(seen).includes(key.slice(8)), 'no key in the list');
    assert.deepEqual(Object.keys(listed).sort(), ['createdAt', 'id', 'lastUsedAt', 'name', 'prefix']);
  });

  test('a request refused before authentication (bad JSON) does not count as use', async () => {
    const { context } = server.server;
    const { key, record } = await context.apiKeys.create(context.org, 'refused body');
    // Refused before authentication (bad JSON) ...
    const answer = await call(`${server.url}/api/v2/joseencrypt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{',
    });
    assertEnvelope(answer, 400, 'ERR_BAD_JSON');
    const listed = (await context.apiKeys.list(context.org)).find((k) => k.id === record.id)!;
    assert.equal(listed.lastUsedAt, undefined);
  });

  test('a key revoked by the CLI code path is refused by the running server at once', async () => {
    const made = await withCliContext(server, (ctx) => ctx.apiKeys.create(ctx.org, 'short-lived'));
    assert.equal((await encrypt(server, joseBody('before'), { key: made.key })).status, 200);
    const revoked = await withCliContext(server, (ctx) => ctx.apiKeys.revoke(ctx.org, made.record.id));
    assert.equal(revoked, true);
    const answer = await encrypt(server, joseBody('after'), { key: made.key });
    assertEnvelope(answer, 401, 'ERR_UNAUTHORIZED');
    assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer\b/);
    const listed = (await server.server.context.apiKeys.list(server.server.context.org)).find(
      (k) => k.id === made.record.id,
    )!;
    assert.ok(listed.revokedAt !== undefined);
    // Revoking twice says so.
    assert.equal(await withCliContext(server, (ctx) => ctx.apiKeys.revoke(ctx.org, made.record.id)), false);
  });
});

describe('restart keeps everything', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('keys, short links, the organisation, spaces and the broker key survive a restart', async () => {
    const orgBefore = server.server.context.org;
    const kidBefore = server.server.context.keyring.active().kid;
    const { context } = server.server;
    const revokedKey = await context.apiKeys.create(context.org, 'revoked before restart');
    await context.apiKeys.revoke(context.org, revokedKey.record.id);
    const body = await issue(server, 'durable visit', {
      provideShortUrls: true,
      verticalType: 'gen',
      jwt: { sub: 'durable visit', exp: nowSeconds() + 3600 },
    });
    const host = body.host[0]!;
    const guest = body.guest[0]!;
    const spaceBefore = await spaceOf(server, guest.cipher);

    await server.restart();

    // The organisation and the broker key.
    assert.deepEqual(server.server.context.org, orgBefore);
    assert.equal(server.server.context.keyring.active().kid, kidBefore);
    assert.equal(server.server.context.keyring.size, 1, 'no new key made on restart');
    // The API key still works; the revoked one stays revoked.
    const again = await issue(server, 'after restart');
    assert.equal(headerOf(again.host[0]!.cipher)['kid'], kidBefore);
    assert.equal(headerOf(again.host[0]!.cipher)['iss'], orgBefore.id);
    assertEnvelope(await encrypt(server, joseBody('x'), { key: revokedKey.key }), 401, 'ERR_UNAUTHORIZED');
    // The old short links redirect (to the new origin) and their pages still say Valid.
    for (const [entry, page] of [
      [host, 'login'],
      [guest, 'talk'],
    ] as const) {
      const redirect = await call(`${server.url}/visit/${entry.short}`);
      assert.equal(redirect.status, 302, redirect.text);
      assert.equal(redirect.headers.get('location'), `${server.url}${longPath('gen', page, entry.cipher)}`);
      const followed = await testFetch(`${server.url}/visit/${entry.short}`, { headers: HTML });
      assert.equal(followed.status, 200);
      const html = await followed.text();
      assert.match(html, />Valid</);
      assert.match(html, /durable visit/);
    }
    // Old tokens open, in the same space as before.
    const spaceAfter = await spaceOf(server, guest.cipher);
    assert.equal(spaceAfter.spaceId, spaceBefore.spaceId);
    assert.equal(spaceAfter.visitId, spaceBefore.visitId);
    assert.equal((await spaceOf(server, host.cipher)).spaceId, spaceBefore.spaceId);
    // New links for the same subject land in the same space too.
    const more = await issue(server, 'durable visit');
    assert.equal((await spaceOf(server, more.guest[0]!.cipher)).spaceId, spaceBefore.spaceId);
  });

  test('a second restart changes nothing either', async () => {
    const org = server.server.context.org;
    const body = await issue(server, 'twice', { provideShortUrls: true });
    await server.restart();
    await server.restart();
    assert.deepEqual(server.server.context.org, org);
    const redirect = await call(`${server.url}/visit/${body.guest[0]!.short}`);
    assert.equal(redirect.status, 302);
    assert.equal((await encrypt(server, joseBody('still'))).status, 200);
  });
});

describe('broker key rotation', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('after rotate(now) old tokens still open and new tokens carry the new kid', async () => {
    const { keyring } = server.server.context;
    const oldKey = keyring.active();
    const old = await issue(server, 'rotation', { provideShortUrls: true });
    const oldCipher = old.host[0]!.cipher;
    assert.equal(headerOf(oldCipher)['kid'], oldKey.kid);

    const newKid = await keyring.rotate(nowSeconds());
    assert.notEqual(newKid, oldKey.kid);
    assert.equal(keyring.active().kid, newKid);
    assert.deepEqual((await storedKeys(server)).map((k) => k.kid).sort(), [oldKey.kid, newKid].sort());

    const fresh = await issue(server, 'rotation', { numGuest: 2 });
    for (const { cipher } of [...fresh.host, ...fresh.guest]) assert.equal(headerOf(cipher)['kid'], newKid);

    // Both open over HTTP, in the same space (same subject).
    const before = await spaceOf(server, oldCipher);
    const after = await spaceOf(server, fresh.guest[0]!.cipher);
    assert.equal(after.spaceId, before.spaceId);
    // The old short link still lands on a valid page.
    const followed = await testFetch(`${server.url}/visit/${old.host[0]!.short}`, { headers: HTML });
    assert.equal(followed.status, 200);
    assert.match(await followed.text(), />Valid</);

    // Independently: each token opens with its own stored key, and not with the other one.
    assert.equal((await openStored(server, oldCipher)).claims['sub'], 'rotation');
    assert.equal((await openStored(server, fresh.host[0]!.cipher)).claims['sub'], 'rotation');
    const newKey = (await storedKeys(server)).find((k) => k.kid === newKid)!;
    await assert.rejects(openWithNodeJose(oldCipher, newKey));
    await assert.rejects(openWithNodeJose(fresh.host[0]!.cipher, oldKey));
  });

  test('the rotation is durable: after a restart the new key issues and both open', async () => {
    const kid = server.server.context.keyring.active().kid;
    const body = await issue(server, 'rotated durable');
    await server.restart();
    assert.equal(server.server.context.keyring.active().kid, kid);
    assert.equal(server.server.context.keyring.size, 2);
    await spaceOf(server, body.host[0]!.cipher);
    const next = await issue(server, 'rotated durable');
    assert.equal(headerOf(next.host[0]!.cipher)['kid'], kid);
  });

  test('a rotation by another process (the CLI) is picked up when a token of the new key arrives', async () => {
    // The CLI rotates in its own context: the running server still issues with its key ...
    const cliKid = await withCliContext(server, (ctx) => ctx.keyring.rotate(nowSeconds()));
    assert.notEqual(server.server.context.keyring.active().kid, cliKid);
    // ... and a token sealed with the CLI's key (by a broker on the same store) opens here.
    const other = await withCliContext(server, async (ctx) => {
      const issued = await ctx.broker.issue(ctx.org, joseBody('cli rotation'), 'v2');
      return issued.links[0]!.cipher;
    });
    assert.equal(headerOf(other)['kid'], cliKid);
    const answer = await spaceOf(server, other);
    assert.equal(answer.organizationId, server.server.context.org.id);
  });
});
