/** Instants and durations as people write them, to epoch seconds. Pure: `now` is always passed in. */
import { MILLISECONDS_THRESHOLD } from './constants.js';

export type InstantLike = Date | string | number;

export type Parsed<T> = { ok: true; value: T } | { ok: false; rule: string; message: string };

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_LOCAL = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$/;

/** Now, in whole seconds since the epoch: the default clock of every service that takes `now`. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** A hint for a number that is probably milliseconds, or undefined. */
export function millisecondsHint(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < MILLISECONDS_THRESHOLD)
    return undefined;
  const seconds = Math.floor(value / 1000);
  if (seconds >= MILLISECONDS_THRESHOLD) return undefined;
  return `${value} looks like milliseconds; in seconds that is ${seconds} (${isoSeconds(seconds)})`;
}

/** Epoch seconds from a Date, an ISO-8601 string with a zone, or epoch seconds (number or digits). */
export function parseInstant(value: InstantLike): Parsed<number> {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) return { ok: false, rule: 'date', message: 'is an invalid Date' };
    return { ok: true, value: Math.floor(ms / 1000) };
  }
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return parseInstant(Number(value.trim()));
  if (typeof value === 'number') {
    const hint = millisecondsHint(value);
    if (hint) return { ok: false, rule: 'milliseconds', message: hint };
    if (!Number.isInteger(value) || value < 0 || value >= MILLISECONDS_THRESHOLD) {
      return { ok: false, rule: 'epoch', message: `must be whole epoch seconds (got ${value})` };
    }
    return { ok: true, value };
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (ISO_LOCAL.test(text)) {
      return {
        ok: false,
        rule: 'timezone',
        message: `"${text}" has no time zone: add Z or an offset such as +01:00 (the CLI's --tz does this for you)`,
      };
    }
    if (!ISO_WITH_ZONE.test(text)) {
      return {
        ok: false,
        rule: 'format',
        message: `"${text}" is not an ISO-8601 date-time such as 2026-11-28T14:30:00Z`,
      };
    }
    const ms = Date.parse(text.replace(' ', 'T'));
    if (Number.isNaN(ms)) return { ok: false, rule: 'format', message: `"${text}" is not a valid date-time` };
    return { ok: true, value: Math.floor(ms / 1000) };
  }
  return { ok: false, rule: 'type', message: 'must be a Date, an ISO-8601 string or epoch seconds' };
}

const UNIT_SECONDS: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };

/**
 * Seconds from `45m`, `1h30m`, `2d`, `PT45M`, `P1DT2H` or the number 90. A string of bare digits is
 * refused: `--ttl 45` meant 45 minutes to everyone who wrote it, and silently meant 45 seconds.
 */
export function parseDuration(value: string | number): Parsed<number> {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1) {
      return {
        ok: false,
        rule: 'duration',
        message: `must be a whole number of seconds of at least 1 (got ${value})`,
      };
    }
    return { ok: true, value };
  }
  const text = value.trim();
  let seconds = 0;
  if (/^\d+$/.test(text)) {
    return {
      ok: false,
      rule: 'unit',
      message: `"${text}" has no unit: write ${text}m for minutes or ${text}s for seconds`,
    };
  }
  if (/^(\d+[wdhms])+$/i.test(text)) {
    for (const [, n, unit] of text.toLowerCase().matchAll(/(\d+)([wdhms])/g)) {
      seconds += Number(n) * (UNIT_SECONDS[unit!] ?? 0);
    }
  } else {
    const iso = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/i.exec(text);
    if (!iso || text.toUpperCase() === 'P' || text.toUpperCase().endsWith('T')) {
      return {
        ok: false,
        rule: 'duration',
        message: `"${text}" is not a duration such as 45m, 1h30m or PT45M`,
      };
    }
    const [, w, d, h, m, s] = iso.map((x) => Number(x ?? 0));
    seconds = w! * 604800 + d! * 86400 + h! * 3600 + m! * 60 + s!;
  }
  if (seconds < 1) return { ok: false, rule: 'duration', message: 'must be at least 1 second' };
  return { ok: true, value: seconds };
}
