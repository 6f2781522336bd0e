/**
 * `keys`: create, list, revoke, rotate-broker in a temporary data directory, and the keys work;
 * export-broker, whose JWKs open the broker's tokens in node-jose and in Debian's python3-jwcrypto.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import jose from 'node-jose';
import { AUDIENCE, ENCS, JWE_ALGS, JWS_ALGS } from '../../src/domain/constants.js';
import { openBrokerContext } from '../../src/main/container.js';
import { AT_ONCE } from '../support/concurrency.js';
import { startTestServer } from '../support/server.js';
import { jweHeader, ROOT, removeDir, runCli, show, tempDir } from './run-cli.js';

let cwd: string;

before(() => {
  cwd = tempDir();
});

after(() => removeDir(cwd));

const keys = (data: string, args: string[]) => runCli(['keys', ...args, '--data', data], { cwd });

describe('keys', { concurrency: AT_ONCE }, () => {
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

/** Debian's python3 with jwcrypto (python3-jwcrypto), for the consumer script in fixtures/. */
const PYTHON = '/usr/bin/python3';
const OPEN_TOKEN_PY = join(ROOT, 'test', 'cli', 'fixtures', 'open-token.py');
const run = promisify(execFile);
const jwcrypto = existsSync(PYTHON)
  ? await run(PYTHON, ['-c', 'import jwcrypto.jwt']).then(
      () => true,
      () => false,
    )
  : false;
if (!jwcrypto && process.env['CI'])
  throw new Error('CI needs python3-jwcrypto for the keys export-broker test (.ci/run installs it)');

interface Jwk {
  kty: string;
  k: string;
  kid?: string;
  use: string;
  [member: string]: unknown;
}
interface Issued {
  subject: string;
  expiresAt: number;
  hosts: Array<{ role: string; cipher: string }>;
  guests: Array<{ role: string; cipher: string }>;
}
interface Token {
  cipher: string;
  role: string;
  subject: string;
  exp: number;
  jweAlg: string;
}

/** Every PBES2 variant, each with another enc and jwsAlg; the last with the random p2c up to 32767. */
const ISSUES = [
  ['PBES2-HS256+A128KW', 'A128CBC-HS256', 'HS256', ['--iterations', '1000']],
  ['PBES2-HS384+A192KW', 'A192GCM', 'HS384', ['--iterations', '1000']],
  ['PBES2-HS512+A256KW', 'A256CBC-HS512', 'HS512', []],
] as const;

const withoutKid = (set: { keys: Jwk[] }) => ({ keys: set.keys.map(({ kid: _kid, ...jwk }) => jwk) });

/** The claims a consumer relies on, as each token was issued. */
function assertClaims(claims: Record<string, unknown>, token: Token, header: Record<string, unknown>) {
  assert.equal(claims['sub'], token.subject);
  assert.equal(claims['aud'], AUDIENCE);
  assert.equal(claims['role'], token.role);
  assert.equal(claims['exp'], token.exp);
  assert.equal(claims['iss'], header['iss']);
  assert.ok((claims['exp'] as number) > Date.now() / 1000);
}

