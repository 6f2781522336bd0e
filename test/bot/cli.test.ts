/**
 * The built CLI as people run it (`node dist/cli/main.js`, a child process), against the Webex
 * emulator: `webhook register|list|delete` and `hooks create|list|revoke`, and a server on the same
 * data directory that then accepts what they set up. Run `npm run build` first.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliResult, removeDir, runCli, show, tempDir } from '../cli/run-cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { messageDelivery, startWebexEmulator, type WebexEmulator } from '../support/webex-emulator.js';
import { assertNoSecretHeard, FAST_JOBS, heard, request, secrets, signedDeliveryTo } from './helpers.js';

let emulator: WebexEmulator;
let dir: string;
before(async () => {
  emulator = await startWebexEmulator();
  secrets.add(emulator.token);
  dir = tempDir('ic-bot-cli-');
});
after(async () => {
  await emulator?.close();
  if (dir) removeDir(dir);
  assertNoSecretHeard();
});

const TARGET = 'https://x.example/hooks/webex';

/** The CLI with the bot token and the emulator as the Webex API; its output is checked for secrets. */
async function cli(args: string[], options: { record?: boolean } = {}): Promise<CliResult> {
  const result = await runCli(args, {
    env: { WEBEX_TOKEN: emulator.token, WEBEX_API_URL: emulator.apiUrl },
  });
  if (options.record !== false) heard(`instant-connect ${args.join(' ')}`, result.stdout + result.stderr);
  return result;
}

const ours = () => emulator.webhooks.filter((w) => w.name.startsWith('instant-connect'));

