/** `links` against the local broker in a temporary data directory: every option and output format. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import { openBrokerContext } from '../../src/main/container.js';
import { expectedModules, readBlockQr } from './qr.js';
import { jweHeader, removeDir, runCli, show, tempDir } from './run-cli.js';

const SHORT_URL = /^http:\/\/127\.0\.0\.1:8080\/visit\/[A-Za-z0-9]+$/;
const LONG_URL =
  /^http:\/\/127\.0\.0\.1:8080\/(gen|hc)\/v1\/(login|talk)\?int=jose&v=1&data=[A-Za-z0-9._-]+$/;
const nowSeconds = () => Math.floor(Date.now() / 1000);

let cwd: string;
let data: string;

/** `links` on the shared data directory, PBKDF2 kept cheap unless the test sets --iterations. */
function links(args: string[], env: Record<string, string> = {}) {
  const cheap = args.includes('--iterations') ? [] : ['--iterations', '1000'];
  return runCli(['links', '--data', data, ...cheap, ...args], { cwd, env });
}

async function linksJson(args: string[]): Promise<any> {
  const r = await links([...args, '--json']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /Local broker/);
  return JSON.parse(r.stdout);
}

/** The inner JWS header of a token, opened with the broker keys stored in the data directory. */
async function innerHeader(cipher: string): Promise<Record<string, unknown>> {
  const ctx = await openBrokerContext({ dataDir: data, publicUrl: 'http://127.0.0.1' });
  try {
    const header = jweHeader(cipher);
    const [key] = ctx.keyring.candidates(header['kid']);
    assert.ok(key, 'the token names a key of this data directory');
    const { plaintext } = await compactDecrypt(cipher, key.encryptionSecret, {
      keyManagementAlgorithms: [header['alg']],
      contentEncryptionAlgorithms: [header['enc']],
    });
    return decodeProtectedHeader(new TextDecoder().decode(plaintext));
  } finally {
    await ctx.close();
  }
}

before(async () => {
  cwd = tempDir();
  data = join(cwd, 'broker-data');
  // First start creates the database, the organisation and the broker key; the tests then share it.
  const r = await runCli(['keys', 'list', '--data', data], { cwd });
  assert.equal(r.code, 0, show(r));
});

after(() => removeDir(cwd));