describe('keys export-broker', () => {
  const data = () => join(cwd, 'export');
  const tokens: Token[] = [];
  let exported: { keys: Jwk[] };
  let exportedJson: Record<string, unknown> & { keys: Jwk[] };
  let exportedStderr: string;

  before(async () => {
    // Issued one after the other: the first call creates the broker key.
    for (const [jweAlg, enc, jwsAlg, extra] of ISSUES) {
      const r = await runCli(
        [
          'links',
          '--data',
          data(),
          '--subject',
          `Export ${jweAlg}`,
          '--ttl',
          '30m',
          '--jwe-alg',
          jweAlg,
        ].concat(['--enc', enc, '--jws-alg', jwsAlg, ...extra, '--json']),
        { cwd },
      );
      assert.equal(r.code, 0, show(r));
      const issued = JSON.parse(r.stdout) as Issued;
      for (const link of [...issued.hosts, ...issued.guests])
        tokens.push({
          cipher: link.cipher,
          role: link.role,
          subject: issued.subject,
          exp: issued.expiresAt,
          jweAlg,
        });
    }
    const plain = await keys(data(), ['export-broker']);
    assert.equal(plain.code, 0, show(plain));
    exported = JSON.parse(plain.stdout);
    exportedStderr = plain.stderr;
    const json = await keys(data(), ['export-broker', '--json']);
    assert.equal(json.code, 0, show(json));
    exportedJson = JSON.parse(json.stdout);
  });

  test("prints the active key as a JWK Set (oct, use enc with the tokens' kid, use sig), once, the warning on stderr", () => {
    const kid = jweHeader(tokens[0]!.cipher)['kid'] as string;
    assert.equal(exported.keys.length, 2);
    const [encryption, signing] = exported.keys;
    assert.deepEqual(Object.keys(encryption!), ['kty', 'k', 'kid', 'use']);
    assert.deepEqual({ ...encryption, k: '' }, { kty: 'oct', k: '', kid, use: 'enc' });
    assert.deepEqual({ ...signing, k: '' }, { kty: 'oct', k: '', kid: `${kid}.sig`, use: 'sig' });
    assert.equal(Buffer.from(encryption!.k, 'base64url').length, 32);
    assert.equal(Buffer.from(signing!.k, 'base64url').length, 64);
    assert.match(exportedStderr, /Whoever holds them can open every token it sealed and forge new ones/);
    assert.match(exportedStderr, new RegExp(`Broker key ${kid} is active`));
    for (const jwk of exported.keys) assert.ok(!exportedStderr.includes(jwk.k), 'secrets go to stdout only');
    assert.deepEqual(exportedJson.keys, exported.keys);
    assert.equal(exportedJson['kid'], kid);
    assert.equal(exportedJson['state'], 'active');
    assert.equal(typeof exportedJson['createdAt'], 'number');
  });

  for (const variant of ['with kid', 'without kid'] as const) {
    test(`node-jose opens and verifies every token with the exported JWKs, ${variant}`, async () => {
      assert.equal(new Set(tokens.map((t) => t.jweAlg)).size, 3);
      const set = variant === 'with kid' ? exported : withoutKid(exported);
      const [encryption, signing] = set.keys;
      // With kids, a key store finds the key by the header's kid (and use); without, each key is handed over.
      const store = await jose.JWK.asKeyStore(set);
      const password = variant === 'with kid' ? store : await jose.JWK.asKey(encryption!);
      const hmac = variant === 'with kid' ? store : await jose.JWK.asKey(signing!);
      for (const token of tokens) {
        const decrypted = await jose.JWE.createDecrypt(password, {
          algorithms: [...JWE_ALGS, ...ENCS],
        }).decrypt(token.cipher);
        assert.equal(decrypted.header['alg'], token.jweAlg);
        const verified = await jose.JWS.createVerify(hmac, { algorithms: [...JWS_ALGS] }).verify(
          decrypted.payload.toString(),
        );
        assertClaims(JSON.parse(verified.payload.toString()), token, decrypted.header);
      }
    });

    test(`python3 jwcrypto opens and verifies every token with the exported JWKs, ${variant}`, {
      skip: jwcrypto ? false : 'python3-jwcrypto not installed (apt-get install python3-jwcrypto)',
    }, async () => {
      const file = join(cwd, `jwks-${variant.replace(' ', '-')}.json`);
      writeFileSync(file, JSON.stringify(variant === 'with kid' ? exported : withoutKid(exported)), {
        mode: 0o600,
      });
      const child = run(PYTHON, [OPEN_TOKEN_PY, file], { encoding: 'utf8', timeout: 20_000 });
      child.child.stdin!.end(tokens.map((t) => t.cipher).join('\n'));
      const { stdout } = await child;
      const lines = stdout.trimEnd().split('\n');
      assert.equal(lines.length, tokens.length, stdout);
      for (const [i, token] of tokens.entries())
        assertClaims(JSON.parse(lines[i]!), token, jweHeader(token.cipher));
    });
  }

  test("python3 jwcrypto refuses the tokens with another broker's JWKs", {
    skip: jwcrypto ? false : 'python3-jwcrypto not installed (apt-get install python3-jwcrypto)',
  }, async () => {
    const other = await keys(join(cwd, 'export-other'), ['export-broker']);
    assert.equal(other.code, 0, show(other));
    const file = join(cwd, 'jwks-other.json');
    writeFileSync(file, other.stdout, { mode: 0o600 });
    const child = run(PYTHON, [OPEN_TOKEN_PY, file], { encoding: 'utf8', timeout: 20_000 });
    child.child.stdin!.end(tokens[0]!.cipher);
    await assert.rejects(child, (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr ?? '', /^refused: /);
      return true;
    });
  });

  test('docs/token-format.md shows the consumer script this suite runs, as it is', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'token-format.md'), 'utf8');
    const block = /```python\n([\s\S]*?)```/.exec(doc);
    assert.ok(block, 'a python block in docs/token-format.md');
    assert.equal(block[1], readFileSync(OPEN_TOKEN_PY, 'utf8'));
  });

  test('--kid picks an older key, which says whether it still opens or is retired; an unknown kid exits 2', async () => {
    const dir = join(cwd, 'export-kid');
    // Rotated two hours ago with no link recorded: the first key retired 20 minutes after that.
    // Then once more now: the second key no longer issues but still opens.
    const ctx = await openBrokerContext({ dataDir: dir, publicUrl: 'http://127.0.0.1' });
    const now = Math.floor(Date.now() / 1000);
    let retired: string;
    let opening: string;
    try {
      retired = ctx.keyring.active().kid;
      opening = await ctx.keyring.rotate(now - 7200);
      await ctx.keyring.rotate(now);
    } finally {
      await ctx.close();
    }

    const old = await keys(dir, ['export-broker', '--kid', retired, '--json']);
    assert.equal(old.code, 0, show(old));
    const oldSet = JSON.parse(old.stdout);
    assert.equal(oldSet.kid, retired);
    assert.equal(oldSet.state, 'retired');
    assert.equal(oldSet.keys[0].kid, retired);
    assert.match(
      old.stderr,
      new RegExp(`Broker key ${retired} is retired \\(since \\S+Z\\): this broker opens nothing with it`),
    );

    const middle = await keys(dir, ['export-broker', '--kid', opening]);
    assert.equal(middle.code, 0, show(middle));
    assert.equal(JSON.parse(middle.stdout).keys[0].kid, opening);
    assert.match(
      middle.stderr,
      new RegExp(`Broker key ${opening} no longer issues; it opens the tokens it sealed until \\S+Z`),
    );
    assert.notEqual(JSON.parse(middle.stdout).keys[0].k, oldSet.keys[0].k);

    const unknown = await keys(dir, ['export-broker', '--kid', 'nope']);
    assert.equal(unknown.code, 2, show(unknown));
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^error: No broker key with kid nope; the broker holds \S+ \(active\), /m);
    assert.doesNotMatch(unknown.stderr, /Warning/);
  });
});