describe('instant-connect webhook', () => {
  let data: string;
  let server: TestServer | undefined;
  const foreign: string[] = [];
  before(() => {
    data = join(dir, 'webhook-data');
    // Another app's webhooks of the same bot, enough to need a second page (the CLI asks max=100).
    for (let i = 0; i < 130; i++) {
      foreign.push(
        emulator.seedWebhook({
          name: `other-app hook ${i}`,
          targetUrl: `https://other.example/hook/${i}`,
          secret: `other-app-secret-${i}-0123456789`,
        }).id,
      );
    }
  });
  after(async () => {
    await server?.close();
  });

  test('register: two webhooks (messages, attachmentActions) with one generated secret, stored for serve', async () => {
    const result = await cli(['webhook', 'register', '--url', TARGET, '--data', data]);
    assert.equal(result.code, 0, show(result));
    const made = ours();
    assert.equal(made.length, 2, 'two webhooks');
    assert.deepEqual(made.map((w) => `${w.resource}/${w.event}`).sort(), [
      'attachmentActions/created',
      'messages/created',
    ]);
    for (const w of made) assert.equal(w.targetUrl, TARGET);
    const secret = made[0]!.secret!;
    assert.ok(secret && secret.length >= 32, 'a long generated secret');
    assert.equal(made[1]!.secret, secret, 'the same secret for both');
    secrets.add(secret);
    for (const w of made) assert.ok(result.stdout.includes(w.id), `prints ${w.id}`);
    // The calls carried the bot token.
    const creates = emulator.callsTo('POST', '/webhooks');
    assert.equal(creates.length, 2);
    for (const c of creates) assert.equal(c.headers.authorization, `Bearer ${emulator.token}`);

    // A server on that directory checks X-Spark-Signature with the stored secret.
    server = await startTestServer({
      dataDir: data,
      webex: { token: emulator.token, apiUrl: emulator.apiUrl },
      jobs: FAST_JOBS,
    });
    secrets.add(server.key);
    const pat = emulator.addPerson();
    const message = emulator.seedMessage({ from: pat, text: 'help' });
    const accepted = await signedDeliveryTo(server, secret, messageDelivery(message));
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.body.accepted, true);
    await emulator.waitForMessages((m) => m.roomId === pat.directRoomId, 1, 'the reply');
    const refused = await signedDeliveryTo(
      server,
      'not-the-registered-secret',
      messageDelivery(emulator.seedMessage({ from: pat, text: 'help' })),
    );
    assert.equal(refused.status, 401, refused.text);
  });

  test('register again: the webhooks are replaced (new ids, a new secret); others untouched', async () => {
    const before = ours();
    const oldSecret = before[0]!.secret!;
    const result = await cli(['webhook', 'register', '--url', TARGET, '--data', data]);
    assert.equal(result.code, 0, show(result));
    assert.match(result.stderr, /replaced 2/);
    const now = ours();
    assert.equal(now.length, 2, 'still two');
    for (const w of before) assert.ok(!now.some((n) => n.id === w.id), 'the old ones are deleted');
    const secret = now[0]!.secret!;
    secrets.add(secret);
    assert.notEqual(secret, oldSecret, 'a new secret');
    assert.equal(now[1]!.secret, secret);
    assert.equal(emulator.webhooks.length, foreign.length + 2, 'the other app\u2019s webhooks are all there');
    // The running server follows the stored secret: the new one passes, the old one no longer does.
    const pat = emulator.addPerson();
    const fresh = await signedDeliveryTo(
      server!,
      secret,
      messageDelivery(emulator.seedMessage({ from: pat, text: 'help' })),
    );
    assert.equal(fresh.status, 200, fresh.text);
    const stale = await signedDeliveryTo(
      server!,
      oldSecret,
      messageDelivery(emulator.seedMessage({ from: pat, text: 'help' })),
    );
    assert.equal(stale.status, 401, stale.text);
  });

  test('list: only ours, every page followed, never a secret', async () => {
    const mine = ours().map((w) => w.id);
    const text = await cli(['webhook', 'list']);
    assert.equal(text.code, 0, show(text));
    for (const id of mine) assert.ok(text.stdout.includes(id), `lists ${id}`);
    for (const id of foreign) assert.ok(!text.stdout.includes(id), 'not another app\u2019s');
    const json = await cli(['webhook', 'list', '--json']);
    assert.equal(json.code, 0, show(json));
    const items = JSON.parse(json.stdout);
    assert.deepEqual(items.map((w: any) => w.id).sort(), [...mine].sort());
    for (const w of items) assert.equal(w.secret, undefined, 'no secret field');
    const all = await cli(['webhook', 'list', '--all', '--json']);
    assert.equal(all.code, 0, show(all));
    assert.equal(JSON.parse(all.stdout).length, foreign.length + 2, 'both pages');
    for (const w of JSON.parse(all.stdout)) assert.equal(w.secret, undefined);
    assert.ok(
      emulator.calls.some((c) => c.method === 'GET' && c.path === '/webhooks' && c.url.includes('cursor=')),
      'the second page was asked for',
    );
  });

  test('delete: refuses another app\u2019s webhook without --force; deletes ours', async () => {
    const victim = foreign[0]!;
    const refused = await cli(['webhook', 'delete', victim]);
    assert.notEqual(refused.code, 0, show(refused));
    assert.match(refused.stderr, /--force/);
    assert.ok(
      emulator.webhooks.some((w) => w.id === victim),
      'still there',
    );
    assert.equal(emulator.callsTo('DELETE', `/webhooks/${victim}`).length, 0, 'not even attempted');
    const forced = await cli(['webhook', 'delete', victim, '--force']);
    assert.equal(forced.code, 0, show(forced));
    assert.ok(!emulator.webhooks.some((w) => w.id === victim), 'deleted with --force');
    const mine = ours()[0]!.id;
    const deleted = await cli(['webhook', 'delete', mine]);
    assert.equal(deleted.code, 0, show(deleted));
    assert.ok(!emulator.webhooks.some((w) => w.id === mine));
    const unknown = await cli(['webhook', 'delete', 'Y2lzY29zcGFyazovL3VzL1dFQkhPT0svbm9uZQ']);
    assert.notEqual(unknown.code, 0, show(unknown));
  });

  test('without a token: a clear error, nothing called', async () => {
    const calls = emulator.calls.length;
    const result = await runCli(['webhook', 'list'], { env: { WEBEX_API_URL: emulator.apiUrl } });
    heard('webhook list (no token)', result.stdout + result.stderr);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /WEBEX_TOKEN/);
    assert.equal(emulator.calls.length, calls);
  });
});

