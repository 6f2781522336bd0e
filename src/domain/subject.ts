/**
 * Subjects decide meeting spaces: the same subject in the same organisation is the same space.
 * Reusing one subject for every visit puts every patient in one meeting, so when no subject is
 * given we make a unique one that people can still read in a room title or a log.
 */
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789'; // no 0/o, 1/l: readable aloud

export type RandomBytes = (n: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));

/** `visit-20261128-1430-k7qm2xab`: prefix, UTC date and time, 8 random characters (40 bits). */
export function generateSubject(
  options: { prefix?: string; now?: number; randomBytes?: RandomBytes } = {},
): string {
  const prefix =
    (options.prefix ?? 'visit').replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'visit';
  const when = new Date((options.now ?? Date.now() / 1000) * 1000).toISOString();
  const stamp = `${when.slice(0, 10).replaceAll('-', '')}-${when.slice(11, 16).replace(':', '')}`;
  const bytes = (options.randomBytes ?? defaultRandomBytes)(8);
  const suffix = Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('');
  return `${prefix}-${stamp}-${suffix}`;
}
