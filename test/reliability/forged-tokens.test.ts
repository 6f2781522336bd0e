/**
 * Forged tokens cannot buy PBKDF2 work past the failed-opening budget, whatever their number or
 * their keys (issue 11, finding 1): the budget is reserved before the work, unknown tokens run in
 * the limiter's low lane, a token is tried with one key at most, and retired keys open nothing.
 * PBKDF2 runs are counted (test/support/pbkdf2.ts), never timed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { issueToken } from '../../src/crypto/tokens.js';
import { AUDIENCE } from '../../src/domain/constants.js';
import { call, forgeHeader, headerOf, issue } from '../broker/helpers.js';
import { countPbkdf2 } from '../support/pbkdf2.js';
import { ROOMY_LIMITS, startTestServer, type TestServer } from '../support/server.js';

/** A real link's token with another salt: a valid header naming our key, which no key opens. */
const forge = (cipher: string, edit: (h: Record<string, unknown>) => void = () => {}) =>
  forgeHeader(cipher, (h) => {
    h['p2s'] = randomBytes(16).toString('base64url');
    edit(h);
    return h;
  });

const space = (server: TestServer, cipher: string) =>
  call(`${server.url}/api/v1/space?int=jose&data=${cipher}`);

describe('the failed-opening budget is spent before the work', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ rateLimits: { ...ROOMY_LIMITS, failedOpensPerAddress: 30 } });
  });
  after(() => server.close());

  test('300 forged tokens at once from one address: at most 30 reach PBKDF2, the rest get 429 with Retry-After, and a genuine link still opens', async () => {
    const made = await issue(server, 'budget-genuine', { numGuest: 2 });
    const forged = Array.from({ length: 300 }, () => forge(made.guest[0]!.cipher, (h) => (h['p2c'] = 32767)));
    const counter = countPbkdf2();
    let answers: Awaited<ReturnType<typeof call>>[];
    let genuine: Awaited<ReturnType<typeof call>>;
    try {
      [answers, genuine] = await Promise.all([
        Promise.all(forged.map((cipher) => space(server, cipher))),
        space(server, made.guest[1]!.cipher),
      ]);
    } finally {
      counter.stop();
    }
    const by = (status: number) => answers.filter((a) => a.status === status);
    assert.ok(by(429).length >= 270, `expected ≥ 270 answers 429, got ${answers.map((a) => a.status)}`);
    assert.ok(by(400).length <= 30, `${by(400).length} forged tokens were tried`);
    assert.equal(by(400).length + by(429).length + by(503).length, 300, 'only 400, 429 or 503');
    for (const a of [...by(429), ...by(503)]) assert.match(a.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(by(429)[0]!.body.code, 'ERR_RATE_LIMITED');
    // The genuine opening is the only PBKDF2 beyond the budget.
    assert.ok(counter.count <= 31, `${counter.count} PBKDF2 runs for 300 forged tokens`);
    assert.equal(genuine.status, 200, genuine.text);
    // Known links from the same address still open once the budget is gone.
    const later = await space(server, made.guest[0]!.cipher);
    assert.equal(later.status, 200, later.text);
  });
});

describe('unknown tokens run in a bounded low lane', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('a flood past the low lane is answered 503 with Retry-After without crypto, and known links keep the priority lane', async () => {
    const made = await issue(server, 'low-lane', { numGuest: 2 });
    const { limiter } = server.server.context;
    const before = { ...limiter.started };
    const forged = Array.from({ length: 60 }, () => forge(made.guest[0]!.cipher, (h) => (h['p2c'] = 32767)));
    const [answers, genuine] = await Promise.all([
      Promise.all(forged.map((cipher) => space(server, cipher))),
      space(server, made.guest[1]!.cipher),
    ]);
    const statuses = answers.map((a) => a.status);
    assert.ok(statuses.includes(503), `expected 503s from the full low lane, got ${statuses}`);
    assert.ok(
      statuses.every((s) => s === 400 || s === 503),
      `${statuses}`,
    );
    for (const a of answers.filter((x) => x.status === 503)) {
      assert.equal(a.body.code, 'ERR_OVERLOADED');
      assert.match(a.headers.get('retry-after') ?? '', /^\d+$/);
    }
    const tried = limiter.started.low - before.low;
    assert.equal(tried, statuses.filter((s) => s === 400).length, 'every 400 ran in the low lane');
    assert.equal(tried + statuses.filter((s) => s === 503).length, 60, 'a 503 ran no crypto');
    assert.equal(genuine.status, 200, genuine.text);
    assert.equal(
      limiter.started.priority - before.priority,
      1,
      'the genuine link opened in the priority lane',
    );
  });
});

describe('one key per token, and retired keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('a forged token without kid costs one PBKDF2 after five rotations (not one per key)', async () => {
    const made = await issue(server, 'kidless');
    const { keyring } = server.server.context;
    for (let i = 0; i < 5; i++) await keyring.rotate(Math.floor(Date.now() / 1000));
    assert.ok(keyring.size >= 6);
    const kidless = forge(made.guest[0]!.cipher, (h) => delete h['kid']);
    assert.equal(headerOf(kidless)['kid'], undefined);
    const counter = countPbkdf2();
    let answer: Awaited<ReturnType<typeof call>>;
    try {
      answer = await space(server, kidless);
    } finally {
      counter.stop();
    }
    assert.equal(answer.status, 400);
    assert.equal(counter.count, 1, `${counter.count} PBKDF2 runs for one token`);
    // The link issued before the rotations still opens (its key is not retired).
    assert.equal((await space(server, made.guest[0]!.cipher)).status, 200);
  });
});

describe('retired keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('a token of a retired key opens nothing (no PBKDF2, not even from the cache), and a page ticket it signed no longer verifies', async () => {
    const { keyring, org, live } = server.server.context;
    const now = Math.floor(Date.now() / 1000);
    const old = keyring.active();
    // A token of the current key that no visit records (so no link keeps the key alive), and a ticket.
    const claims = {
      sub: 'retired',
      aud: AUDIENCE,
      iss: org.id,
      iat: now,
      exp: now + 3600,
      jti: randomBytes(8).toString('hex'),
      role: 'guest' as const,
    };
    const params = {
      jweAlg: 'PBES2-HS512+A256KW' as const,
      enc: 'A256GCM' as const,
      jwsAlg: 'HS512' as const,
      saltLength: 16,
      iterations: 1000,
    };
    const cipher = await issueToken(claims, params, old);
    const ticket = live.issueTicket({ id: 'v-retired', orgId: org.id } as never, 'guest', now + 3600);
    assert.equal(live.readTicket(ticket).visitId, 'v-retired');
    assert.equal((await space(server, cipher)).status, 200, 'it opens while its key issues');
    // Rotated two hours ago, with no link recorded: the old key retired 20 minutes after that.
    await keyring.rotate(now - 7200);
    const described = keyring.describe().find((k) => k.kid === old.kid);
    assert.equal(described?.state, 'retired', JSON.stringify(keyring.describe()));
    const counter = countPbkdf2();
    let answer: Awaited<ReturnType<typeof call>>;
    try {
      answer = await space(server, cipher);
    } finally {
      counter.stop();
    }
    assert.equal(answer.status, 400, answer.text);
    assert.equal(counter.count, 0, 'no PBKDF2 for a retired key');
    assert.throws(() => live.readTicket(ticket));
    // The new key issues, and its links open.
    const made = await issue(server, 'after-retirement');
    assert.equal(headerOf(made.guest[0]!.cipher)['kid'], keyring.active().kid);
    assert.equal((await space(server, made.guest[0]!.cipher)).status, 200);
  });
});
