/** Short-link codes: 7 characters of [A-Za-z0-9] from a secure random source, without modulo bias. */
import { defaultRandomBytes, type RandomBytes } from './subject.js';

const SHORT_CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const SHORT_CODE_LENGTH = 7;

export function generateShortCode(randomBytes: RandomBytes = defaultRandomBytes): string {
  let code = '';
  while (code.length < SHORT_CODE_LENGTH) {
    for (const byte of randomBytes(16)) {
      // 248 = 4 × 62: bytes at or above it would favour the first letters, so they are drawn again.
      if (byte < 248 && code.length < SHORT_CODE_LENGTH) code += SHORT_CODE_ALPHABET[byte % 62];
    }
  }
  return code;
}
