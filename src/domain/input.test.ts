import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ValidationError } from '../errors.js';
import { AUDIENCE } from './constants.js';
import { resolveLinkInput, toJoseEncryptRequests } from './input.js';
import type { LinkRequestInput } from './schema.js';
import { joseEncryptIssues } from './validate.js';

const now = 1_795_876_200; // 2026-11-28T14:30:00Z
const resolve = (input: LinkRequestInput) => resolveLinkInput(input, { now });

function issues(input: unknown) {
  try {
    resolveLinkInput(input as LinkRequestInput, { now });
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.issues;
  }
  return [];
}

test('defaults: one host, one guest, 15 minutes from now, a generated subject', () => {
  const r = resolve({});
  assert.equal(r.hosts, 1);
  assert.equal(r.guests, 1);
  assert.equal(r.expiresAt, now + 900);
  assert.equal(r.notBefore, undefined);
  assert.equal(r.subjectGenerated, true);
  assert.match(r.subject, /^visit-20261128-1430-/);
  assert.equal(r.audience, AUDIENCE);
  assert.equal(r.vertical, 'hc');
  assert.equal(r.hostLogin, true);
  assert.equal(r.shortUrls, false);
});

test('every friendly field maps to the wire body', () => {
  const r = resolve({
    subject: '  Visit 42 ',
    hosts: 2,
    guests: 3,
    notBefore: new Date('2026-11-29T09:00:00Z'),
    ttl: '45m',
    devices: ['room1@example.room.wbx2.com'],
    shortUrls: true,
    vertical: 'gen',
    hostLogin: false,
    crypto: {
      jweAlg: 'PBES2-HS256+A128KW',
      enc: 'A128GCM',
      jwsAlg: 'HS256',
      saltLength: 16,
      iterations: 2000,
    },
  });
  const start = Date.parse('2026-11-29T09:00:00Z') / 1000;
  assert.equal(r.subject, 'Visit 42');
  assert.equal(r.subjectGenerated, false);
  assert.equal(r.expiresAt, start + 2700, 'ttl counts from the start of the window');
  assert.deepEqual(toJoseEncryptRequests(r), [
    {
      aud: AUDIENCE,
      jwt: {
        sub: 'Visit 42',
        nbf: start,
        exp: start + 2700,
        flow: { id: 'sip-no-knock', data: [{ uri: 'room1@example.room.wbx2.com' }] },
      },
      numHost: 2,
      numGuest: 3,
      provideShortUrls: true,
      verticalType: 'gen',
      loginUrlForHost: false,
      jweAlg: 'PBES2-HS256+A128KW',
      enc: 'A128GCM',
      jwsAlg: 'HS256',
      saltLength: 16,
      iterations: 2000,
    },
  ]);
});

test('instants as ISO strings and epoch seconds; expiresAt wins over the default ttl', () => {
  const r = resolve({ notBefore: '2026-11-28T15:00:00Z', expiresAt: now + 7200 });
  assert.equal(r.notBefore, now + 1800);
  assert.equal(r.expiresAt, now + 7200);
});

test('helpful errors: milliseconds, no zone, wire names, both ttl and expiresAt, all at once', () => {
  const found = issues({
    expiresAt: 1_795_876_200_000,
    notBefore: '2026-11-28T16:00',
    numGuest: 3,
    ttl: '10m',
    hosts: -1,
    devices: ['nope'],
    subject: '',
  });
  const by = (path: string) => found.filter((i) => i.path === path).map((i) => i.rule);
  assert.deepEqual(by('expiresAt'), ['milliseconds']);
  assert.deepEqual(by('notBefore'), ['timezone']);
  assert.deepEqual(by('numGuest'), ['unknown']);
  assert.match(found.find((i) => i.path === 'numGuest')?.message ?? '', /did you mean guests\?/);
  assert.deepEqual(by('ttl'), ['exclusive']);
  assert.deepEqual(by('hosts'), ['range']);
  assert.deepEqual(by('devices[0]'), ['format']);
  assert.deepEqual(by('subject'), ['empty']);
});

test('window errors name the friendly fields', () => {
  assert.deepEqual(
    issues({ notBefore: now + 600, expiresAt: now + 60 }).map((i) => `${i.path}:${i.rule}`),
    ['notBefore:order'],
  );
  assert.deepEqual(
    issues({ expiresAt: now - 60 }).map((i) => `${i.path}:${i.rule}`),
    ['expiresAt:past'],
  );
  assert.deepEqual(
    issues({ notBefore: now - 3600 }).map((i) => `${i.path}:${i.rule}`),
    ['notBefore:past'],
    'a past start with the default length blames the start, not a ttl nobody gave',
  );
  assert.deepEqual(
    issues({ notBefore: now - 3600, ttl: '30m' }).map((i) => `${i.path}:${i.rule}`),
    ['ttl:past'],
  );
  assert.deepEqual(
    issues({ hosts: 0, guests: 0 }).map((i) => `${i.path}:${i.rule}`),
    ['hosts:total'],
  );
  assert.deepEqual(
    issues({ ttl: 'later' }).map((i) => `${i.path}:${i.rule}`),
    ['ttl:duration'],
  );
  assert.deepEqual(
    issues({ notBefore: new Date(Number.NaN) }).map((i) => `${i.path}:${i.rule}`),
    ['notBefore:date'],
  );
  assert.deepEqual(
    issues('visit please').map((i) => `${i.path}:${i.rule}`),
    [':type'],
  );
});

test('60 guests: three calls, one subject, one window', () => {
  const bodies = toJoseEncryptRequests(resolve({ subject: 'big', hosts: 1, guests: 60, notBefore: now }));
  assert.equal(bodies.length, 3);
  assert.deepEqual(
    bodies.map((b) => [b.numHost, b.numGuest]),
    [
      [1, 24],
      [0, 25],
      [0, 11],
    ],
  );
  for (const b of bodies) {
    assert.equal(b.jwt.sub, 'big');
    assert.equal(b.jwt.nbf, now);
    assert.equal(b.jwt.exp, now + 900);
  }
});

test('property: any valid friendly input plans wire bodies that the wire validator accepts', () => {
  fc.assert(
    fc.property(
      fc.record({
        hosts: fc.integer({ min: 0, max: 60 }),
        guests: fc.integer({ min: 1, max: 140 }),
        startIn: fc.integer({ min: -3600, max: 86400 }),
        ttl: fc.integer({ min: 3601, max: 86400 * 7 }),
        shortUrls: fc.boolean(),
        vertical: fc.constantFrom('gen', 'hc' as const),
      }),
      ({ hosts, guests, startIn, ttl, shortUrls, vertical }) => {
        const r = resolve({ hosts, guests, notBefore: now + startIn, ttl, shortUrls, vertical });
        const bodies = toJoseEncryptRequests(r);
        for (const body of bodies) assert.deepEqual(joseEncryptIssues(body, { now }), []);
        assert.equal(
          bodies.reduce((n, b) => n + (b.numHost ?? 0) + (b.numGuest ?? 0), 0),
          hosts + guests,
        );
      },
    ),
    { numRuns: 200 },
  );
});
