/**
 * Webhook signatures, always over the raw body bytes (re-serialised JSON breaks legitimate
 * deliveries) and compared in constant time after checking the header's shape.
 *
 * Webex → us: `X-Spark-Signature` = lowercase hex HMAC-SHA1(secret, raw body).
 * Workflow engines → us (POST /hooks/visits):
 *   X-IC-Hook: <hook id>
 *   X-IC-Timestamp: <epoch seconds>
 *   X-IC-Signature: v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TRIGGER_HEADERS = {
  hook: 'x-ic-hook',
  timestamp: 'x-ic-timestamp',
  signature: 'x-ic-signature',
} as const;

/** How far a trigger's timestamp may be from our clock (seconds). */
export const TRIGGER_TOLERANCE_SECONDS = 300;

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
  | { ok: true }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch'; message: string };

export function verifyTriggerSignature(options: {
  secret: string;
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
  const skew = Math.abs(options.now - Number(timestamp));
  if (skew > (options.toleranceSeconds ?? TRIGGER_TOLERANCE_SECONDS)) {
    return {
      ok: false,
      reason: 'stale',
      message: `X-IC-Timestamp is ${skew} s from the server's clock (at most 300 s)`,
    };
  }
  const given = /^v1=([0-9a-f]{64})$/.exec(signature.trim());
  if (!given)
    return {
      ok: false,
      reason: 'malformed',
      message: 'X-IC-Signature must be v1=<64 lowercase hex characters>',
    };
  const expected = createHmac('sha256', options.secret)
    .update(`${timestamp}.`)
    .update(options.rawBody)
    .digest();
  if (!equalHex(expected, given[1]!, 64)) {
    return { ok: false, reason: 'mismatch', message: 'The signature does not match the body' };
  }
  return { ok: true };
}
