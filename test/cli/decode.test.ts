/** `decode`: what a link is, its JWE header, and for links of the local broker its claims and validity. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBrokerContext } from '../../src/main/container.js';
import { jweHeader, removeDir, runCli, show, tempDir } from './run-cli.js';

const AUDIENCE = 'a4d886b0-979f-4e2c-a958-3e8c14605e51';
const CISCO_ORG = '1eb65fdf-9643-417f-9974-ad72cae0e10f';

let cwd: string;
let data: string;
let made: any;

/** A token as Cisco's broker writes it: its header order, no kid, random content. */
function ciscoLikeCipher(): string {
  const header = {
    p2s: randomBytes(32).toString('base64url'),
    p2c: 12345,
    aud: AUDIENCE,
    iss: CISCO_ORG,
    cty: 'JWT',
    enc: 'A256GCM',
    alg: 'PBES2-HS512+A256KW',
  };
  const seg = (n: number) => randomBytes(n).toString('base64url');
  return [
    Buffer.from(JSON.stringify(header)).toString('base64url'),
    seg(40),
    seg(12),
    seg(200),
    seg(16),
  ].join('.');
}

const decode = (link: string, extra: string[] = [], dir = cwd) =>
  runCli(['decode', link, ...extra], { cwd: dir });

before(async () => {
  cwd = tempDir();
  data = join(cwd, 'd');
  const r = await runCli(
    [
      'links',
      '--data',
      data,
      '--subject',
      'decode me',
      '--short',
      '--iterations',
      '1000',
      '--salt-length',
      '20',
      '--device',
      'room@example.room.wbx2.com',
      '--json',
    ],
    { cwd },
  );
  assert.equal(r.code, 0, show(r));
  made = JSON.parse(r.stdout);
});

after(() => removeDir(cwd));

