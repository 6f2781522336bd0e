/**
 * Staff sign-in over real HTTP: the sign-in page, wrong keys, the session cookie's attributes,
 * what is stored, Origin checks, CSRF on sign-out, expired, unknown and revoked sessions.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer } from '../../src/main/serve.js';
import { testFetch } from '../support/inject-fetch.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { StaffClient, tagOf } from './helpers.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const cookieValue = (client: StaffClient) => client.cookie!.slice('ic_session='.length);

describe('staff sessions', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('signed out, / is the sign-in form (HTML under the CSP)', async () => {
    const page = await new StaffClient(server.url).get('/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(page.text, /<h1>Sign in<\/h1>/);
    assert.match(page.text, /<form method="post" action="\/session"/);
    assert.match(page.text, /<label for="key">API key<\/label>/);
    assert.match(tagOf(page.text, 'key'), /type="password"/);
    assert.doesNotMatch(page.text, /name="_csrf"/, 'no session, no token');
    assert.doesNotMatch(page.text, /action="\/visits"/, 'no visit form when signed out');
  });

  test('a wrong key: 401 and the sign-in page again with a clear message, no cookie', async () => {
    const client = new StaffClient(server.url);
    for (const key of ['ick_00000000000000000000000000000000', 'not a key', '']) {
      const answer = await client.post('/session', { key });
      assert.equal(answer.status, 401, `key ${JSON.stringify(key)}`);
      assert.match(answer.text, /role="alert"/);
      assert.match(answer.text, key ? /That API key was not accepted/ : /Enter your API key/);
      assert.match(tagOf(answer.text, 'key'), /aria-invalid="true"/);
      assert.equal(answer.setCookies.length, 0);
      if (key) assert.ok(!answer.text.includes(key), 'the key typed is not echoed');
    }
    assert.equal(client.cookie, undefined);
  });

  test('sign in: 303 to /, cookie HttpOnly, SameSite=Strict, Path=/, 8 h, not Secure on http', async () => {
    const client = new StaffClient(server.url);
    const answer = await client.signIn(server.key);
    const line = answer.setCookies.find((c) => c.startsWith('ic_session='));
    assert.ok(line, answer.setCookies.join('\n'));
    const attributes = line.split(';').map((a) => a.trim().toLowerCase());
    assert.ok(attributes.includes('httponly'), line);
    assert.ok(attributes.includes('samesite=strict'), line);
    assert.ok(attributes.includes('path=/'), line);
    assert.ok(attributes.includes('max-age=28800'), line);
    assert.ok(!attributes.includes('secure'), line);
    assert.ok(cookieValue(client).length >= 40, 'a long random value');
    const dashboard = await client.get('/');
    assert.equal(dashboard.status, 200);
    assert.match(dashboard.text, /<h1>New visit<\/h1>/);
  });

  test('the store keeps the SHA-256 of the cookie value, never the value; each sign-in is a new session', async () => {
    const a = new StaffClient(server.url);
    const b = new StaffClient(server.url);
    await a.signIn(server.key);
    await b.signIn(`  Bearer ${server.key} `);
    const store = server.server.context.store;
    const value = cookieValue(a);
    assert.equal(await store.getSession(value), undefined);
    const session = await store.getSession(sha256(value));
    assert.ok(session);
    assert.notEqual(session.csrf, value);
    assert.ok(session.csrf.length >= 40);
    assert.ok(Math.abs(session.expiresAt - session.createdAt - 8 * 3600) <= 1);
    assert.notEqual(cookieValue(a), cookieValue(b));
    assert.notEqual(await a.csrf(), await b.csrf(), 'one CSRF token per session');
  });

  test('a foreign Origin on sign-in: 403, no session; the own origin is accepted', async () => {
    const client = new StaffClient(server.url);
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1']) {
      const answer = await client.post('/session', { key: server.key }, { origin });
      assert.equal(answer.status, 403, origin);
      assert.equal(answer.setCookies.length, 0);
    }
    assert.equal(client.cookie, undefined);
    const sandboxed = await client.post(
      '/session',
      { key: server.key },
      { origin: 'null', 'sec-fetch-site': 'cross-site' },
    );
    assert.equal(sandboxed.status, 403, 'an opaque origin from another site');
    const own = await client.post('/session', { key: server.key }, { origin: server.url });
    assert.equal(own.status, 303);
    assert.ok(client.cookie);
  });

  test('staff pages send the real Origin with their forms: Referrer-Policy same-origin', async () => {
    const page = await new StaffClient(server.url).get('/');
    assert.equal(page.headers.get('referrer-policy'), 'same-origin');
    const link = await testFetch(`${server.url}/visit/nope`, { redirect: 'manual' });
    assert.equal(link.headers.get('referrer-policy'), 'no-referrer', 'visit pages keep no-referrer');
    // A browser that still sends `Origin: null` for this site's own form says so in Sec-Fetch-Site.
    const client = new StaffClient(server.url);
    const answer = await client.post(
      '/session',
      { key: server.key },
      { origin: 'null', 'sec-fetch-site': 'same-origin' },
    );
    assert.equal(answer.status, 303);
  });

  test('sign out needs the CSRF token; then the old cookie no longer works', async () => {
    const client = new StaffClient(server.url);
    await client.signIn(server.key);
    const csrf = await client.csrf();
    const old = client.cookie!;

    assert.equal((await client.post('/session/end', {})).status, 403);
    assert.equal((await client.post('/session/end', { _csrf: `${csrf}x` })).status, 403);
    assert.equal((await client.get('/visits')).status, 200, 'still signed in after refused sign-outs');

    const out = await client.post('/session/end', { _csrf: csrf });
    assert.equal(out.status, 303);
    const cleared = out.setCookies.find((c) => c.startsWith('ic_session='));
    assert.ok(cleared, 'the cookie is cleared');
    assert.match(cleared, /^ic_session=;/);
    assert.match(cleared, /Path=\//);
    assert.equal(out.location, '/');
    assert.equal(client.cookie, undefined, 'the cookie is cleared');
    assert.equal(
      await server.server.context.store.getSession(sha256(old.slice('ic_session='.length))),
      undefined,
    );

    const replay = new StaffClient(server.url);
    replay.cookie = old;
    const list = await replay.get('/visits');
    assert.equal(list.status, 303);
    assert.equal(list.location, '/');
    const home = await replay.get('/');
    assert.match(home.text, /<h1>Sign in<\/h1>/);
  });

  test('unknown, expired and revoked-key sessions are signed out', async () => {
    const store = server.server.context.store;
    const org = server.server.context.org;
    const now = Math.floor(Date.now() / 1000);
    const [record] = (await store.listApiKeys(org.id)).filter((k) => k.revokedAt === undefined);
    assert.ok(record);
    await store.createSession({
      hash: sha256('expired-cookie-value'),
      orgId: org.id,
      apiKeyId: record.id,
      csrf: 'c',
      createdAt: now - 9 * 3600,
      expiresAt: now - 3600,
    });
    for (const value of ['unknown-cookie-value', 'expired-cookie-value']) {
      const client = new StaffClient(server.url);
      client.cookie = `ic_session=${value}`;
      const answer = await client.get('/visits');
      assert.equal(answer.status, 303, value);
      assert.equal(answer.location, '/');
    }
    assert.equal(
      await store.getSession(sha256('expired-cookie-value')),
      undefined,
      'expired sessions are removed',
    );

    const { key, record: other } = await server.server.context.apiKeys.create(org, 'to revoke');
    const client = new StaffClient(server.url);
    await client.signIn(key);
    assert.equal((await client.get('/visits')).status, 200);
    await server.server.context.apiKeys.revoke(org, other.id);
    const answer = await client.get('/visits');
    assert.equal(answer.status, 303, 'the session of a revoked key ends');
    const again = await new StaffClient(server.url).post('/session', { key });
    assert.equal(again.status, 401);
    assert.match(again.text, /revoked/);
  });

  test('signed out, pages redirect (303) to / and forms change nothing', async () => {
    const client = new StaffClient(server.url);
    for (const path of ['/visits', '/visits?tab=past', '/visits/vis_nope', '/visits/vis_nope/cancel']) {
      const answer = await client.get(path);
      assert.equal(answer.status, 303, path);
      assert.equal(answer.location, '/');
    }
    const post = await client.post('/visits', { _csrf: 'x', hosts: '1', guests: '1' });
    assert.equal(post.status, 303);
    assert.equal(post.location, '/');
  });

  test('the JSON API reads no session cookie', async () => {
    const client = new StaffClient(server.url);
    await client.signIn(server.key);
    const answer = await client.get('/api/visits');
    assert.equal(answer.status, 401);
  });
});

describe('staff sessions behind https', () => {
  test('with an https public URL the cookie is Secure, and the public origin is accepted', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ic-staff-https-'));
    const running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      publicUrl: 'https://visits.example.test',
      logger: false,
    });
    try {
      const { key } = await running.context.apiKeys.create(running.context.org, 'https');
      const client = new StaffClient(running.url);
      const answer = await client.post('/session', { key }, { origin: 'https://visits.example.test' });
      assert.equal(answer.status, 303, answer.text);
      const line = answer.setCookies.find((c) => c.startsWith('ic_session='));
      assert.ok(line);
      const attributes = line.split(';').map((a) => a.trim().toLowerCase());
      assert.ok(attributes.includes('secure'), line);
      assert.ok(attributes.includes('httponly'), line);
      assert.ok(attributes.includes('samesite=strict'), line);
      const foreign = await new StaffClient(running.url).post(
        '/session',
        { key },
        { origin: 'http://visits.example.test' },
      );
      assert.equal(foreign.status, 403, 'the same host over http is another origin');
    } finally {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
