/**
 * WebCrypto keys imported once per broker key, not once per token: handing jose raw bytes makes
 * it import them on every call, which measured as a quarter of the per-token cost at p2c 1000.
 * Cached per BrokerKey object (WeakMap), so a dropped key takes its imports with it.
 */
import type { webcrypto } from 'node:crypto';
import type { JwsAlg } from '../domain/constants.js';
import type { BrokerKey } from './keys.js';

interface Imported {
  password?: Promise<CryptoKey>;
  hmac: Map<JwsAlg, Promise<CryptoKey>>;
}

type CryptoKey = webcrypto.CryptoKey;

const cache = new WeakMap<BrokerKey, Imported>();
const HASH: Record<JwsAlg, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

function entry(key: BrokerKey): Imported {
  let found = cache.get(key);
  if (!found) {
    found = { hmac: new Map() };
    cache.set(key, found);
  }
  return found;
}

/** The PBES2 password as a non-extractable PBKDF2 key (the hash is chosen per derivation). */
export function passwordKey(key: BrokerKey): Promise<CryptoKey> {
  const e = entry(key);
  e.password ??= crypto.subtle.importKey('raw', key.encryptionSecret, 'PBKDF2', false, ['deriveBits']);
  return e.password;
}

/** The inner JWS key for one HMAC algorithm (WebCrypto binds an HMAC key to its hash). */
export function signingKey(key: BrokerKey, alg: JwsAlg): Promise<CryptoKey> {
  const e = entry(key);
  let found = e.hmac.get(alg);
  if (!found) {
    found = crypto.subtle.importKey('raw', key.signingSecret, { name: 'HMAC', hash: HASH[alg] }, false, [
      'sign',
      'verify',
    ]);
    e.hmac.set(alg, found);
  }
  return found;
}
