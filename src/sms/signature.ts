/**
 * Twilio's request signature (X-Twilio-Signature), as Twilio documents it for webhooks with a form
 * body: the full URL Twilio called (scheme, host, path and query string), then each POST parameter
 * name followed by its value, the names sorted (a name sent twice: its values sorted too), then
 * HMAC-SHA1 keyed with the account's auth token, in base64. Compared in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';

/** The string Twilio signs: the URL, then every name and value of the form, sorted by name. */
function signedString(url: string, params: URLSearchParams): string {
  const pairs = [...params.entries()].sort(([a, x], [b, y]) =>
    a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0,
  );
  return url + pairs.map(([name, value]) => `${name}${value}`).join('');
}

export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  return createHmac('sha1', authToken).update(signedString(url, params), 'utf8').digest('base64');
}

/** Whether the header is Twilio's signature of this URL and form (false when absent or malformed). */
export function verifyTwilioSignature(
  authToken: string,
  url: string,
  params: URLSearchParams,
  header: string | undefined,
): boolean {
  if (!header || !/^[A-Za-z0-9+/]{27}=$/.test(header.trim())) return false;
  const expected = createHmac('sha1', authToken).update(signedString(url, params), 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(header.trim(), 'base64'));
}
