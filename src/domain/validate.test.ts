import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ValidationError } from '../errors.js';
import { AUDIENCE, ENCS, ITERATIONS, JWE_ALGS, JWS_ALGS, SALT_LENGTH, VERTICALS } from './constants.js';
import type { JoseEncryptRequest } from './schema.js';
import { joseEncryptIssues, validateJoseEncryptRequest } from './validate.js';

const now = 1_795_876_200; // 2026-11-28T14:30:00Z
const check = { now };
const valid = (extra: Record<string, unknown> = {}, jwt: Record<string, unknown> = {}) => ({
  aud: AUDIENCE,
  jwt: { sub: 'Visit 42', ...jwt },
  ...extra,
});
const issuesOf = (body: unknown) => joseEncryptIssues(body, check);
const paths = (body: unknown) => issuesOf(body).map((i) => `${i.path}:${i.rule}`);

test('the minimal documented body is valid', () => {
  assert.deepEqual(issuesOf(valid()), []);
  assert.deepEqual(validateJoseEncryptRequest(valid(), check), valid());
});

test('a complete body with every field is valid', () => {
  const body = valid(
    {
      numHost: 2,
      numGuest: 23,
      provideShortUrls: true,
      verticalType: 'gen',
      loginUrlForHost: false,
      jweAlg: 'PBES2-HS256+A128KW',
      saltLength: 8,
      iterations: 32767,
      enc: 'A128CBC-HS256',
      jwsAlg: 'HS256',
    },
    {
      nbf: now,
      exp: now + 3600,
      flow: { id: 'sip-no-knock', data: [{ uri: 'instant_rounding@intadmin.room.wbx2.com' }] },
    },
  );
  assert.deepEqual(issuesOf(body), []);
});

test('Cisco-sample Nbf/Exp in milliseconds: "did you mean jwt.nbf" and the value in seconds', () => {
  const issues = issuesOf(valid({}, { Nbf: 1671480433000, Exp: 1671480433000 }));
  const nbf = issues.find((i) => i.path === 'jwt.Nbf');
  assert.ok(nbf);
  assert.equal(nbf.rule, 'unknown');
  assert.match(nbf.message, /did you mean jwt\.nbf\?/);
  assert.match(nbf.message, /in seconds that is 1671480433/);
  assert.match(issues.find((i) => i.path === 'jwt.Exp')?.message ?? '', /did you mean jwt\.exp\?/);
});

test('nbf/exp in milliseconds say so', () => {
  const [issue] = issuesOf(valid({}, { exp: 1_795_876_200_000 }));
  assert.equal(issue?.path, 'jwt.exp');
  assert.equal(issue?.rule, 'milliseconds');
  assert.match(
    issue?.message ?? '',
    /looks like milliseconds; in seconds that is 1795876200 \(2026-11-28T14:30:00Z\)/,
  );
});

test('misplaced top-level fields point to where they belong', () => {
  const issues = issuesOf({ aud: AUDIENCE, jwt: { sub: 'x' }, nbf: now, flow: {} });
  assert.match(issues.find((i) => i.path === 'nbf')?.message ?? '', /did you mean jwt\.nbf/);
  assert.match(issues.find((i) => i.path === 'flow')?.message ?? '', /did you mean jwt\.flow/);
  assert.match(issuesOf(valid({ numGuests: 2 }))[0]?.message ?? '', /did you mean numGuest/);
});

