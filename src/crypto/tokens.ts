/**
 * The broker's tokens, made the way Cisco's broker makes them: the claims are signed (an HMAC
 * JWS, `jwsAlg`), then encrypted (a PBES2 JWE compact serialisation, `jweAlg` + `enc`) with the
 * protected header `{"p2s","p2c","aud","iss","cty":"JWT","enc","alg"}` in that order — so every
 * token starts with `eyJwMnMiOi`, like a real one (reference §9.1) — plus our `kid` last.
 *
 * Pure crypto: no I/O, no clock (callers pass `now`), no database. Every failure leaves this
 * module as a TokenError / ValidationError / InstantConnectError: jose's errors never escape.
 * Error messages never quote a secret, a salt, a claim value or the cipher.
 */

import { randomBytes } from 'node:crypto';
import { base64url, compactDecrypt, type DecryptOptions, jwtVerify } from 'jose';
import {
  ENCS,
  type Enc,
  FLOW_IDS,
  ITERATIONS,
  JWE_ALGS,
  JWS_ALGS,
  type JweAlg,
  type JwsAlg,
  MAX_DEVICES,
  type Role,
  SALT_LENGTH,
  SUBJECT_MAX_LENGTH,
  VERTICALS,
  type Vertical,
} from '../domain/constants.js';
import { type FlowSpec, SIP_URI_PATTERN } from '../domain/schema.js';
import {
  InstantConnectError,
  type Issue,
  TokenError,
  type TokenFailure,
  ValidationError,
} from '../errors.js';
import { passwordKey, signingKey } from './imported-keys.js';
import { encryptPbes2, signHmacJwt } from './jwe.js';
import { assertBrokerKey, type BrokerKey, KID_PATTERN } from './keys.js';

// ---------------------------------------------------------------------------------------------
// Types

/**
 * The claims inside a token (the inner JWS payload). Standard names where a standard exists;
 * our own additions are short (they are in every link) and documented here.
 */
export interface BrokerClaims {
  /** Subject: the visit key. Same `sub` (within one org) ⇒ same meeting space. */
  sub: string;
  /** Audience, copied from the request (Cisco's constant); also in the JWE header. */
  aud: string;
  /** Issuer: the caller's Webex org UUID; also in the JWE header. */
  iss: string;
  /** Issued at, epoch seconds. */
  iat: number;
  /** Not before, epoch seconds: the link does not open earlier. Absent: opens at once. */
  nbf?: number;
  /** Expiry, epoch seconds: the link does not open at or after it. */
  exp: number;
  /** Token id, unique per link (a UUID): names one link in logs, audits and revocation lists. */
  jti: string;
  /** Who the link is for. Host links start the meeting; guests wait for a host. */
  role: Role;
  /** Vertical (`verticalType`): `gen` or `hc`, the UI the link lands in. */
  vrt?: Vertical;
  /** Host login (`loginUrlForHost`): true if the host link goes to the login page. Host tokens only. */
  hl?: boolean;
  /** Devices dialled when the host joins (`sip-no-knock`), copied from the request. */
  flow?: FlowSpec;
}

/** How one token is sealed; the request's `jweAlg`, `enc`, `jwsAlg`, `saltLength`, `iterations`. */
export interface TokenParams {
  jweAlg: JweAlg;
  enc: Enc;
  jwsAlg: JwsAlg;
  /** Bytes of random PBES2 salt (`p2s` input), 8..128. */
  saltLength: number;
  /** PBKDF2 iterations (`p2c`), 1000..32767. */
  iterations: number;
}

/** The JWE protected header of one of our tokens, in the order it is written. */
export interface TokenHeader {
  p2s: string;
  p2c: number;
  aud: string;
  iss: string;
  cty: 'JWT';
  enc: Enc;
  alg: JweAlg;
  /** Absent in Cisco's own tokens; ours always carry it. */
  kid?: string;
}

export interface OpenOptions {
  /** The current time, epoch seconds. */
  now: number;
  /** The audience the token must be for (header `aud` and claim `aud`). */
  audience: string;
}

export interface OpenedToken {
  claims: BrokerClaims;
  header: TokenHeader;
  /** The kid of the key that opened the token (the header's, or found by trying each key). */
  kid: string;
}

/** The keys to try: a list, or a function of the header's `kid` returning candidates. */
export type KeySource = readonly BrokerKey[] | ((kid?: string) => readonly BrokerKey[]);

