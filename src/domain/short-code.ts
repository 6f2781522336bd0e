/** Short-link codes: 7 characters of [A-Za-z0-9] from a secure random source, without modulo bias. */
import { defaultRandomBytes, type RandomBytes } from './subject.js';

const SHORT_CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const SHORT_CODE_LENGTH = 7;
/**
 * Gateway codes (links to Cisco's URLs through this service): 10 characters, about 60 bits. Their
 * length alone keeps them apart from the broker's 7-character short codes on the same path
 * (`/visit/{code}`), so no look-up across the two tables is needed to avoid a collision.
 */
export const GATEWAY_CODE_LENGTH = 10;

export function generateShortCode(
  randomBytes: RandomBytes = defaultRandomBytes,
  length: number = SHORT_CODE_LENGTH,
): string {
  let code = '';
  while (code.length < length) {
    for (const byte of randomBytes(16)) {
      // 248 = 4 × 62: bytes at or above it would favour the first letters, so they are drawn again.
      if (byte < 248 && code.length < length) code += SHORT_CODE_ALPHABET[byte % 62];
    }
  }
  return code;
}
