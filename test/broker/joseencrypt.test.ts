/**
 * POST /api/v2/joseencrypt and /api/v1/joseencrypt over real HTTP: response shapes (reference
 * §4), counts and coercion (§3), the JWE protected header as Cisco writes it (§9.1), and the
 * inside of each token opened by node-jose with the broker's stored keys (§9.2–9.3).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  AUDIENCE,
  encrypt,
  headerOf,
  headerText,
  issue,
  joseBody,
  nowSeconds,
  openStored,
  openWithNodeJose,
} from './helpers.js';

const CISCO_ORDER = ['p2s', 'p2c', 'aud', 'iss', 'cty', 'enc', 'alg', 'kid'];
const CIPHER = /^eyJwMnMiOi[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+){4}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const saltBytes = (cipher: string) => Buffer.from(String(headerOf(cipher)['p2s']), 'base64url').length;

describe('v2 response shape', () => {
  test('the minimal documented body gives one host and one guest, {cipher} only, no baseUrl', async () => {
    const answer = await encrypt(server, { aud: AUDIENCE, jwt: { sub: 'Subject goes here.' } });
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(answer.headers.get('trackingid') ?? '', /^IC_[0-9a-f-]{36}$/);
    assert.deepEqual(Object.keys(answer.body), ['host', 'guest']);
    assert.equal(answer.body.host.length, 1);
    assert.equal(answer.body.guest.length, 1);
    for (const entry of [...answer.body.host, ...answer.body.guest]) {
      assert.deepEqual(Object.keys(entry), ['cipher']);
      assert.match(entry.cipher, CIPHER);
    }
    assert.notEqual(answer.body.host[0].cipher, answer.body.guest[0].cipher);
  });

  test('provideShortUrls: every element has a 7-character short code and baseUrl is <server>/visit/', async () => {
    const body = await issue(server, 'shorts', { provideShortUrls: true, numHost: 3, numGuest: 4 });
    assert.deepEqual(Object.keys(body), ['host', 'guest', 'baseUrl']);
    assert.equal(body.baseUrl, `${server.url}/visit/`);
    assert.equal(body.host.length, 3);
    assert.equal(body.guest.length, 4);
    const all = [...body.host, ...body.guest];
    for (const entry of all) {
      assert.deepEqual(Object.keys(entry), ['cipher', 'short']);
      assert.match(entry.cipher, CIPHER);
      assert.match(entry.short!, /^[A-Za-z0-9]{7}$/);
    }
    assert.equal(new Set(all.map((e) => e.short)).size, all.length, 'short codes are unique');
    assert.equal(new Set(all.map((e) => e.cipher)).size, all.length, 'ciphers are unique');
  });

  test('provideShortUrls false gives no short codes and no baseUrl', async () => {
    const body = await issue(server, 'no shorts', { provideShortUrls: false, numGuest: 2 });
    assert.deepEqual(Object.keys(body), ['host', 'guest']);
    for (const entry of [...body.host, ...body.guest]) assert.deepEqual(Object.keys(entry), ['cipher']);
  });

  test('strings as the Webex Connect labs send them: "provideShortUrls":"true", "numGuest":"2", "numHost":"0"', async () => {
    const answer = await encrypt(server, {
      aud: AUDIENCE,
      jwt: { sub: 'lab style' },
      provideShortUrls: 'true',
      numGuest: '2',
      numHost: '0',
      iterations: '1000',
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.host.length, 0);
    assert.equal(answer.body.guest.length, 2);
    assert.equal(answer.body.baseUrl, `${server.url}/visit/`);
    for (const entry of answer.body.guest) assert.match(entry.short, /^[A-Za-z0-9]{7}$/);
    assert.equal(headerOf(answer.body.guest[0].cipher)['p2c'], 1000);
  });
});

describe('counts', () => {
  for (const [numHost, numGuest] of [
    [0, 1],
    [0, 25],
    [2, 0],
    [3, 5],
    [12, 13],
    [25, 0],
  ] as const) {
    test(`numHost ${numHost}, numGuest ${numGuest}`, async () => {
      const body = await issue(server, `count ${numHost}/${numGuest}`, { numHost, numGuest });
      assert.equal(body.host.length, numHost);
      assert.equal(body.guest.length, numGuest);
      const ciphers = [...body.host, ...body.guest].map((e) => e.cipher);
      assert.equal(new Set(ciphers).size, numHost + numGuest);
    });
  }

  for (const [numHost, numGuest] of [
    [13, 13],
    [25, 1],
    [0, 26],
  ] as const) {
    test(`numHost ${numHost} + numGuest ${numGuest} = ${numHost + numGuest} is refused with 400`, async () => {
      const answer = await encrypt(server, joseBody('too many', { numHost, numGuest }));
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.body.code, 'ERR_VALIDATION');
      const paths = answer.body.errors.map((e: { path: string }) => e.path);
      assert.ok(
        paths.includes('numHost') || paths.includes('numGuest'),
        `names the count: ${JSON.stringify(answer.body.errors)}`,
      );
    });
  }

  test('numHost 0 and numGuest 0 is refused (no links asked for)', async () => {
    const answer = await encrypt(server, joseBody('none', { numHost: 0, numGuest: 0 }));
    assert.equal(answer.status, 400, answer.text);
    assert.equal(answer.body.code, 'ERR_VALIDATION');
  });
});

describe('v1 response shape', () => {
  test('the minimal body gives string arrays: {host:[cipher], guest:[cipher]}', async () => {
    const answer = await encrypt(server, { aud: AUDIENCE, jwt: { sub: 'v1 minimal' } }, { version: 'v1' });
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.headers.get('trackingid') ?? '', /^IC_/);
    assert.deepEqual(Object.keys(answer.body), ['host', 'guest']);
    assert.equal(answer.body.host.length, 1);
    assert.equal(answer.body.guest.length, 1);
    for (const cipher of [...answer.body.host, ...answer.body.guest]) {
      assert.equal(typeof cipher, 'string');
      assert.match(cipher, CIPHER);
    }
  });

  test('counts apply to v1 too', async () => {
    const answer = await encrypt(server, joseBody('v1 counts', { numHost: 2, numGuest: 3 }), {
      version: 'v1',
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.host.length, 2);
    assert.equal(answer.body.guest.length, 3);
  });

  test('v1 ignores provideShortUrls (documented choice): still plain strings, no baseUrl', async () => {
    const answer = await encrypt(server, joseBody('v1 shorts', { provideShortUrls: true, numGuest: 2 }), {
      version: 'v1',
    });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(Object.keys(answer.body), ['host', 'guest']);
    for (const cipher of [...answer.body.host, ...answer.body.guest]) assert.equal(typeof cipher, 'string');
  });
});

describe('the JWE protected header (no crypto: base64url of segment 0)', () => {
  test('defaults: Cisco key order, PBES2-HS512+A256KW / A256GCM, random p2c and salt per token, iss = org', async () => {
    // About the defaults, so no iterations: ten tokens with Cisco's random p2c and salt length.
    const answer = await encrypt(server, {
      aud: AUDIENCE,
      jwt: { sub: 'defaults' },
      numHost: 5,
      numGuest: 5,
    });
    assert.equal(answer.status, 200, answer.text);
    const ciphers = [...answer.body.host, ...answer.body.guest].map((e: { cipher: string }) => e.cipher);
    assert.equal(ciphers.length, 10);
    const activeKid = server.server.context.keyring.active().kid;
    for (const cipher of ciphers) {
      assert.ok(headerText(cipher).startsWith('{"p2s":'), headerText(cipher));
      const header = headerOf(cipher);
      assert.deepEqual(Object.keys(header), CISCO_ORDER);
      assert.equal(header['alg'], 'PBES2-HS512+A256KW');
      assert.equal(header['enc'], 'A256GCM');
      assert.equal(header['cty'], 'JWT');
      assert.equal(header['aud'], AUDIENCE);
      assert.equal(header['iss'], server.server.context.org.id);
      assert.equal(header['kid'], activeKid);
      const p2c = header['p2c'] as number;
      assert.ok(Number.isInteger(p2c) && p2c >= 1000 && p2c <= 32767, `p2c ${p2c}`);
      const salt = saltBytes(cipher);
      assert.ok(salt >= 8 && salt <= 128, `salt ${salt} bytes`);
      assert.match(String(header['p2s']), /^[A-Za-z0-9_-]+$/);
    }
    const counts = new Set(ciphers.map((c: string) => headerOf(c)['p2c']));
    assert.ok(counts.size >= 2, `p2c is drawn per token, got only ${[...counts].join(', ')}`);
    const salts = new Set(ciphers.map(saltBytes));
    assert.ok(salts.size >= 2, `salt length is drawn per token, got only ${[...salts].join(', ')}`);
  });

  for (const params of [
    { jweAlg: 'PBES2-HS256+A128KW', enc: 'A128GCM', jwsAlg: 'HS256', saltLength: 8, iterations: 1000 },
    { jweAlg: 'PBES2-HS384+A192KW', enc: 'A192CBC-HS384', jwsAlg: 'HS384', saltLength: 40, iterations: 1234 },
    {
      jweAlg: 'PBES2-HS512+A256KW',
      enc: 'A256CBC-HS512',
      jwsAlg: 'HS256',
      saltLength: 128,
      iterations: 2001,
    },
    { jweAlg: 'PBES2-HS256+A128KW', enc: 'A128CBC-HS256', jwsAlg: 'HS512', saltLength: 17, iterations: 1000 },
  ]) {
    test(`explicit ${params.jweAlg} / ${params.enc} / ${params.jwsAlg}, salt ${params.saltLength}, p2c ${params.iterations} are honoured`, async () => {
      const body = await issue(server, 'explicit crypto', { ...params, numHost: 1, numGuest: 1 });
      for (const { cipher } of [...body.host, ...body.guest]) {
        const header = headerOf(cipher);
        assert.deepEqual(Object.keys(header), CISCO_ORDER);
        assert.equal(header['alg'], params.jweAlg);
        assert.equal(header['enc'], params.enc);
        assert.equal(header['p2c'], params.iterations);
        assert.equal(saltBytes(cipher), params.saltLength);
        const opened = await openStored(server, cipher);
        assert.equal(opened.jweHeader['alg'], params.jweAlg);
        assert.equal(opened.jweHeader['enc'], params.enc);
        assert.deepEqual(opened.jwsHeader, { alg: params.jwsAlg, typ: 'JWT' });
      }
    });
  }
});

describe('inside the tokens: decrypted and verified by node-jose with the stored keys', () => {
  test('default claims: sub, aud, iss, iat, exp = now + 900, unique jti, role; no nbf, no flow; HS512', async () => {
    const before = nowSeconds();
    const body = await issue(server, 'Visit 42: Dr Who', { numHost: 2, numGuest: 3 });
    const afterIssue = nowSeconds();
    // The keyring's active key (what the server holds in memory) ...
    const active = server.server.context.keyring.active();
    const jtis = new Set<string>();
    const roles: [string, { cipher: string }[]][] = [
      ['host', body.host],
      ['guest', body.guest],
    ];
    for (const [role, entries] of roles) {
      for (const { cipher } of entries) {
        const opened = await openWithNodeJose(cipher, active);
        // ... and the same key read back from the SQLite store agree.
        assert.deepEqual((await openStored(server, cipher)).claims, opened.claims);
        assert.deepEqual(opened.jwsHeader, { alg: 'HS512', typ: 'JWT' });
        const c = opened.claims;
        assert.equal(c['sub'], 'Visit 42: Dr Who');
        assert.equal(c['aud'], AUDIENCE);
        assert.equal(c['iss'], server.server.context.org.id);
        assert.equal(c['role'], role);
        assert.ok(c['iat'] >= before - 1 && c['iat'] <= afterIssue + 1, `iat ${c['iat']}`);
        assert.equal(c['exp'], c['iat'] + 900);
        assert.ok(Math.abs(c['exp'] - (before + 900)) <= 5, `exp ${c['exp']} vs now+900 ${before + 900}`);
        assert.equal(c['nbf'], undefined);
        assert.equal(c['flow'], undefined);
        assert.match(c['jti'], UUID);
        jtis.add(c['jti']);
      }
    }
    assert.equal(jtis.size, 5, 'jti is unique per link');
  });

  test('nbf, exp and flow given are carried into every token', async () => {
    const now = nowSeconds();
    const flow = {
      id: 'sip-no-knock',
      data: [{ uri: 'instant_rounding@intadmin.room.wbx2.com' }, { uri: 'sip:room2@example.com' }],
    };
    const answer = await encrypt(server, {
      aud: AUDIENCE,
      jwt: { sub: 'with window', nbf: now + 60, exp: now + 7200, flow },
      iterations: 1000,
    });
    assert.equal(answer.status, 200, answer.text);
    for (const [role, { cipher }] of [
      ['host', answer.body.host[0]],
      ['guest', answer.body.guest[0]],
    ] as const) {
      const { claims } = await openStored(server, cipher);
      assert.equal(claims['role'], role);
      assert.equal(claims['nbf'], now + 60);
      assert.equal(claims['exp'], now + 7200);
      assert.deepEqual(claims['flow'], flow);
    }
  });

  test('string timestamps are coerced like the counts: "exp":"<seconds>"', async () => {
    const exp = nowSeconds() + 1800;
    const answer = await encrypt(server, {
      aud: AUDIENCE,
      jwt: { sub: 'string exp', exp: String(exp) },
      iterations: 1000,
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal((await openStored(server, answer.body.host[0].cipher)).claims['exp'], exp);
  });
});