// ---------------------------------------------------------------------------------------------
// Errors

const invalid = (reason: TokenFailure, message: string) =>
  new TokenError('ERR_TOKEN_INVALID', reason, message);

const isoOf = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * Longest token we read, in characters. The largest legitimate token (25 devices of 256-character
 * URIs, 128-character aud/iss/jti, a 128-byte salt, A256CBC-HS512) is about 16.6 K characters
 * (measured); anything far beyond is refused unread.
 */
export const MAX_TOKEN_LENGTH = 32_768;
/** Longest protected-header segment we decode: ours stay under 750 characters (128-byte salt, 128-character aud and iss). */
const MAX_HEADER_SEGMENT_LENGTH = 1024;
/** Longest `aud`/`iss`/`jti` we accept (the request schema bounds `aud` at 128 too). */
const MAX_ID_LENGTH = 128;

/** The header members a token may carry; anything else (zip, crit, jku, epk, …) is refused. */
const HEADER_MEMBERS = new Set(['p2s', 'p2c', 'aud', 'iss', 'cty', 'enc', 'alg', 'kid']);

/** Segment sizes in bytes each `enc` implies: CEK (wrapped with AES-KW adds 8), IV, tag. */
const ENC_SIZES: Record<Enc, { cek: number; iv: number; tag: number; block: number }> = {
  'A128CBC-HS256': { cek: 32, iv: 16, tag: 16, block: 16 },
  'A192CBC-HS384': { cek: 48, iv: 16, tag: 24, block: 16 },
  'A256CBC-HS512': { cek: 64, iv: 16, tag: 32, block: 16 },
  A128GCM: { cek: 16, iv: 12, tag: 16, block: 1 },
  A192GCM: { cek: 24, iv: 12, tag: 16, block: 1 },
  A256GCM: { cek: 32, iv: 12, tag: 16, block: 1 },
};

/**
 * What `compactDecrypt` accepts, and nothing more. jose refuses PBES2 unless it is named here,
 * and refuses p2c above `maxPBES2Count` (default 10000, which would reject about 72 % of tokens
 * with a random p2c in 1000..32767), so the maximum is explicit. readTokenHeader has already
 * enforced the same bounds (and the minimum jose does not have) before any PBKDF2 work.
 */
export const DECRYPT_OPTIONS: Readonly<DecryptOptions> = Object.freeze({
  keyManagementAlgorithms: [...JWE_ALGS],
  contentEncryptionAlgorithms: [...ENCS],
  maxPBES2Count: ITERATIONS.max,
});

// ---------------------------------------------------------------------------------------------
// Validation shared by issue and open

const has = <T extends string>(list: readonly T[], value: unknown): value is T =>
  typeof value === 'string' && (list as readonly string[]).includes(value);

const isEpochSeconds = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < 1e11;

const isId = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;

const isIntIn = (value: unknown, range: { min: number; max: number }): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= range.min && value <= range.max;

const SIP_URI = new RegExp(SIP_URI_PATTERN);

function paramIssues(params: TokenParams): Issue[] {
  const issues: Issue[] = [];
  const p = (params ?? {}) as Partial<Record<keyof TokenParams, unknown>>;
  const oneOf = (field: keyof TokenParams, list: readonly string[]) => {
    if (!has(list, p[field])) {
      issues.push({ path: field, rule: 'enum', message: `${field} must be one of ${list.join(', ')}` });
    }
  };
  oneOf('jweAlg', JWE_ALGS);
  oneOf('enc', ENCS);
  oneOf('jwsAlg', JWS_ALGS);
  if (!isIntIn(p.saltLength, SALT_LENGTH)) {
    issues.push({
      path: 'saltLength',
      rule: 'range',
      message: `saltLength must be an integer from ${SALT_LENGTH.min} to ${SALT_LENGTH.max}`,
    });
  }
  if (!isIntIn(p.iterations, ITERATIONS)) {
    issues.push({
      path: 'iterations',
      rule: 'range',
      message: `iterations must be an integer from ${ITERATIONS.min} to ${ITERATIONS.max}`,
    });
  }
  return issues;
}