describe('decode', () => {
  test('a short URL of the local broker: form, header, claims, valid', async () => {
    const guest = made.guests[0];
    const r = await decode(guest.shortUrl, ['--data', data]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^form:\s+short on http:\/\/127\.0\.0\.1:8080$/m);
    assert.match(r.stdout, new RegExp(`^short code:\\s+${guest.short}$`, 'm'));
    assert.match(r.stdout, /^alg \/ enc:\s+PBES2-HS512\+A256KW \/ A256GCM$/m);
    assert.match(r.stdout, /^salt:\s+20 bytes\s+iterations \(p2c\): 1000$/m);
    assert.match(r.stdout, new RegExp(`^aud:\\s+${AUDIENCE}$`, 'm'));
    assert.match(r.stdout, /^kid:\s+\S+ \(a token of this project's broker\)$/m);
    assert.match(r.stdout, /^subject:\s+decode me$/m);
    assert.match(r.stdout, /^role:\s+guest$/m);
    assert.match(r.stdout, /^devices:\s+.*room@example\.room\.wbx2\.com/m);
    assert.match(r.stdout, /^validity:\s+valid$/m);
  });

  test('a long URL of a host', async () => {
    const r = await decode(made.hosts[0].longUrl, ['--data', data]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^form:\s+long on http:\/\/127\.0\.0\.1:8080$/m);
    assert.match(r.stdout, /^page:\s+\/hc\/v1\/login$/m);
    assert.match(r.stdout, /^subject:\s+decode me$/m);
    assert.match(r.stdout, /^role:\s+host$/m);
    assert.match(r.stdout, /^validity:\s+valid$/m);
  });

  test('the forced-login URL', async () => {
    const r = await decode(made.hosts[0].forcedLoginUrl, ['--data', data]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^form:\s+forced-login on /m);
    assert.match(r.stdout, /^role:\s+host$/m);
  });

  test('a bare cipher, with DATA_DIR naming the data', async () => {
    const r = await runCli(['decode', made.guests[0].cipher], { cwd, env: { DATA_DIR: data } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^form:\s+cipher$/m);
    assert.match(r.stdout, /^role:\s+guest$/m);
    assert.match(r.stdout, /^validity:\s+valid$/m);
  });

  test('--json', async () => {
    const guest = made.guests[0];
    const r = await decode(guest.shortUrl, ['--data', data, '--json']);
    assert.equal(r.code, 0, show(r));
    const report = JSON.parse(r.stdout);
    assert.equal(report.form, 'short');
    assert.equal(report.origin, 'http://127.0.0.1:8080');
    assert.equal(report.short, guest.short);
    assert.deepEqual(report.header, jweHeader(guest.cipher));
    assert.equal(report.header.alg, 'PBES2-HS512+A256KW');
    assert.equal(report.header.enc, 'A256GCM');
    assert.equal(report.header.p2c, 1000);
    assert.equal(report.saltLength, 20);
    assert.equal(report.local.found, true);
    assert.equal(report.local.role, 'guest');
    assert.equal(report.local.validity, 'valid');
    assert.equal(report.local.claims.sub, 'decode me');
    assert.equal(report.local.claims.role, 'guest');
    assert.equal(report.local.claims.exp, made.expiresAt);
    assert.equal(report.local.claims.aud, AUDIENCE);
  });

  test('a link that is not open yet', async () => {
    const r = await runCli(
      ['links', '--data', data, '--start', '+2h', '--iterations', '1000', '--field', 'guests.0.longUrl'],
      { cwd },
    );
    assert.equal(r.code, 0, show(r));
    const d = await decode(r.stdout.trim(), ['--data', data]);
    assert.equal(d.code, 0, show(d));
    assert.match(d.stdout, /^validity:\s+not yet valid: opens at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    // Its claims too.
    assert.match(d.stdout, /^role:\s+guest$/m);
    assert.match(d.stdout, /^window:\s+\d{4}-.* → \d{4}-/m);
    assert.match(d.stdout, /^state:\s+scheduled \(the visit\)$/m);
  });

  test('an expired link', async () => {
    // A few seconds of life: enough for the CLI to issue it even on a busy machine.
    const r = await runCli(['links', '--data', data, '--ttl', '4s', '--iterations', '1000', '--json'], {
      cwd,
    });
    assert.equal(r.code, 0, show(r));
    const { expiresAt, guests } = JSON.parse(r.stdout);
    await sleep(Math.max(0, expiresAt * 1000 - Date.now()) + 1100);
    const d = await decode(guests[0].cipher, ['--data', data]);
    assert.equal(d.code, 0, show(d));
    const iso = new Date(expiresAt * 1000).toISOString().replace('.000Z', 'Z');
    assert.match(d.stdout, new RegExp(`^validity:\\s+expired at ${iso}$`, 'm'));
    // Its claims too.
    assert.match(d.stdout, /^role:\s+guest$/m);
    assert.match(d.stdout, /^state:\s+no_show \(the visit\)$/m, 'nobody came: a no-show');
  });

  test('a Cisco link without local data: the header, and a note that its claims cannot be read', async () => {
    const dir = tempDir();
    try {
      const cipher = ciscoLikeCipher();
      const r = await decode(`https://instant.webex.com/hc/v1/talk?int=jose&v=1&data=${cipher}`, [], dir);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /^form:\s+long on https:\/\/instant\.webex\.com$/m);
      assert.match(r.stdout, /^page:\s+\/hc\/v1\/talk$/m);
      assert.match(r.stdout, /^alg \/ enc:\s+PBES2-HS512\+A256KW \/ A256GCM$/m);
      assert.match(r.stdout, /^salt:\s+32 bytes\s+iterations \(p2c\): 12345$/m);
      assert.match(r.stdout, new RegExp(`^iss:\\s+${CISCO_ORG}$`, 'm'));
      assert.match(r.stdout, /claims of Cisco's tokens cannot be read/);
      assert.doesNotMatch(r.stdout, /^(kid|subject|role|validity):/m);
      assert.ok(!existsSync(join(dir, 'data')), 'decode does not create a data directory');
    } finally {
      removeDir(dir);
    }
  });

  test('a Cisco link with local data: not a link of this broker', async () => {
    const r = await decode(ciscoLikeCipher(), ['--data', data, '--json']);
    assert.equal(r.code, 0, show(r));
    const report = JSON.parse(r.stdout);
    assert.equal(report.form, 'cipher');
    assert.equal(report.header.iss, CISCO_ORG);
    assert.equal(report.local.found, false);
    assert.match(report.local.reason, /not a link of the local broker/);
  });

  test('a short URL unknown to the local data: said, and exit 1', async () => {
    const r = await decode('http://127.0.0.1:8080/visit/Zz9Zz9Z', ['--data', data]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /short code Zz9Zz9Z is not in the local broker's data/);
    const json = await decode('http://127.0.0.1:8080/visit/Zz9Zz9Z', ['--data', data, '--json']);
    assert.equal(json.code, 1, show(json));
    assert.equal(JSON.parse(json.stdout).local.found, false);
    // With no local data at all, a short code names nothing either.
    const dir = tempDir();
    try {
      const none = await decode('http://127.0.0.1:8080/visit/Zz9Zz9Z', [], dir);
      assert.equal(none.code, 1, show(none));
      assert.match(none.stdout, /short code Zz9Zz9Z is not in the local broker's data/);
    } finally {
      removeDir(dir);
    }
  });

  test('a link of a cancelled visit: header, claims and state cancelled, exit 0', async () => {
    const r = await runCli(
      ['links', '--data', data, '--subject', 'to cancel', '--short', '--iterations', '1000', '--json'],
      { cwd },
    );
    assert.equal(r.code, 0, show(r));
    const links = JSON.parse(r.stdout);
    const ctx = await openBrokerContext({ dataDir: data, publicUrl: 'http://127.0.0.1' });
    try {
      const found = await ctx.store.findVisitLinkByCipher(links.guests[0].cipher);
      assert.ok(found, 'the links are a recorded visit');
      await ctx.visits.cancel(ctx.org, 'test', found.visit.id);
    } finally {
      await ctx.close();
    }
    for (const link of [links.guests[0].shortUrl, links.guests[0].longUrl, links.hosts[0].cipher]) {
      const d = await decode(link, ['--data', data]);
      assert.equal(d.code, 0, `${link}\n${show(d)}`);
      assert.match(d.stdout, /^alg \/ enc:\s+PBES2-HS512\+A256KW \/ A256GCM$/m);
      assert.match(d.stdout, /^subject:\s+to cancel$/m);
      assert.match(d.stdout, /^role:\s+(guest|host)$/m);
      assert.match(d.stdout, /^state:\s+cancelled \(the visit\)$/m);
    }
    const json = JSON.parse((await decode(links.guests[0].shortUrl, ['--data', data, '--json'])).stdout);
    assert.equal(json.local.state, 'cancelled');
    assert.equal(json.local.claims.sub, 'to cancel');
    assert.equal(json.header.alg, 'PBES2-HS512+A256KW');
  });

  test('garbage exits 2', async () => {
    for (const text of ['hello world', 'https://example.com/nothing', 'x.y']) {
      const r = await decode(text);
      assert.equal(r.code, 2, `${text}\n${show(r)}`);
      assert.match(r.stderr, /decode: give a long link, a short link or a cipher/);
    }
    const r = await decode('aaaa.bbbb.cccc.dddd.eeee');
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /no readable JWE header/);
  });
});