describe('links from the local broker', () => {
  test('prints a table of host and guest links and the generated subject', async () => {
    const r = await links([]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /Local broker: links issued into .*broker-data/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('\u001b'), 'no colour when not on a terminal');
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^Subject\s+visit-\S+ \(generated: the same subject is the same meeting\)$/);
    assert.match(lines[1]!, /^Valid\s+now → \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const header = lines.findIndex((l) => /^ROLE\s+SHORT URL\s+LONG URL$/.test(l));
    assert.ok(header > 0, r.stdout);
    const rows = lines.slice(header + 1).map((l) => l.split(/\s{2,}/));
    assert.deepEqual(
      rows.map((r) => [r[0], r[1]]),
      [
        ['host 1', '-'],
        ['guest 1', '-'],
      ],
    );
    assert.match(rows[0]![2]!, LONG_URL);
    assert.match(rows[0]![2]!, /\/hc\/v1\/login\?/);
    assert.match(rows[1]![2]!, /\/hc\/v1\/talk\?/);
  });

  test('links made by the CLI are recorded as one visit of their subject, whatever the batches', async () => {
    const subject = `cli-history-${Date.now()}`;
    const result = await linksJson(['--subject', subject, '--guests', '30', '--short']);
    assert.equal(result.calls, 2);
    const ctx = await openBrokerContext({ dataDir: data, publicUrl: 'http://127.0.0.1' });
    try {
      const { items } = await ctx.visits.list(ctx.org, { q: subject, limit: 10, offset: 0 });
      assert.equal(items.length, 1, 'one visit for both calls');
      assert.deepEqual(items[0]?.counts, { hosts: 1, guests: 30 });
      assert.equal(items[0]?.createdBy, 'cli');
      assert.deepEqual(
        items[0]?.guests.map((g) => g.shortUrl),
        result.guests.map((g: { shortUrl: string }) => g.shortUrl),
      );
    } finally {
      await ctx.close();
    }
  });

  test('--short fills the SHORT URL column', async () => {
    const r = await links(['--short']);
    assert.equal(r.code, 0, show(r));
    const rows = r.stdout
      .split('\n')
      .filter((l) => /^(host|guest) \d/.test(l))
      .map((l) => l.split(/\s{2,}/));
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.match(row[1]!, SHORT_URL);
      assert.match(row[2]!, LONG_URL);
    }
    assert.notEqual(rows[0]![1], rows[1]![1]);
  });

  test('--json is the SDK result with every URL form', async () => {
    const r = await links(['--short', '--json']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /Subject: visit-\S+ \(generated\)/);
    const result = JSON.parse(r.stdout);
    assert.equal(result.subjectGenerated, true);
    assert.match(result.subject, /^visit-/);
    assert.equal(result.calls, 1);
    assert.equal(result.vertical, 'hc');
    assert.equal(result.hosts.length, 1);
    assert.equal(result.guests.length, 1);
    const [host] = result.hosts;
    const [guest] = result.guests;
    assert.equal(host.role, 'host');
    assert.match(host.longUrl, LONG_URL);
    assert.match(host.shortUrl, SHORT_URL);
    assert.equal(
      host.forcedLoginUrl,
      `http://127.0.0.1:8080/hc/v1/login?int=jose&v=1&fli=true&data=${encodeURIComponent(host.cipher)}`,
    );
    assert.equal(guest.role, 'guest');
    assert.match(guest.longUrl, LONG_URL);
    assert.match(guest.shortUrl, SHORT_URL);
    assert.equal(guest.forcedLoginUrl, undefined);
    assert.ok(host.longUrl.endsWith(encodeURIComponent(host.cipher)));
    assert.equal(typeof result.expiresAt, 'number');
  });

  test('--csv prints a header and one row per link', async () => {
    const subject = 'Dr. Who, "room" 4';
    const r = await links(['--csv', '--hosts', '2', '--guests', '3', '--subject', subject]);
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'subject,role,index,shortUrl,longUrl,forcedLoginUrl,cipher,notBefore,expiresAt');
    assert.equal(lines.length, 1 + 5);
    const quoted = '"Dr. Who, ""room"" 4"';
    const roles = lines.slice(1).map((l) => {
      assert.ok(l.startsWith(`${quoted},`), l);
      return l.slice(quoted.length + 1).split(',');
    });
    assert.deepEqual(
      roles.map((c) => `${c[0]} ${c[1]}`),
      ['host 0', 'host 1', 'guest 0', 'guest 1', 'guest 2'],
    );
    for (const c of roles) {
      assert.equal(c.length, 8, c.join(','));
      assert.match(c[3]!, LONG_URL);
      assert.equal(c[6], '', 'no notBefore without --start');
      assert.match(c[7]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    assert.match(roles[0]![4]!, /fli=true/);
    assert.equal(roles[2]![4], '');
  });

  test('--field guests.0.shortUrl prints exactly that URL', async () => {
    const r = await links(['--short', '--field', 'guests.0.shortUrl']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^http:\/\/127\.0\.0\.1:8080\/visit\/[A-Za-z0-9]+\n$/);
  });

  test('--field prints non-strings as JSON', async () => {
    const r = await links(['--field', 'calls']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, '1\n');
  });

  test('--field with a path the result lacks exits 2', async () => {
    const r = await links(['--field', 'nope']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--field: the result has no "nope"/);
    assert.equal(r.stdout, '');
  });

  test('--json with --csv exits 2', async () => {
    const r = await links(['--json', '--csv']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /choose one of --json, --csv and --field/);
  });

  test('--guests 60 --short: 61 links in 3 calls with one subject, every short code distinct', async () => {
    const r = await links(['--guests', '60', '--short', '--json']);
    assert.equal(r.code, 0, show(r));
    assert.doesNotMatch(r.stderr, /\r|calls/, 'no progress bar when stderr is not a terminal');
    const result = JSON.parse(r.stdout);
    assert.equal(result.calls, 3);
    assert.equal(result.hosts.length, 1);
    assert.equal(result.guests.length, 60);
    assert.deepEqual(
      result.guests.map((g: any) => g.index),
      Array.from({ length: 60 }, (_, i) => i),
    );
    const all = [...result.hosts, ...result.guests];
    assert.equal(new Set(all.map((l: any) => l.short)).size, 61);
    assert.equal(new Set(all.map((l: any) => l.cipher)).size, 61);
    for (const l of all) assert.match(l.shortUrl, SHORT_URL);
    const table = await links(['--guests', '60', '--short']);
    assert.equal(table.code, 0, show(table));
    assert.equal(table.stdout.split('\n').filter((l) => /^(host|guest) \d+\s/.test(l)).length, 61);
    assert.match(table.stdout, /^guest 60\s/m);
  });

  test('--subject names the meeting; nothing is generated', async () => {
    const r = await links(['--subject', 'ward 7 / bed 3']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^Subject\s+ward 7 \/ bed 3\n/);
    assert.doesNotMatch(r.stdout + r.stderr, /generated/);
    const json = await linksJson(['--subject', 'ward 7 / bed 3']);
    assert.equal(json.subject, 'ward 7 / bed 3');
    assert.equal(json.subjectGenerated, false);
  });

  test('--hosts 0 --guests 2', async () => {
    const json = await linksJson(['--hosts', '0', '--guests', '2']);
    assert.equal(json.hosts.length, 0);
    assert.equal(json.guests.length, 2);
  });

  test('--start and --end set the window', async () => {
    const start = nowSeconds() + 3600;
    const end = start + 7200;
    const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
    const json = await linksJson(['--start', iso(start), '--end', iso(end)]);
    assert.equal(json.notBefore, start);
    assert.equal(json.expiresAt, end);
    const r = await links(['--start', iso(start), '--end', iso(end)]);
    assert.match(r.stdout, new RegExp(`^Valid\\s+${iso(start)} → ${iso(end)}$`, 'm'));
  });

  test('--start +2h and --end +3h are relative to now', async () => {
    const t0 = nowSeconds();
    const json = await linksJson(['--start', '+2h', '--end', 'in 3h']);
    const t1 = nowSeconds();
    assert.ok(json.notBefore >= t0 + 7200 && json.notBefore <= t1 + 7200, String(json.notBefore));
    assert.equal(json.expiresAt - json.notBefore, 3600);
  });

  test('--ttl 45m counts from --start', async () => {
    const json = await linksJson(['--start', '+1h', '--ttl', '45m']);
    assert.equal(json.expiresAt - json.notBefore, 2700);
  });

  test('--ttl 45m without --start counts from now', async () => {
    const t0 = nowSeconds();
    const json = await linksJson(['--ttl', '45m']);
    const t1 = nowSeconds();
    assert.equal(json.notBefore, undefined);
    assert.ok(json.expiresAt >= t0 + 2700 && json.expiresAt <= t1 + 2700, String(json.expiresAt));
  });

  test('the default window is 15 minutes', async () => {
    const t0 = nowSeconds();
    const json = await linksJson([]);
    const t1 = nowSeconds();
    assert.ok(json.expiresAt >= t0 + 900 && json.expiresAt <= t1 + 900, String(json.expiresAt));
  });

  test('--tz reads local times in that zone, daylight saving included', async () => {
    const year = new Date().getUTCFullYear() + 1;
    const winter = await linksJson(['--start', `${year}-12-01 09:30`, '--tz', 'America/Los_Angeles']);
    assert.equal(winter.notBefore, Date.UTC(year, 11, 1, 17, 30) / 1000);
    assert.equal(winter.expiresAt - winter.notBefore, 900);
    const summer = await linksJson(['--start', `${year}-07-01T09:30`, '--tz', 'America/Los_Angeles']);
    assert.equal(summer.notBefore, Date.UTC(year, 6, 1, 16, 30) / 1000);
    const london = await linksJson(['--start', `${year}-07-01 09:30`, '--tz', 'Europe/London']);
    assert.equal(london.notBefore, Date.UTC(year, 6, 1, 8, 30) / 1000);
  });

  test('with --tz the table shows the window in that zone too', async () => {
    const r = await links(['--start', '2031-07-01 09:30', '--tz', 'Europe/London']);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stdout,
      /^Valid +2031-07-01 09:30 → 2031-07-01 09:45 Europe\/London \(2031-07-01T08:30:00Z → 2031-07-01T08:45:00Z\)$/m,
    );
  });

  test('a time of day that has passed today says the links open tomorrow', async () => {
    // A zone where it is now between 02:00 and 22:00, so an hour ago was earlier today.
    const hourIn = (zone: string) =>
      Number(
        new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(
          new Date(),
        ),
      );
    const zone = ['UTC', 'Asia/Tokyo', 'America/New_York', 'Asia/Kolkata'].find(
      (z) => hourIn(z) >= 2 && hourIn(z) <= 22,
    )!;
    const earlier = `${String(hourIn(zone) - 1).padStart(2, '0')}:00`;
    const r = await links(['--start', earlier, '--tz', zone, '--json']);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stderr,
      new RegExp(
        `Note: ${earlier} has already passed today in ${zone}: the links open tomorrow, \\d{4}-\\d\\d-\\d\\d ${earlier}`,
      ),
    );
    const json = JSON.parse(r.stdout);
    assert.ok(json.notBefore > nowSeconds() + 20 * 3600, 'tomorrow');
    const later = `${String(hourIn(zone) + 1).padStart(2, '0')}:00`;
    const today = await links(['--start', later, '--tz', zone, '--json']);
    assert.equal(today.code, 0, show(today));
    assert.doesNotMatch(today.stderr, /tomorrow/);
  });

  test('--device, twice, puts both room devices in every token', async () => {
    const json = await linksJson(['--device', 'a@b.example.com', '--device', 'sip:room2@c.example.com']);
    const cipher = json.hosts[0].cipher;
    const r = await runCli(['decode', cipher, '--data', data, '--json'], { cwd });
    assert.equal(r.code, 0, show(r));
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.local.claims.flow, {
      id: 'sip-no-knock',
      data: [{ uri: 'a@b.example.com' }, { uri: 'sip:room2@c.example.com' }],
    });
  });

  test('--vertical gen puts links under /gen/', async () => {
    const json = await linksJson(['--vertical', 'gen']);
    assert.equal(json.vertical, 'gen');
    assert.match(json.hosts[0].longUrl, /^http:\/\/127\.0\.0\.1:8080\/gen\/v1\/login\?/);
    assert.match(json.guests[0].longUrl, /^http:\/\/127\.0\.0\.1:8080\/gen\/v1\/talk\?/);
    assert.match(json.hosts[0].forcedLoginUrl, /\/gen\/v1\/login\?int=jose&v=1&fli=true&/);
  });

  test('--no-host-login sends hosts to /talk', async () => {
    const json = await linksJson(['--no-host-login']);
    assert.match(json.hosts[0].longUrl, /^http:\/\/127\.0\.0\.1:8080\/hc\/v1\/talk\?/);
    const plain = await linksJson([]);
    assert.match(plain.hosts[0].longUrl, /\/hc\/v1\/login\?/);
  });

  test('--jwe-alg, --enc, --jws-alg, --salt-length and --iterations shape every token', async () => {
    const json = await linksJson([
      '--jwe-alg',
      'PBES2-HS256+A128KW',
      '--enc',
      'A128CBC-HS256',
      '--jws-alg',
      'HS256',
      '--salt-length',
      '16',
      '--iterations',
      '1234',
    ]);
    for (const link of [...json.hosts, ...json.guests]) {
      const header = jweHeader(link.cipher);
      assert.equal(header['alg'], 'PBES2-HS256+A128KW');
      assert.equal(header['enc'], 'A128CBC-HS256');
      assert.equal(header['p2c'], 1234);
      assert.equal(Buffer.from(header['p2s'], 'base64url').length, 16);
      assert.equal((await innerHeader(link.cipher))['alg'], 'HS256');
    }
    const other = await linksJson([
      '--jwe-alg',
      'PBES2-HS384+A192KW',
      '--enc',
      'A192GCM',
      '--jws-alg',
      'HS384',
    ]);
    const header = jweHeader(other.guests[0].cipher);
    assert.equal(header['alg'], 'PBES2-HS384+A192KW');
    assert.equal(header['enc'], 'A192GCM');
    assert.equal((await innerHeader(other.guests[0].cipher))['alg'], 'HS384');
  });

  test('--qr prints a QR code of the first guest link after the table', async () => {
    const r = await links(['--short', '--qr']);
    assert.equal(r.code, 0, show(r));
    const [table, qr] = r.stdout.split('\nQR code of the first guest link:\n');
    assert.ok(qr, r.stdout);
    assert.ok(!r.stdout.includes('\u001b'), 'no colour escapes in a pipe');
    const guest = table!
      .split('\n')
      .find((l) => l.startsWith('guest 1'))!
      .split(/\s{2,}/)[1]!;
    assert.match(guest, SHORT_URL);
    assert.deepEqual(readBlockQr(qr), expectedModules(guest));
  });

  test('--qr with --json keeps stdout JSON and draws the QR on stderr', async () => {
    const r = await links(['--short', '--qr', '--json']);
    assert.equal(r.code, 0, show(r));
    const result = JSON.parse(r.stdout);
    const qr = r.stderr.split('QR code of the first guest link:\n')[1];
    assert.ok(qr, r.stderr);
    const blocks = qr.split('\n').filter((l) => /^[ ▀▄█]+$/.test(l) && l.trim());
    assert.deepEqual(readBlockQr(blocks.join('\n')), expectedModules(result.guests[0].shortUrl));
  });

  test('--qr-png writes a PNG of the first guest link', async () => {
    const file = join(cwd, 'guest.png');
    const r = await links(['--short', '--qr-png', file]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /QR code of the first guest link written to .*guest\.png/);
    assert.ok(existsSync(file));
    const png = readFileSync(file);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    assert.equal(width, height);
    assert.ok(width >= 100, `a scannable size (${width} px)`);
    assert.equal(png.subarray(png.length - 8, png.length - 4).toString('latin1'), 'IEND');
  });
});