function flowIssues(flow: unknown, issues: Issue[]) {
  const bad = (path: string, rule: string, message: string) => issues.push({ path, rule, message });
  if (typeof flow !== 'object' || flow === null || Array.isArray(flow)) {
    return bad('claims.flow', 'type', 'claims.flow must be an object');
  }
  const f = flow as Record<string, unknown>;
  if (Object.keys(f).some((k) => k !== 'id' && k !== 'data')) {
    bad('claims.flow', 'unknown', 'claims.flow may only have id and data');
  }
  if (!has(FLOW_IDS, f.id))
    bad('claims.flow.id', 'enum', `claims.flow.id must be one of ${FLOW_IDS.join(', ')}`);
  if (!Array.isArray(f.data) || f.data.length < 1 || f.data.length > MAX_DEVICES) {
    return bad('claims.flow.data', 'range', `claims.flow.data must list 1 to ${MAX_DEVICES} devices`);
  }
  f.data.forEach((device: unknown, i) => {
    const uri = (device as { uri?: unknown } | null)?.uri;
    const keys = typeof device === 'object' && device !== null ? Object.keys(device) : [];
    if (typeof uri !== 'string' || uri.length > 256 || !SIP_URI.test(uri) || keys.length !== 1) {
      bad(`claims.flow.data[${i}]`, 'type', `claims.flow.data[${i}] must be {uri} with a SIP URI`);
    }
  });
}

/** Every rule a claim set breaks, for issuing (ValidationError) and opening (TokenError). */
function claimIssues(claims: unknown): Issue[] {
  const issues: Issue[] = [];
  const bad = (field: string, rule: string, message: string) =>
    issues.push({ path: `claims.${field}`, rule, message: `claims.${field} ${message}` });
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    return [{ path: 'claims', rule: 'type', message: 'claims must be an object' }];
  }
  const c = claims as Record<string, unknown>;
  if (
    typeof c.sub !== 'string' ||
    c.sub.length === 0 ||
    c.sub.length > SUBJECT_MAX_LENGTH ||
    !/\S/.test(c.sub)
  ) {
    bad('sub', 'type', `must be a non-blank string of at most ${SUBJECT_MAX_LENGTH} characters`);
  }
  for (const field of ['aud', 'iss', 'jti'] as const) {
    if (!isId(c[field])) bad(field, 'type', `must be a string of 1 to ${MAX_ID_LENGTH} characters`);
  }
  for (const field of ['iat', 'exp'] as const) {
    if (!isEpochSeconds(c[field])) bad(field, 'type', 'must be whole epoch seconds');
  }
  if (c.nbf !== undefined && !isEpochSeconds(c.nbf)) bad('nbf', 'type', 'must be whole epoch seconds');
  if (c.role !== 'host' && c.role !== 'guest') bad('role', 'enum', 'must be host or guest');
  if (c.vrt !== undefined && !has(VERTICALS, c.vrt))
    bad('vrt', 'enum', `must be one of ${VERTICALS.join(', ')}`);
  if (c.hl !== undefined) {
    if (typeof c.hl !== 'boolean') bad('hl', 'type', 'must be true or false');
    else if (c.role !== 'host') bad('hl', 'unknown', 'is only for host tokens');
  }
  if (c.flow !== undefined) flowIssues(c.flow, issues);
  return issues;
}