test('each broken rule has its own message, and all are reported at once', () => {
  const body = {
    aud: 'wrong'.repeat(40),
    jwt: {
      sub: '   ',
      nbf: now + 100,
      exp: now + 50,
      flow: { id: 'knock', data: [{ uri: 'not a sip uri' }] },
    },
    numHost: 26,
    numGuest: -1,
    provideShortUrls: 'maybe',
    verticalType: 'cc',
    jweAlg: 'RSA-OAEP',
    saltLength: 7,
    iterations: 40000,
    enc: 'A256KW',
    jwsAlg: 'none',
    extra: 1,
  };
  const found = paths(body);
  for (const expected of [
    'aud:length',
    'jwt.sub:empty',
    'jwt.flow.id:enum',
    'jwt.flow.data[0].uri:format',
    'numHost:range',
    'numGuest:range',
    'provideShortUrls:type',
    'verticalType:enum',
    'jweAlg:enum',
    'saltLength:range',
    'iterations:range',
    'enc:enum',
    'jwsAlg:enum',
    'extra:unknown',
  ]) {
    assert.ok(found.includes(expected), `missing ${expected} in ${found.join(', ')}`);
  }
  const sip = issuesOf(body).find((i) => i.path === 'jwt.flow.data[0].uri');
  assert.match(sip?.message ?? '', /must be a SIP URI/);
  assert.match(
    issuesOf(body).find((i) => i.path === 'iterations')?.message ?? '',
    /from 1000 to 32767 \(got 40000\)/,
  );
});

test('window rules: nbf before exp; exp not in the past unless allowed', () => {
  assert.deepEqual(paths(valid({}, { nbf: now + 60, exp: now + 60 })), ['jwt.nbf:order']);
  assert.deepEqual(paths(valid({}, { exp: now - 1 })), ['jwt.exp:past']);
  assert.deepEqual(paths(valid({}, { exp: now })), ['jwt.exp:past']);
  assert.deepEqual(joseEncryptIssues(valid({}, { nbf: 0, exp: 0 }), { now, refusePastExpiry: false }), [
    {
      path: 'jwt.nbf',
      rule: 'order',
      message: 'jwt.nbf (1970-01-01T00:00:00Z) must be before jwt.exp (1970-01-01T00:00:00Z)',
    },
  ]);
});

test('more than 25 links in one call, or none, is refused', () => {
  assert.deepEqual(paths(valid({ numHost: 5, numGuest: 21 })), ['numHost:total']);
  assert.match(
    issuesOf(valid({ numHost: 5, numGuest: 21 }))[0]?.message ?? '',
    /at most 25 per call \(got 26\)/,
  );
  assert.deepEqual(paths(valid({ numHost: 0, numGuest: 0 })), ['numHost:total']);
  assert.deepEqual(paths(valid({ numHost: 0, numGuest: 25 })), []);
});

test('missing and wrongly typed essentials', () => {
  assert.deepEqual(paths({}), ['aud:required', 'jwt:required']);
  assert.deepEqual(paths({ aud: AUDIENCE, jwt: {} }), ['jwt.sub:required']);
  assert.deepEqual(paths([]), [':type']);
  assert.deepEqual(paths(null), [':type']);
  assert.deepEqual(paths(valid({}, { sub: 42 })), ['jwt.sub:type']);
  assert.deepEqual(paths(valid({ numHost: 1.5 })), ['numHost:integer']);
  assert.deepEqual(paths(valid({}, { flow: { id: 'sip-no-knock', data: [] } })), ['jwt.flow.data:count']);
});

test('validateJoseEncryptRequest throws a ValidationError carrying every issue', () => {
  assert.throws(
    () => validateJoseEncryptRequest({ aud: AUDIENCE, jwt: { sub: '' }, numHost: 99 }, check),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.equal(err.code, 'ERR_VALIDATION');
      assert.equal(err.httpStatus, 400);
      assert.deepEqual(
        err.issues.map((i) => i.path),
        ['jwt.sub', 'numHost'],
      );
      return true;
    },
  );
});

const sipUri = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9._-]{1,20}$/),
    fc.stringMatching(/^[a-z0-9-]{1,12}$/),
    fc.stringMatching(/^[a-z]{2,6}$/),
    fc.boolean(),
  )
  .map(([user, host, tld, prefix]) => `${prefix ? 'sip:' : ''}${user}@${host}.${tld}`);