describe('instant-connect hooks', () => {
  let data: string;
  let server: TestServer | undefined;
  after(async () => {
    await server?.close();
  });

  test('create --json prints the id and the secret once; list never shows it; revoke stops it', async () => {
    data = join(dir, 'hooks-data');
    // This output carries the secret by design (shown once): not part of the transcript checked.
    const created = await cli(['hooks', 'create', '--name', 'ehr', '--json', '--data', data], {
      record: false,
    });
    assert.equal(created.code, 0, show(created));
    const hook = JSON.parse(created.stdout);
    assert.match(hook.id, /^hook_/);
    assert.equal(hook.name, 'ehr');
    assert.equal(typeof hook.secret, 'string');
    assert.ok(hook.secret.length >= 32);
    secrets.add(hook.secret);

    const list = await cli(['hooks', 'list', '--data', data]);
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, new RegExp(`${hook.id}\\s+ehr`));
    const listJson = await cli(['hooks', 'list', '--json', '--data', data]);
    const items = JSON.parse(listJson.stdout);
    assert.equal(items.length, 1);
    assert.equal(items[0].id, hook.id);
    assert.equal(items[0].secret, undefined);

    // The secret signs requests to a server on that directory.
    server = await startTestServer({ dataDir: data });
    secrets.add(server.key);
    const send = (subject: string) => {
      const raw = JSON.stringify({ subject, crypto: { iterations: 1000 } });
      const ts = Math.floor(Date.now() / 1000);
      return request(server!, 'POST', '/hooks/visits', {
        raw,
        key: null,
        headers: {
          'x-ic-hook': hook.id,
          'x-ic-timestamp': String(ts),
          'x-ic-signature': `v1=${createHmac('sha256', hook.secret).update(`${ts}.${raw}`).digest('hex')}`,
        },
      });
    };
    const ok = await send('signed by a CLI hook');
    assert.equal(ok.status, 201, ok.text);

    const revoked = await cli(['hooks', 'revoke', hook.id, '--data', data]);
    assert.equal(revoked.code, 0, show(revoked));
    const refused = await send('after the revocation');
    assert.equal(refused.status, 401, refused.text);
    const after = await cli(['hooks', 'list', '--data', data]);
    assert.match(after.stdout, /\(revoked\)/);
    const again = await cli(['hooks', 'revoke', hook.id, '--data', data]);
    assert.notEqual(again.code, 0, 'revoking twice is an error');
  });

  test('rotate --grace: a new secret printed once, the old one still accepted until the grace ends; --grace 0 refuses it at once', async () => {
    const rotData = join(dir, 'hooks-rotate-data');
    const created = await cli(['hooks', 'create', '--name', 'rotating', '--json', '--data', rotData], {
      record: false,
    });
    assert.equal(created.code, 0, show(created));
    const hook = JSON.parse(created.stdout);
    secrets.add(hook.secret);
    const rotServer = await startTestServer({ dataDir: rotData });
    secrets.add(rotServer.key);
    try {
      let n = 0;
      const send = (secret: string) => {
        const raw = JSON.stringify({ subject: `rotation ${n++}`, crypto: { iterations: 1000 } });
        const ts = Math.floor(Date.now() / 1000);
        return request(rotServer, 'POST', '/hooks/visits', {
          raw,
          key: null,
          headers: {
            'x-ic-hook': hook.id,
            'x-ic-timestamp': String(ts),
            'x-ic-signature': `v1=${createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex')}`,
          },
        });
      };
      const rotated = await cli(['hooks', 'rotate', hook.id, '--grace', '1h', '--json', '--data', rotData], {
        record: false,
      });
      assert.equal(rotated.code, 0, show(rotated));
      const next = JSON.parse(rotated.stdout);
      secrets.add(next.secret);
      assert.equal(next.id, hook.id);
      assert.notEqual(next.secret, hook.secret);
      assert.ok(Math.abs(next.previousSecretUntil - (Date.now() / 1000 + 3600)) < 120, rotated.stdout);
      assert.equal((await send(next.secret)).status, 201, 'the new secret at once');
      assert.equal((await send(hook.secret)).status, 201, 'the old one during the grace period');
      const listed = await cli(['hooks', 'list', '--data', rotData]);
      assert.match(listed.stdout, /previous secret accepted until/);
      assert.ok(!listed.stdout.includes(next.secret) && !listed.stdout.includes(hook.secret));

      const last = await cli(['hooks', 'rotate', hook.id, '--grace', '0', '--data', rotData], {
        record: false,
      });
      assert.equal(last.code, 0, show(last));
      const newest = /secret: (\S+)/.exec(last.stdout)?.[1];
      assert.ok(newest, last.stdout);
      secrets.add(newest);
      assert.equal((await send(next.secret)).status, 401, 'no grace: the previous secret is refused');
      assert.equal((await send(hook.secret)).status, 401);
      assert.equal((await send(newest)).status, 201);

      const bad = await cli(['hooks', 'rotate', hook.id, '--grace', 'soon', '--data', rotData]);
      assert.equal(bad.code, 2, show(bad));
      assert.match(bad.stderr, /--grace/);
      const unknown = await cli(['hooks', 'rotate', 'hook_nope', '--data', rotData]);
      assert.notEqual(unknown.code, 0, show(unknown));
      assert.match(unknown.stderr, /No active hook/);
    } finally {
      await rotServer.close();
    }
  });
});
