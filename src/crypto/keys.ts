/**
 * The broker's secret keys. One BrokerKey holds two independent secrets: the PBES2 password
 * that encrypts every token (outer JWE) and the HMAC key that signs the claims inside it
 * (inner JWS). Keys rotate: the newest key issues, older ones stay to open tokens they issued,
 * and the `kid` in each token's header names the key to try first.
 *
 * No I/O here: storing keys is the caller's business, through `serialiseKey`/`parseKey`.
 */
import { randomBytes } from 'node:crypto';
import { InstantConnectError } from '../errors.js';

/** Bytes of the PBES2 password (256 bits: more than any of the three PBES2 variants derives). */
export const ENCRYPTION_SECRET_BYTES = 32;
/** Bytes of the HMAC key: 512 bits, the block-size-bounded maximum useful for HS512. */
export const SIGNING_SECRET_BYTES = 64;
/** A key id is short (it rides in every token header) and URL-safe. */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export interface BrokerKey {
  /** Public name of the key, written to each token header as `kid`. */
  kid: string;
  /** 32 random bytes: the PBES2 password of the outer JWE. */
  encryptionSecret: Uint8Array;
  /** 64 random bytes: the HMAC key of the inner JWS. */
  signingSecret: Uint8Array;
  /** When the key was made, epoch seconds. */
  createdAt: number;
}

/** The JSON-safe form of a BrokerKey, for a database row or a file: secrets in base64url. */
export interface SerialisedBrokerKey {
  kid: string;
  encryptionSecret: string;
  signingSecret: string;
  createdAt: number;
}

function keyError(message: string): InstantConnectError {
  // A broken stored key is the server's fault, never the caller's: ERR_INTERNAL (500).
  return new InstantConnectError('ERR_INTERNAL', `Broker key: ${message}`);
}

function assertEpochSeconds(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value >= 1e11) {
    throw keyError(`${what} must be whole epoch seconds`);
  }
}

/** Makes a fresh key from the system CSPRNG. `now` is epoch seconds. */
export function generateBrokerKey(now: number): BrokerKey {
  assertEpochSeconds(now, 'createdAt');
  return {
    // 9 random bytes: 12 base64url characters, 72 bits, no collision worth a thought.
    kid: randomBytes(9).toString('base64url'),
    encryptionSecret: new Uint8Array(randomBytes(ENCRYPTION_SECRET_BYTES)),
    signingSecret: new Uint8Array(randomBytes(SIGNING_SECRET_BYTES)),
    createdAt: now,
  };
}

/** Checks a key's shape (kid, secret lengths, createdAt); throws ERR_INTERNAL naming the field only. */
export function assertBrokerKey(key: unknown): asserts key is BrokerKey {
  if (typeof key !== 'object' || key === null) throw keyError('not an object');
  const k = key as Partial<BrokerKey>;
  if (typeof k.kid !== 'string' || !KID_PATTERN.test(k.kid)) throw keyError('kid is missing or malformed');
  if (!(k.encryptionSecret instanceof Uint8Array) || k.encryptionSecret.length !== ENCRYPTION_SECRET_BYTES) {
    throw keyError(`encryptionSecret must be ${ENCRYPTION_SECRET_BYTES} bytes`);
  }
  if (!(k.signingSecret instanceof Uint8Array) || k.signingSecret.length !== SIGNING_SECRET_BYTES) {
    throw keyError(`signingSecret must be ${SIGNING_SECRET_BYTES} bytes`);
  }
  assertEpochSeconds(k.createdAt, 'createdAt');
}

export function serialiseKey(key: BrokerKey): SerialisedBrokerKey {
  assertBrokerKey(key);
  return {
    kid: key.kid,
    encryptionSecret: Buffer.from(key.encryptionSecret).toString('base64url'),
    signingSecret: Buffer.from(key.signingSecret).toString('base64url'),
    createdAt: key.createdAt,
  };
}

/** Strict base64url: the alphabet only, no padding, and the canonical encoding of what it decodes to. */
function decodeSecret(value: unknown, field: string, bytes: number): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value)) {
    throw keyError(`${field} must be a base64url string`);
  }
  const decoded = Buffer.from(value, 'base64url');
  if (decoded.toString('base64url') !== value) throw keyError(`${field} is not canonical base64url`);
  if (decoded.length !== bytes) throw keyError(`${field} must decode to ${bytes} bytes`);
  return new Uint8Array(decoded);
}

/** Reads a stored key (an object or its JSON text). Messages name fields, never secret values. */
export function parseKey(input: SerialisedBrokerKey | string): BrokerKey {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch {
      throw keyError('stored key is not valid JSON');
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw keyError('not an object');
  const r = raw as Record<string, unknown>;
  const key: BrokerKey = {
    kid: typeof r.kid === 'string' ? r.kid : '',
    encryptionSecret: decodeSecret(r.encryptionSecret, 'encryptionSecret', ENCRYPTION_SECRET_BYTES),
    signingSecret: decodeSecret(r.signingSecret, 'signingSecret', SIGNING_SECRET_BYTES),
    createdAt: r.createdAt as number,
  };
  assertBrokerKey(key);
  return key;
}

/**
 * One broker secret as a symmetric JWK (RFC 7517 §6.4), the form JOSE libraries import
 * (jose, node-jose, python jwcrypto, Nimbus…). `use` says which half of the token it opens.
 *
 * No `alg` member on purpose: a JWK's `alg` pins the key to that one algorithm (node-jose, for
 * one, then refuses it for any other), but the same password opens tokens of all three PBES2
 * variants and the same HMAC key verifies HS256, HS384 and HS512, each chosen per request. A
 * consumer pins the algorithms with its library's allow-list instead (docs/token-format.md).
 */
export interface BrokerJwk {
  kty: 'oct';
  /** The secret's bytes, base64url without padding. */
  k: string;
  /** `enc`: the PBES2 password, the broker key's kid (what each token header names). `sig`: `<kid>.sig`. */
  kid: string;
  use: 'enc' | 'sig';
}

/** The two JWKs that open (`enc`) and verify (`sig`) the tokens of one broker key: secrets, handle as such. */
export function brokerKeyJwks(key: BrokerKey): { encryption: BrokerJwk; signing: BrokerJwk } {
  assertBrokerKey(key);
  return {
    encryption: {
      kty: 'oct',
      k: Buffer.from(key.encryptionSecret).toString('base64url'),
      kid: key.kid,
      use: 'enc',
    },
    // A kid of its own (RFC 7517 §4.5: distinct within a set); the inner JWS names no kid, and a
    // "." is never in a broker kid, so it cannot collide with another key's.
    signing: {
      kty: 'oct',
      k: Buffer.from(key.signingSecret).toString('base64url'),
      kid: `${key.kid}.sig`,
      use: 'sig',
    },
  };
}
