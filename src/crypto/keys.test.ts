import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InstantConnectError } from '../errors.js';
import {
  brokerKeyJwks,
  ENCRYPTION_SECRET_BYTES,
  generateBrokerKey,
  KID_PATTERN,
  parseKey,
  SIGNING_SECRET_BYTES,
  serialiseKey,
} from './keys.js';

const NOW = 1_790_000_000;

test('generateBrokerKey makes a 32-byte password, a 64-byte HMAC key and a short URL-safe kid', () => {
  const key = generateBrokerKey(NOW);
  assert.equal(key.encryptionSecret.length, ENCRYPTION_SECRET_BYTES);
  assert.equal(key.signingSecret.length, SIGNING_SECRET_BYTES);
  assert.ok(key.encryptionSecret instanceof Uint8Array && key.signingSecret instanceof Uint8Array);
  assert.match(key.kid, KID_PATTERN);
  assert.equal(key.kid.length, 12);
  assert.equal(key.createdAt, NOW);
  const other = generateBrokerKey(NOW);
  assert.notEqual(other.kid, key.kid);
  assert.notDeepEqual(other.encryptionSecret, key.encryptionSecret);
  assert.notDeepEqual(other.signingSecret, key.signingSecret);
});

test('generateBrokerKey refuses a time that is not whole epoch seconds (e.g. milliseconds)', () => {
  assert.throws(() => generateBrokerKey(Date.now() * 1000), { code: 'ERR_INTERNAL' });
  assert.throws(() => generateBrokerKey(1.5), { code: 'ERR_INTERNAL' });
  assert.throws(() => generateBrokerKey(-1), { code: 'ERR_INTERNAL' });
});

test('serialiseKey/parseKey round-trip, as an object and as JSON text', () => {
  const key = generateBrokerKey(NOW);
  const stored = serialiseKey(key);
  assert.deepEqual(Object.keys(stored), ['kid', 'encryptionSecret', 'signingSecret', 'createdAt']);
  assert.match(stored.encryptionSecret, /^[A-Za-z0-9_-]{43}$/);
  assert.match(stored.signingSecret, /^[A-Za-z0-9_-]{86}$/);
  assert.deepEqual(parseKey(stored), key);
  assert.deepEqual(parseKey(JSON.stringify(stored)), key);
});

test('parseKey refuses broken stored keys with ERR_INTERNAL, never quoting a secret', () => {
  const stored = serialiseKey(generateBrokerKey(NOW));
  const cases: Array<[string, unknown]> = [
    ['not JSON', '{nope'],
    ['an array', '[]'],
    ['short password', { ...stored, encryptionSecret: stored.encryptionSecret.slice(0, 40) }],
    ['signing key of the password length', { ...stored, signingSecret: stored.encryptionSecret }],
    ['padding', { ...stored, encryptionSecret: `${stored.encryptionSecret}=` }],
    ['standard base64', { ...stored, signingSecret: `+${stored.signingSecret.slice(1)}` }],
    ['non-canonical last character', { ...stored, encryptionSecret: nonCanonical(stored.encryptionSecret) }],
    ['bad kid', { ...stored, kid: 'a b' }],
    ['empty kid', { ...stored, kid: '' }],
    ['no createdAt', { ...stored, createdAt: undefined }],
    ['createdAt in ms', { ...stored, createdAt: NOW * 1000 }],
  ];
  for (const [name, input] of cases) {
    assert.throws(
      () => parseKey(input as string),
      (error: unknown) => {
        assert.ok(error instanceof InstantConnectError, name);
        assert.equal(error.code, 'ERR_INTERNAL', name);
        assert.ok(!error.message.includes(stored.encryptionSecret.slice(0, 20)), name);
        assert.ok(!error.message.includes(stored.signingSecret.slice(0, 20)), name);
        return true;
      },
      name,
    );
  }
});

/** 32 bytes are 43 characters; the last carries 2 unused bits: setting one keeps the bytes. */
function nonCanonical(secret: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(secret.at(-1)!);
  return secret.slice(0, -1) + alphabet[last ^ 1];
}

test('brokerKeyJwks: an oct JWK per secret, use enc (kid: the broker kid) and sig, no alg to pin', () => {
  const key = generateBrokerKey(NOW);
  const { encryption, signing } = brokerKeyJwks(key);
  assert.deepEqual(encryption, {
    kty: 'oct',
    k: Buffer.from(key.encryptionSecret).toString('base64url'),
    kid: key.kid,
    use: 'enc',
  });
  assert.deepEqual(signing, {
    kty: 'oct',
    k: Buffer.from(key.signingSecret).toString('base64url'),
    kid: `${key.kid}.sig`,
    use: 'sig',
  });
  // Unpadded base64url of exactly the secret's bytes, as RFC 7518 §6.4.1 asks.
  assert.match(encryption.k, /^[A-Za-z0-9_-]{43}$/);
  assert.match(signing.k, /^[A-Za-z0-9_-]{86}$/);
  assert.deepEqual(new Uint8Array(Buffer.from(encryption.k, 'base64url')), key.encryptionSecret);
  assert.deepEqual(new Uint8Array(Buffer.from(signing.k, 'base64url')), key.signingSecret);
  assert.ok(!KID_PATTERN.test(signing.kid), "the signing kid can never be another broker key's kid");
  assert.throws(() => brokerKeyJwks({ ...key, signingSecret: new Uint8Array(8) }), { code: 'ERR_INTERNAL' });
});
