/**
 * Counts the PBKDF2 derivations this process runs (jose derives every PBES2 key through
 * `crypto.subtle.deriveBits`), so a test can say how much key-derivation work a request bought
 * without measuring any time. Servers started with startTestServer run in this process.
 */
const subtle = globalThis.crypto.subtle;
type Subtle = typeof subtle;

export interface Pbkdf2Counter {
  /** Derivations since the counter started. */
  readonly count: number;
  /** Restores the original `deriveBits`. */
  stop(): void;
}

export function countPbkdf2(): Pbkdf2Counter {
  const original = subtle.deriveBits;
  let count = 0;
  const counting: Subtle['deriveBits'] = function (this: Subtle, algorithm, baseKey, length) {
    const name = typeof algorithm === 'string' ? algorithm : algorithm.name;
    if (name === 'PBKDF2') count += 1;
    return original.call(this, algorithm, baseKey, length as number);
  };
  subtle.deriveBits = counting;
  return {
    get count() {
      return count;
    },
    stop() {
      subtle.deriveBits = original;
    },
  };
}