const validBody = fc
  .record(
    {
      sub: fc.string({ minLength: 1, maxLength: 256 }).filter((s) => /\S/.test(s)),
      nbf: fc.integer({ min: now - 86400, max: now + 86400 }),
      length: fc.integer({ min: 1, max: 86400 * 30 }),
      numHost: fc.integer({ min: 0, max: 25 }),
      extraGuests: fc.integer({ min: 0, max: 25 }),
      devices: fc.array(sipUri, { maxLength: 4 }),
      provideShortUrls: fc.boolean(),
      verticalType: fc.constantFrom(...VERTICALS),
      loginUrlForHost: fc.boolean(),
      jweAlg: fc.constantFrom(...JWE_ALGS),
      enc: fc.constantFrom(...ENCS),
      jwsAlg: fc.constantFrom(...JWS_ALGS),
      saltLength: fc.integer({ min: SALT_LENGTH.min, max: SALT_LENGTH.max }),
      iterations: fc.integer({ min: ITERATIONS.min, max: ITERATIONS.max }),
    },
    { requiredKeys: ['sub', 'nbf', 'length', 'numHost', 'extraGuests'] },
  )
  .map((r) => {
    const numGuest = Math.max(r.numHost === 0 ? 1 : 0, Math.min(25 - r.numHost, r.extraGuests));
    const exp = Math.max(r.nbf, now) + r.length;
    const { sub, nbf, length: _l, extraGuests: _e, devices, ...rest } = r;
    const body: JoseEncryptRequest = {
      aud: AUDIENCE,
      jwt: {
        sub,
        nbf,
        exp,
        ...(devices?.length ? { flow: { id: 'sip-no-knock', data: devices.map((uri) => ({ uri })) } } : {}),
      },
      ...rest,
      numGuest,
    };
    return body;
  });

test('property: any valid body is accepted and round-trips through JSON unchanged', () => {
  fc.assert(
    fc.property(validBody, (body) => {
      const wire = JSON.parse(JSON.stringify(body));
      assert.deepEqual(issuesOf(wire), []);
      assert.deepEqual(validateJoseEncryptRequest(wire, check), body);
    }),
    { numRuns: 300 },
  );
});

const outOfRange = fc.oneof(
  fc.record({
    field: fc.constant('numHost'),
    value: fc.oneof(fc.integer({ min: 26 }), fc.integer({ max: -1 })),
  }),
  fc.record({
    field: fc.constant('numGuest'),
    value: fc.oneof(fc.integer({ min: 26 }), fc.integer({ max: -1 })),
  }),
  fc.record({
    field: fc.constant('saltLength'),
    value: fc.oneof(fc.integer({ min: 129 }), fc.integer({ max: 7 })),
  }),
  fc.record({
    field: fc.constant('iterations'),
    value: fc.oneof(fc.integer({ min: 32768 }), fc.integer({ max: 999 }), fc.double({ noInteger: true })),
  }),
  fc.record({ field: fc.constantFrom('jweAlg', 'enc', 'jwsAlg', 'verticalType'), value: fc.string() }),
  fc.record({
    field: fc.constantFrom('provideShortUrls', 'loginUrlForHost'),
    value: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
  }),
);

test('property: any out-of-range value is rejected with its field named', () => {
  fc.assert(
    fc.property(validBody, outOfRange, (body, { field, value }) => {
      const bad = { ...body, numHost: 1, numGuest: 1, [field]: value };
      const issues = issuesOf(bad);
      assert.ok(
        issues.some((i) => i.path === field),
        `expected an issue at ${field} for ${JSON.stringify(value)}, got ${JSON.stringify(issues)}`,
      );
    }),
    { numRuns: 300 },
  );
});

test('property: validation never throws on arbitrary JSON, it only reports', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assert.ok(Array.isArray(issuesOf(value)));
    }),
    { numRuns: 500 },
  );
});
