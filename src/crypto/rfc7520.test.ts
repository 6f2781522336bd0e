/**
 * Known answer: RFC 7520 §5.3, "Key Wrap Using PBES2-AES-KeyWrap with AES-CBC-HMAC-SHA2"
 * (PBES2-HS512+A256KW, A128CBC-HS256, p2c 8192, 16-byte salt). Vector text as published in the
 * RFC and in jose's cookbook (cookbook/jwe.mjs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base64url, compactDecrypt } from 'jose';
import jose from 'node-jose';
import { DECRYPT_OPTIONS, readTokenHeader, sealCompact } from './tokens.js';

const PASSWORD = 'entrap_o\u2013peter_long\u2013credit_tun';
const PLAINTEXT =
  '{"keys":[{"kty":"oct","kid":"77c7e2b8-6e13-45cf-8672-617b5b45243a","use":"enc","alg":"A128GCM","k":"XctOhJAkA-pD9Lh7ZgW_2A"},{"kty":"oct","kid":"81b20965-8332-43d9-a468-82160ad91ac8","use":"enc","alg":"A128KW","k":"GZy6sIZ6wl9NJOKB-jnmVQ"},{"kty":"oct","kid":"18ec08e1-bfa9-4d95-b205-2b4dd1d4321d","use":"enc","alg":"A256GCMKW","k":"qC57l_uxcm7Nm3K-ct4GFjx8tM1U8CZ0NLBvdQstiS8"}]}';
const SALT = '8Q1SzinasR3xchYz6ZZcHA';
const ITERATIONS = 8192;
const CEK = 'uwsjJXaBK407Qaf0_zpcpmr1Cs0CC50hIUEyGNEt3m0';
const IV = 'VBiCzVHNoLiR3F4V82uoTQ';
const COMPACT = [
  'eyJhbGciOiJQQkVTMi1IUzUxMitBMjU2S1ciLCJwMnMiOiI4UTFTemluYXNSM3hjaFl6NlpaY0hBIiwicDJjIjo4MTkyLCJjdHkiOiJqd2stc2V0K2pzb24iLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0',
  'd3qNhUWfqheyPp4H8sjOWsDYajoej4c5Je6rlUtFPWdgtURtmeDV1g',
  'VBiCzVHNoLiR3F4V82uoTQ',
  '23i-Tb1AV4n0WKVSSgcQrdg6GRqsUKxjruHXYsTHAJLZ2nsnGIX86vMXqIi6IRsfywCRFzLxEcZBRnTvG3nhzPk0GDD7FMyXhUHpDjEYCNA_XOmzg8yZR9oyjo6lTF6si4q9FZ2EhzgFQCLO_6h5EVg3vR75_hkBsnuoqoM3dwejXBtIodN84PeqMb6asmas_dpSsz7H10fC5ni9xIz424givB1YLldF6exVmL93R3fOoOJbmk2GBQZL_SEGllv2cQsBgeprARsaQ7Bq99tT80coH8ItBjgV08AtzXFFsx9qKvC982KLKdPQMTlVJKkqtV4Ru5LEVpBZXBnZrtViSOgyg6AiuwaS-rCrcD_ePOGSuxvgtrokAKYPqmXUeRdjFJwafkYEkiuDCV9vWGAi1DH2xTafhJwcmywIyzi4BqRpmdn_N-zl5tuJYyuvKhjKv6ihbsV_k1hJGPGAxJ6wUpmwC4PTQ2izEm0TuSE8oMKdTw8V3kobXZ77ulMwDs4p',
  '0HlwodAhOCILG5SQ2LQ9dg',
].join('.');

const utf8 = new TextEncoder();

test('RFC 7520 §5.3: the protected header decodes to the published JSON', () => {
  const header = Buffer.from(COMPACT.split('.')[0]!, 'base64url').toString();
  assert.equal(
    header,
    '{"alg":"PBES2-HS512+A256KW","p2s":"8Q1SzinasR3xchYz6ZZcHA","p2c":8192,"cty":"jwk-set+json","enc":"A128CBC-HS256"}',
  );
});

test('RFC 7520 §5.3: sealCompact (node:crypto primitives, our JWE format) reproduces the JWE byte for byte', async () => {
  // sealCompact writes p2s/p2c into the positions the caller's header gives them: the RFC's order here.
  const header = {
    alg: 'PBES2-HS512+A256KW',
    p2s: '',
    p2c: 0,
    cty: 'jwk-set+json',
    enc: 'A128CBC-HS256',
  } as const;
  const cipher = await sealCompact(
    utf8.encode(PLAINTEXT),
    header,
    utf8.encode(PASSWORD),
    { salt: base64url.decode(SALT), iterations: ITERATIONS },
    { cek: base64url.decode(CEK), iv: base64url.decode(IV) },
  );
  assert.equal(cipher, COMPACT);
});

test('RFC 7520 §5.3: our decrypt options open the published JWE (and a wrong password does not)', async () => {
  const { plaintext, protectedHeader } = await compactDecrypt(COMPACT, utf8.encode(PASSWORD), {
    ...DECRYPT_OPTIONS,
  });
  assert.equal(new TextDecoder().decode(plaintext), PLAINTEXT);
  assert.equal(protectedHeader.p2c, ITERATIONS);
  await assert.rejects(compactDecrypt(COMPACT, utf8.encode(`${PASSWORD}!`), { ...DECRYPT_OPTIONS }), {
    code: 'ERR_JWE_DECRYPTION_FAILED',
  });
});

test('RFC 7520 §5.3: node-jose opens the published JWE too (the oracle agrees with the vector)', async () => {
  const key = await jose.JWK.asKey({ kty: 'oct', k: base64url.encode(utf8.encode(PASSWORD)) });
  const result = await jose.JWE.createDecrypt(key).decrypt(COMPACT);
  assert.equal(result.payload.toString(), PLAINTEXT);
});

test('RFC 7520 §5.3: readTokenHeader refuses it as a broker token (cty is not JWT, no aud/iss)', () => {
  assert.throws(() => readTokenHeader(COMPACT), { code: 'ERR_TOKEN_INVALID', reason: 'header' });
});
