/**
 * Issuing's JOSE, over node:crypto primitives: the compact JWE with PBES2 key wrapping (RFC 7516
 * §7.1; RFC 7518 §4.8 PBES2, §4.4 AES Key Wrap, §5.2 AES-CBC-HMAC-SHA2, §5.3 AES-GCM) and the
 * inner HMAC JWS (RFC 7515, RFC 7518 §3.2). Only the format is written here; every primitive is
 * node:crypto's: pbkdf2 (libuv's pool, off the main thread), id-aesNNN-wrap, aes-NNN-gcm,
 * aes-NNN-cbc, HMAC.
 *
 * Why not jose, which opens every token (tokens.ts)? jose seals through WebCrypto, where each of a
 * token's five steps (import, derive, wrap, encrypt, sign) is a job with its own promise and
 * thread-pool round trip: measured, about 1 ms of main-thread work per token, which capped the
 * broker near 0.2 of raw PBKDF2 on 2-link calls at p2c 1000. Here the small steps are synchronous
 * (about 0.1 ms together) and only PBKDF2 leaves the main thread.
 *
 * jose stays the oracle: the tests open every alg × enc × jwsAlg combination with jose and with
 * node-jose, and the RFC 7520 §5.3 vector is reproduced byte for byte.
 */
import { createCipheriv, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import type { Enc, JweAlg, JwsAlg } from '../domain/constants.js';

type Hash = 'sha256' | 'sha384' | 'sha512';

/** RFC 7518 §4.8: the PBKDF2 hash and the AES Key Wrap key size each PBES2 algorithm names. */
const PBES2: Record<JweAlg, { hash: Hash; kekBytes: number; wrap: string }> = {
  'PBES2-HS256+A128KW': { hash: 'sha256', kekBytes: 16, wrap: 'id-aes128-wrap' },
  'PBES2-HS384+A192KW': { hash: 'sha384', kekBytes: 24, wrap: 'id-aes192-wrap' },
  'PBES2-HS512+A256KW': { hash: 'sha512', kekBytes: 32, wrap: 'id-aes256-wrap' },
};

/** RFC 7518 §5: the content key, IV and tag sizes, the cipher, and for CBC the MAC's hash. */
const CONTENT: Record<Enc, { cekBytes: number; ivBytes: number; cipher: string; mac?: Hash }> = {
  'A128CBC-HS256': { cekBytes: 32, ivBytes: 16, cipher: 'aes-128-cbc', mac: 'sha256' },
  'A192CBC-HS384': { cekBytes: 48, ivBytes: 16, cipher: 'aes-192-cbc', mac: 'sha384' },
  'A256CBC-HS512': { cekBytes: 64, ivBytes: 16, cipher: 'aes-256-cbc', mac: 'sha512' },
  A128GCM: { cekBytes: 16, ivBytes: 12, cipher: 'aes-128-gcm' },
  A192GCM: { cekBytes: 24, ivBytes: 12, cipher: 'aes-192-gcm' },
  A256GCM: { cekBytes: 32, ivBytes: 12, cipher: 'aes-256-gcm' },
};

const JWS_HASH: Record<JwsAlg, Hash> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** RFC 3394 §2.2.3.1: AES Key Wrap's default initial value. */
const KEY_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

function derive(
  password: Uint8Array,
  salt: Buffer,
  iterations: number,
  bytes: number,
  hash: Hash,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pbkdf2(password, salt, iterations, bytes, hash, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function run(cipher: ReturnType<typeof createCipheriv>, data: Uint8Array): Buffer {
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/**
 * The compact JWE of `plaintext` under `password`, with `header` as its protected header, written
 * as given (member order kept: its `p2s` and `p2c` must already hold the salt's base64url and the
 * iteration count). `fixed` (CEK and IV) is for the RFC 7520 known-answer test only.
 */
export async function encryptPbes2(
  plaintext: Uint8Array,
  header: Record<string, unknown> & { alg: JweAlg; enc: Enc },
  password: Uint8Array,
  pbes2: { salt: Uint8Array; iterations: number },
  fixed?: { cek: Uint8Array; iv: Uint8Array },
): Promise<string> {
  const wrap = PBES2[header.alg];
  const content = CONTENT[header.enc];
  if (fixed && (fixed.cek.length !== content.cekBytes || fixed.iv.length !== content.ivBytes))
    throw new RangeError(
      `a fixed CEK and IV for ${header.enc} are ${content.cekBytes} and ${content.ivBytes} bytes`,
    );
  const encodedHeader = b64(JSON.stringify(header));
  // RFC 7518 §4.8.1.1: the PBKDF2 salt is the algorithm's name, a zero byte, then p2s.
  const salt = Buffer.concat([Buffer.from(header.alg, 'utf8'), Buffer.alloc(1), pbes2.salt]);
  const kek = await derive(password, salt, pbes2.iterations, wrap.kekBytes, wrap.hash);
  const cek = fixed?.cek ?? randomBytes(content.cekBytes);
  const wrappedKey = run(createCipheriv(wrap.wrap, kek, KEY_WRAP_IV), cek);
  const iv = fixed?.iv ?? randomBytes(content.ivBytes);
  const aad = Buffer.from(encodedHeader, 'ascii');
  let ciphertext: Buffer;
  let tag: Buffer;
  if (content.mac) {
    // RFC 7518 §5.2.2.1: the first half of the CEK is the MAC key, the second the AES key; the tag
    // is the first half of HMAC(AAD || IV || ciphertext || AAD length in bits, 64-bit big-endian).
    const half = content.cekBytes / 2;
    ciphertext = run(createCipheriv(content.cipher, cek.subarray(half), iv), plaintext);
    const aadBits = Buffer.alloc(8);
    aadBits.writeBigUInt64BE(BigInt(aad.length * 8));
    tag = createHmac(content.mac, cek.subarray(0, half))
      .update(aad)
      .update(iv)
      .update(ciphertext)
      .update(aadBits)
      .digest()
      .subarray(0, half);
  } else {
    const gcm = createCipheriv(content.cipher as 'aes-256-gcm', cek, iv, { authTagLength: 16 });
    gcm.setAAD(aad);
    ciphertext = run(gcm, plaintext);
    tag = gcm.getAuthTag();
  }
  return `${encodedHeader}.${b64(wrappedKey)}.${b64(iv)}.${b64(ciphertext)}.${b64(tag)}`;
}

/** The compact HMAC JWS of `claims` (header `{"alg","typ":"JWT"}`), as jose's SignJWT writes it. */
export function signHmacJwt(claims: Record<string, unknown>, alg: JwsAlg, secret: Uint8Array): string {
  const input = `${b64(JSON.stringify({ alg, typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${createHmac(JWS_HASH[alg], secret).update(input).digest('base64url')}`;
}
