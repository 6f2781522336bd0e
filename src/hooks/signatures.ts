/**
 * Webhook signatures, always over the raw body bytes (re-serialised JSON breaks legitimate
 * deliveries) and compared in constant time after checking the header's shape.
 *
 * Webex → us: `X-Spark-Signature` = lowercase hex HMAC-SHA1(secret, raw body).
 * Workflow engines → us (POST /hooks/visits):
 *   X-IC-Hook: <hook id>
 *   X-IC-Timestamp: <epoch seconds>
 *   X-IC-Signature: v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * During a secret rotation a sender may sign with both secrets, as Stripe does: at most
 * TRIGGER_MAX_SIGNATURES `v1=` values separated by commas (optional spaces around each comma, so
 * two X-IC-Signature lines, which Node joins with ", ", work too); any one matching is enough.
 * The header is parsed once into canonical values and anything else is refused: only printable
 * ASCII (a NO-BREAK SPACE or other Unicode whitespace is not trimmed away, it is refused), only
 * lowercase hex of the exact length.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TRIGGER_HEADERS = {
  hook: 'x-ic-hook',
  timestamp: 'x-ic-timestamp',
  signature: 'x-ic-signature',
} as const;

/** How far a trigger's timestamp may be from our clock (seconds). */
export const TRIGGER_TOLERANCE_SECONDS = 300;

/** How many `v1=` signatures one X-IC-Signature header may carry (two during a secret rotation). */
const TRIGGER_MAX_SIGNATURES = 2;

/** Printable ASCII only: no control character, no NO-BREAK SPACE, nothing outside 0x20–0x7E. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const V1_SIGNATURE = /^v1=([0-9a-f]{64})$/;

function equalHex(expected: Buffer, given: string, hexLength: number): boolean {
  if (given.length !== hexLength || !/^[0-9a-f]+$/.test(given)) return false;
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

export function sparkSignature(secret: string, rawBody: Buffer | string): string {
  return createHmac('sha1', secret).update(rawBody).digest('hex');
}

export function verifySparkSignature(secret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  return equalHex(createHmac('sha1', secret).update(rawBody).digest(), header.trim().toLowerCase(), 40);
}

export function triggerSignature(
  secret: string,
  timestamp: number | string,
  rawBody: Buffer | string,
): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
}

export type TriggerCheck =
  | {
      ok: true;
      /** The canonical timestamp (epoch seconds) that was signed. */
      timestamp: number;
    }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch'; message: string };

export type ParsedSignatures =
  | { ok: true; signatures: Buffer[] }
  | { ok: false; reason: 'missing' | 'malformed'; message: string };

/**
 * X-IC-Signature parsed into its canonical values (the 32-byte HMACs): `v1=<64 lowercase hex>`,
 * up to TRIGGER_MAX_SIGNATURES of them separated by `,` (spaces around a comma allowed).
 */
export function parseTriggerSignatures(header: string | undefined): ParsedSignatures {
  if (!header) return { ok: false, reason: 'missing', message: 'X-IC-Signature is required' };
  if (!PRINTABLE_ASCII.test(header)) {
    return {
      ok: false,
      reason: 'malformed',
      message: 'X-IC-Signature must be printable ASCII (no control, non-ASCII or Unicode space characters)',
    };
  }
  const parts = header.split(',');
  if (parts.length > TRIGGER_MAX_SIGNATURES) {
    return {
      ok: false,
      reason: 'malformed',
      message: `X-IC-Signature carries at most ${TRIGGER_MAX_SIGNATURES} signatures`,
    };
  }
  const signatures: Buffer[] = [];
  for (const part of parts) {
    const given = V1_SIGNATURE.exec(part.replace(/^ +| +$/g, ''));
    if (!given) {
      return {
        ok: false,
        reason: 'malformed',
        message:
          'X-IC-Signature must be v1=<64 lowercase hex characters> (two, comma-separated, while rotating)',
      };
    }
    signatures.push(Buffer.from(given[1]!, 'hex'));
  }
  return { ok: true, signatures };
}

export function verifyTriggerSignature(options: {
  /** The hook's secret, or its secrets while a rotation's grace period lasts (any one may sign). */
  secret: string | readonly string[];
  rawBody: Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
  now: number;
  toleranceSeconds?: number;
}): TriggerCheck {
  const { timestamp, signature } = options;
  if (!timestamp || !signature) {
    return { ok: false, reason: 'missing', message: 'X-IC-Timestamp and X-IC-Signature are required' };
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: 'malformed', message: 'X-IC-Timestamp must be epoch seconds' };
  }
  const tolerance = options.toleranceSeconds ?? TRIGGER_TOLERANCE_SECONDS;
  const skew = Math.abs(options.now - Number(timestamp));
  if (skew > tolerance) {
    return {
      ok: false,
      reason: 'stale',
      message: `X-IC-Timestamp is ${skew} s from the server's clock (at most ${tolerance} s)`,
    };
  }
  const parsed = parseTriggerSignatures(signature);
  if (!parsed.ok) return parsed;
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  let matched = false;
  // Every (secret, signature) pair is compared, in constant time each: at most 2 × 2 HMAC compares.
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(options.rawBody).digest();
    for (const given of parsed.signatures) if (timingSafeEqual(expected, given)) matched = true;
  }
  if (!matched) return { ok: false, reason: 'mismatch', message: 'The signature does not match the body' };
  return { ok: true, timestamp: Number(timestamp) };
}
