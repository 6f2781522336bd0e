/** `keys`: create, list, revoke, rotate-broker in a temporary data directory, and the keys work. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer } from '../support/server.js';
import { jweHeader, removeDir, runCli, show, tempDir } from './run-cli.js';

let cwd: string;

before(() => {
  cwd = tempDir();
});

after(() => removeDir(cwd));

const keys = (data: string, args: string[]) => runCli(['keys', ...args, '--data', data], { cwd });

describe('keys', { concurrency: true }, () => {
  test('create --json, list, revoke: a round trip', async () => {
    const data = join(cwd, 'round-trip');
    const empty = await keys(data, ['list']);
    assert.equal(empty.code, 0, show(empty));
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /No API keys yet/);

    const created = await keys(data, ['create', '--name', 'ehr', '--json']);
    assert.equal(created.code, 0, show(created));
    const record = JSON.parse(created.stdout);
    assert.match(record.id, /^key_[0-9a-f]{12}$/);
    assert.equal(record.name, 'ehr');
    assert.equal(typeof record.key, 'string');
    assert.ok(record.key.length >= 24, 'a long secret');
    assert.ok(record.key.startsWith(record.prefix));
    assert.equal(record.revokedAt, undefined);

    const plain = await keys(data, ['create', '--name', 'ci']);
    assert.equal(plain.code, 0, show(plain));
    const secondKey = plain.stdout.trim();
    assert.match(plain.stderr, /Created API key key_[0-9a-f]{12} \(ci\)\. It is shown once/);
    assert.doesNotMatch(plain.stderr, new RegExp(secondKey), 'the key goes to stdout only');

    const listed = await keys(data, ['list']);
    assert.equal(listed.code, 0, show(listed));
    const lines = listed.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED$/);
    assert.equal(lines.length, 3);
    const ehr = lines.find((l) => l.startsWith(record.id));
    assert.ok(ehr, listed.stdout);
    assert.match(
      ehr,
      new RegExp(`^${record.id}\\s+ehr\\s+${record.prefix}…\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+-\\s+-$`),
    );
    assert.ok(!listed.stdout.includes(record.key), 'list never shows a key');
    assert.ok(!listed.stdout.includes(secondKey), 'list never shows a key');

    const revoked = await keys(data, ['revoke', record.id]);
    assert.equal(revoked.code, 0, show(revoked));
    assert.match(revoked.stderr, new RegExp(`Revoked ${record.id}`));

    const json = await keys(data, ['list', '--json']);
    assert.equal(json.code, 0, show(json));
    const all = JSON.parse(json.stdout) as any[];
    assert.equal(all.length, 2);
    const after = all.find((k) => k.id === record.id);
    assert.equal(typeof after.revokedAt, 'number');
    assert.equal(all.find((k) => k.id !== record.id).revokedAt, undefined);
    assert.ok(!json.stdout.includes(record.key));

    const again = await keys(data, ['revoke', record.id]);
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, new RegExp(`No active API key with id ${record.id}`));
  });

  test('revoke of an unknown id exits 1', async () => {
    const r = await keys(join(cwd, 'unknown'), ['revoke', 'nope']);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^error: No active API key with id nope$/m);
  });

  test('create without --name exits 2', async () => {
    const r = await keys(join(cwd, 'no-name'), ['create']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--name/);
  });

  test('rotate-broker: new tokens carry the new kid, older tokens still open', async () => {
    const data = join(cwd, 'rotate');
    const first = await runCli(
      ['links', '--data', data, '--iterations', '1000', '--field', 'guests.0.cipher'],
      { cwd },
    );
    assert.equal(first.code, 0, show(first));
    const oldCipher = first.stdout.trim();

    const rotated = await keys(data, ['rotate-broker', '--json']);
    assert.equal(rotated.code, 0, show(rotated));
    const { kid, keys: count } = JSON.parse(rotated.stdout);
    assert.equal(count, 2);
    assert.notEqual(kid, jweHeader(oldCipher)['kid']);

    const plain = await keys(data, ['rotate-broker']);
    assert.equal(plain.code, 0, show(plain));
    assert.match(plain.stderr, /New broker key \S+ issues tokens from now on; 2 older key\(s\)/);
    const newest = /New broker key (\S+)/.exec(plain.stderr)![1];

    const second = await runCli(
      ['links', '--data', data, '--iterations', '1000', '--field', 'guests.0.cipher'],
      { cwd },
    );
    assert.equal(second.code, 0, show(second));
    assert.equal(jweHeader(second.stdout.trim())['kid'], newest);

    const decoded = await runCli(['decode', oldCipher, '--data', data], { cwd });
    assert.equal(decoded.code, 0, show(decoded));
    assert.match(decoded.stdout, /^validity:\s+valid$/m, 'the old key still opens its tokens');
  });

  test('a key made by keys create works on a running server', async () => {
    const data = join(cwd, 'served');
    const created = await keys(data, ['create', '--name', 'app', '--json']);
    assert.equal(created.code, 0, show(created));
    const { key } = JSON.parse(created.stdout);
    const server = await startTestServer({ dataDir: data });
    try {
      const r = await runCli(['links', '--broker', server.url, '--iterations', '1000', '--json'], {
        cwd,
        env: { WEBEX_TOKEN: key },
      });
      assert.equal(r.code, 0, show(r));
      assert.equal(JSON.parse(r.stdout).guests.length, 1);
      const list = await keys(data, ['list', '--json']);
      const used = (JSON.parse(list.stdout) as any[]).find((k) => k.name === 'app');
      assert.equal(typeof used.lastUsedAt, 'number', 'the server recorded the use');
    } finally {
      await server.close();
    }
  });
});