describe('where the local broker keeps its data', () => {
  test('DATA_DIR names the data directory', async () => {
    const dir = join(cwd, 'from-env');
    const r = await runCli(['links', '--iterations', '1000'], { cwd, env: { DATA_DIR: dir } });
    assert.equal(r.code, 0, show(r));
    assert.ok(r.stderr.includes(`Local broker: links issued into ${dir}`), r.stderr);
    assert.ok(existsSync(join(dir, 'instant-connect.db')));
  });

  test('--data wins over DATA_DIR', async () => {
    const flag = join(cwd, 'from-flag');
    const env = join(cwd, 'not-used');
    const r = await runCli(['links', '--iterations', '1000', '--data', flag], {
      cwd,
      env: { DATA_DIR: env },
    });
    assert.equal(r.code, 0, show(r));
    assert.ok(existsSync(join(flag, 'instant-connect.db')));
    assert.ok(!existsSync(env));
  });

  test('without either, ./data in the working directory', async () => {
    const dir = tempDir();
    try {
      const r = await runCli(['links', '--iterations', '1000'], { cwd: dir });
      assert.equal(r.code, 0, show(r));
      assert.ok(existsSync(join(dir, 'data', 'instant-connect.db')));
    } finally {
      removeDir(dir);
    }
  });
});