/** The claims in their fixed order, unknown members dropped (a newer broker may add some). */
function pickClaims(c: BrokerClaims): BrokerClaims {
  return {
    sub: c.sub,
    aud: c.aud,
    iss: c.iss,
    iat: c.iat,
    ...(c.nbf !== undefined && { nbf: c.nbf }),
    exp: c.exp,
    jti: c.jti,
    role: c.role,
    ...(c.vrt !== undefined && { vrt: c.vrt }),
    ...(c.hl !== undefined && { hl: c.hl }),
    ...(c.flow !== undefined && {
      flow: { id: c.flow.id, data: c.flow.data.map((d) => ({ uri: d.uri })) },
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Issue

/**
 * Seals a plaintext as a PBES2 JWE compact serialisation (jwe.ts, over node:crypto): the one
 * place that writes the salt and iteration count into the header. `header` gives the member
 * order: `p2s` and `p2c` are written with their final values in the positions it gives them
 * (first, in our tokens), and the rest stays in the order given.
 *
 * @internal exported for the RFC 7520 known-answer test; `fixed` (CEK and IV) is for that test only.
 */
export async function sealCompact(
  plaintext: Uint8Array,
  header: Record<string, unknown> & { alg: JweAlg; enc: Enc },
  password: Uint8Array,
  pbes2: { salt: Uint8Array; iterations: number },
  fixed?: { cek: Uint8Array; iv: Uint8Array },
): Promise<string> {
  const protectedHeader = { ...header, p2s: base64url.encode(pbes2.salt), p2c: pbes2.iterations };
  return encryptPbes2(plaintext, protectedHeader, password, pbes2, fixed);
}

/**
 * Signs `claims` with the key's signing secret (`jwsAlg`), then encrypts the JWS with its
 * encryption secret (`jweAlg`, `enc`, a fresh random salt of `saltLength` bytes, `iterations`).
 * Throws ValidationError for bad params or claims before any crypto; ERR_INTERNAL for a bad key.
 */
export async function issueToken(claims: BrokerClaims, params: TokenParams, key: BrokerKey): Promise<string> {
  const issues = [...paramIssues(params), ...claimIssues(claims)];
  if (issues.length > 0) throw new ValidationError(issues, 'Cannot issue token');
  assertBrokerKey(key);
  const payload = pickClaims(claims);
  const jws = signHmacJwt({ ...payload }, params.jwsAlg, key.signingSecret);
  const salt = randomBytes(params.saltLength);
  // Cisco's order; p2s/p2c values are (re)written by sealCompact in these positions.
  const header = {
    p2s: '',
    p2c: 0,
    aud: payload.aud,
    iss: payload.iss,
    cty: 'JWT',
    enc: params.enc,
    alg: params.jweAlg,
    kid: key.kid,
  };
  return sealCompact(Buffer.from(jws, 'utf8'), header, key.encryptionSecret, {
    salt,
    iterations: params.iterations,
  });
}

// ---------------------------------------------------------------------------------------------
// Read the header (no crypto)

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Decodes a segment if it is strict, canonical base64url (so no two spellings of the same bytes). */
function segmentBytes(segment: string, name: string): Buffer {
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) {
    throw invalid('malformed', `The token's ${name} is not base64url.`);
  }
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) {
    throw invalid('malformed', `The token's ${name} is not canonical base64url.`);
  }
  return bytes;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses and checks a token's protected header without any crypto: five canonical base64url
 * segments, a JSON object header with only known members, `alg`/`enc` allowed, `cty` JWT,
 * `p2c` an integer in 1000..32767, `p2s` 8..128 bytes, `aud`/`iss` present, and segment sizes
 * that fit `alg`/`enc`. Run first, so a forged `p2c` of 10,000,000 costs nothing.
 */
export function readTokenHeader(cipher: string): TokenHeader {
  if (typeof cipher !== 'string' || cipher.length === 0) throw invalid('malformed', 'The token is empty.');
  if (cipher.length > MAX_TOKEN_LENGTH) throw invalid('malformed', 'The token is too long.');
  const parts = cipher.split('.');
  if (parts.length !== 5) throw invalid('malformed', 'The token does not have five segments.');
  const [h, k, i, c, t] = parts as [string, string, string, string, string];
  if (h.length > MAX_HEADER_SEGMENT_LENGTH) throw invalid('header', 'The token header is too long.');
  const headerBytes = segmentBytes(h, 'header');
  const encryptedKey = segmentBytes(k, 'encrypted key');
  const iv = segmentBytes(i, 'initialisation vector');
  const ciphertext = segmentBytes(c, 'ciphertext');
  const tag = segmentBytes(t, 'authentication tag');

  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(headerBytes));
  } catch {
    throw invalid('header', 'The token header is not JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('header', 'The token header is not a JSON object.');
  }
  const raw = parsed as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((name) => !HEADER_MEMBERS.has(name));
  if (unknown.length > 0) throw invalid('header', 'The token header has members we do not accept.');
  if (!has(JWE_ALGS, raw.alg)) throw invalid('header', 'The token header "alg" is not allowed.');
  if (!has(ENCS, raw.enc)) throw invalid('header', 'The token header "enc" is not allowed.');
  if (raw.cty !== 'JWT') throw invalid('header', 'The token header "cty" must be JWT.');
  if (!isIntIn(raw.p2c, ITERATIONS)) {
    throw invalid(
      'header',
      `The token header "p2c" must be an integer from ${ITERATIONS.min} to ${ITERATIONS.max}.`,
    );
  }
  if (typeof raw.p2s !== 'string') throw invalid('header', 'The token header "p2s" is missing.');
  const salt = segmentBytes(raw.p2s, 'salt');
  if (salt.length < SALT_LENGTH.min || salt.length > SALT_LENGTH.max) {
    throw invalid('header', `The token salt must be ${SALT_LENGTH.min} to ${SALT_LENGTH.max} bytes.`);
  }
  if (!isId(raw.aud)) throw invalid('header', 'The token header "aud" is missing or too long.');
  if (!isId(raw.iss)) throw invalid('header', 'The token header "iss" is missing or too long.');
  if (raw.kid !== undefined && (typeof raw.kid !== 'string' || !KID_PATTERN.test(raw.kid))) {
    throw invalid('header', 'The token header "kid" is malformed.');
  }

  // Sizes the algorithms imply: junk of the wrong shape is refused before PBKDF2 runs.
  const sizes = ENC_SIZES[raw.enc];
  if (encryptedKey.length !== sizes.cek + 8) {
    throw invalid('malformed', 'The token encrypted key has the wrong length.');
  }
  if (iv.length !== sizes.iv) throw invalid('malformed', 'The token IV has the wrong length.');
  if (tag.length !== sizes.tag) throw invalid('malformed', 'The token tag has the wrong length.');
  if (ciphertext.length === 0 || ciphertext.length % sizes.block !== 0) {
    throw invalid('malformed', 'The token ciphertext has the wrong length.');
  }

  return {
    p2s: raw.p2s,
    p2c: raw.p2c,
    aud: raw.aud,
    iss: raw.iss,
    cty: 'JWT',
    enc: raw.enc,
    alg: raw.alg,
    ...(raw.kid !== undefined && { kid: raw.kid as string }),
  };
}

// ---------------------------------------------------------------------------------------------
// Open

const joseCode = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
    ? (error as { code: string }).code
    : undefined;

/** Anything that is not a jose error is our bug, not the token's: 500, with the cause kept. */
function internal(error: unknown): InstantConnectError {
  return new InstantConnectError('ERR_INTERNAL', 'Token crypto failed unexpectedly.', { cause: error });
}

/** Maps a jose error from `compactDecrypt` (the cause is dropped: it may echo header values). */
function fromDecryptError(error: unknown): TokenError | InstantConnectError {
  const code = joseCode(error);
  if (code === 'ERR_JWE_DECRYPTION_FAILED') return invalid('decryption', 'The token could not be decrypted.');
  if (code?.startsWith('ERR_JWE_') || code?.startsWith('ERR_JOSE_')) {
    return invalid('header', 'The token is not an acceptable JWE.');
  }
  return internal(error);
}

/**
 * Maps a jose error from `jwtVerify`. Its claim errors carry the whole payload, so they are never
 * kept as `cause` (a logged cause would leak the subject); only the times are copied out.
 */
function fromVerifyError(error: unknown): TokenError | InstantConnectError {
  const code = joseCode(error);
  const e = error as { claim?: string; reason?: string; payload?: Record<string, unknown> };
  if (code === 'ERR_JWT_EXPIRED') {
    const exp = e.payload?.exp;
    const expiredAt = isEpochSeconds(exp) ? exp : undefined;
    return new TokenError(
      'ERR_TOKEN_EXPIRED',
      'expired',
      expiredAt === undefined ? 'This link has expired.' : `This link expired at ${isoOf(expiredAt)}.`,
      expiredAt === undefined ? {} : { expiredAt },
    );
  }
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    if (e.claim === 'nbf' && e.reason === 'check_failed' && isEpochSeconds(e.payload?.nbf)) {
      const notBefore = e.payload.nbf as number;
      // jose checks claims only after the signature verified, so this jti is authentic.
      const jti = typeof e.payload.jti === 'string' ? e.payload.jti : undefined;
      return new TokenError(
        'ERR_TOKEN_NOT_YET_VALID',
        'not-yet-valid',
        `This link opens at ${isoOf(notBefore)}.`,
        jti === undefined ? { notBefore } : { notBefore, jti },
      );
    }
    if (e.claim === 'aud') return invalid('audience', 'The token is for another audience.');
    return invalid('claims', 'The token claims are invalid.');
  }
  if (code === 'ERR_JWT_INVALID') return invalid('claims', 'The token claims are invalid.');
  if (code?.startsWith('ERR_JWS_') || code?.startsWith('ERR_JOSE_')) {
    return invalid('signature', 'The token signature is invalid.');
  }
  return internal(error);
}

/**
 * Which keys to try. A token naming a `kid` is tried with that key only: we always write the
 * kid of the key that sealed it, so if that key fails no other would succeed, and trying them
 * would only multiply the PBKDF2 work a forged token buys. A kid we do not hold (a retired key,
 * or a forgery) is refused without any crypto. A token without a kid (not one of ours, or from
 * before kids) is tried with every key, in the order given: put the newest first.
 */
function candidates(source: KeySource, kid: string | undefined): readonly BrokerKey[] {
  const keys = typeof source === 'function' ? source(kid) : source;
  if (!Array.isArray(keys))
    throw new InstantConnectError('ERR_INTERNAL', 'Key source did not return a list.');
  if (kid === undefined) return keys;
  return keys.filter((key) => key.kid === kid);
}

/**
 * Opens a token: checks its header (readTokenHeader, no crypto), decrypts with the key its `kid`
 * names (or each key when it has none), verifies the inner JWS's HMAC with the same key's
 * signing secret, then checks `aud`, `nbf` and `exp` against `now`, the claims' shape, and that
 * the header's `aud`/`iss` match the claims'. Throws TokenError (ERR_TOKEN_INVALID,
 * ERR_TOKEN_EXPIRED with `expiredAt`, ERR_TOKEN_NOT_YET_VALID with `notBefore`).
 *
 * Each key tried costs one PBKDF2 of up to 32767 iterations: run it through a WorkLimiter.
 */
export async function openToken(cipher: string, keys: KeySource, options: OpenOptions): Promise<OpenedToken> {
  const { now, audience } = options;
  if (!isEpochSeconds(now))
    throw new InstantConnectError('ERR_INTERNAL', 'openToken: now must be epoch seconds.');
  const header = readTokenHeader(cipher);
  if (header.aud !== audience) throw invalid('audience', 'The token is for another audience.');

  const tries = candidates(keys, header.kid);
  if (tries.length === 0) throw invalid('unknown-key', 'The token was not issued with a key we hold.');
  let opened: { plaintext: Uint8Array; key: BrokerKey } | undefined;
  for (const key of tries) {
    assertBrokerKey(key);
    try {
      const { plaintext } = await compactDecrypt(cipher, await passwordKey(key), { ...DECRYPT_OPTIONS });
      opened = { plaintext, key };
      break;
    } catch (error) {
      const mapped = fromDecryptError(error);
      // A wrong key looks exactly like tampering (no oracle); only that is worth another key.
      if (mapped instanceof TokenError && mapped.reason === 'decryption') continue;
      throw mapped;
    }
  }
  if (!opened) throw invalid('decryption', 'The token could not be decrypted.');

  let jws: string;
  try {
    jws = utf8.decode(opened.plaintext);
  } catch {
    throw invalid('signature', 'The token content is not a JWS.');
  }
  let payload: Record<string, unknown>;
  try {
    const signer = opened.key;
    // The key for the JWS's own alg; jwtVerify has already checked it is one of `algorithms`.
    const verifyKey = (h: { alg?: string }) =>
      (JWS_ALGS as readonly string[]).includes(h.alg ?? '')
        ? signingKey(signer, h.alg as JwsAlg)
        : signer.signingSecret;
    const verified = await jwtVerify(jws, verifyKey, {
      algorithms: [...JWS_ALGS],
      typ: 'JWT',
      audience,
      currentDate: new Date(now * 1000),
      requiredClaims: ['sub', 'aud', 'iss', 'iat', 'exp', 'jti'],
    });
    payload = verified.payload as Record<string, unknown>;
  } catch (error) {
    throw fromVerifyError(error);
  }
  if (claimIssues(payload).length > 0) throw invalid('claims', 'The token claims are invalid.');
  const claims = pickClaims(payload as unknown as BrokerClaims);
  if (claims.aud !== header.aud) throw invalid('audience', 'The token header and claims disagree on aud.');
  if (claims.iss !== header.iss) throw invalid('claims', 'The token header and claims disagree on iss.');
  return { claims, header, kid: opened.key.kid };
}
