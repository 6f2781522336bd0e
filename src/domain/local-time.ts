/**
 * Times as people type them: `now`, `+45m`, `in 2h`, `14:30` (the next one), `2026-11-28 14:30`
 * in a given IANA time zone, or ISO-8601 with a zone. Pure: `now` and the zone are passed in.
 */
import { type Parsed, parseDuration, parseInstant } from './time.js';

/** Throws RangeError for a zone the runtime does not know. */
function assertTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat('en-US', { timeZone });
}

export function isTimeZone(timeZone: string): boolean {
  try {
    assertTimeZone(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `timeZone` from UTC at the instant `ms`, in milliseconds (e.g. +3 600 000 for CET). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** `YYYY-MM-DDTHH:MM` of an instant in a zone, as `<input type="datetime-local">` wants it. */
export function localDateTime(ms: number, timeZone = 'UTC'): string {
  return new Date(ms + zoneOffsetMs(ms, timeZone)).toISOString().slice(0, 16);
}

/** Whether a time of day as typed (`14:30`) names a time that has already passed today: it means tomorrow. */
export function clockMeansTomorrow(
  text: string,
  at: number,
  options: { now: number; timeZone: string },
): boolean {
  if (!CLOCK.test(text.trim())) return false;
  const day = (seconds: number) => localDateTime(seconds * 1000, options.timeZone).slice(0, 10);
  return day(at) !== day(options.now);
}

/** Epoch ms of a wall-clock time in a zone (the later reading in a DST overlap, shifted forward in a gap). */
export function zonedToEpochMs(
  wall: { year: number; month: number; day: number; hour: number; minute: number; second?: number },
  timeZone: string,
): number {
  const guess = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second ?? 0);
  let ms = guess - zoneOffsetMs(guess, timeZone);
  ms = guess - zoneOffsetMs(ms, timeZone);
  return ms;
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const CLOCK = /^(\d{1,2}):(\d{2})$/;

/** Epoch seconds from what a person typed, reading local times in `timeZone`. */
export function parseWhen(text: string, options: { now: number; timeZone: string }): Parsed<number> {
  const value = text.trim();
  const { now, timeZone } = options;
  if (!isTimeZone(timeZone))
    return { ok: false, rule: 'timezone', message: `"${timeZone}" is not a known time zone` };
  if (/^now$/i.test(value)) return { ok: true, value: now };
  const relative = /^(?:\+|in\s+)(.+)$/i.exec(value);
  if (relative) {
    const d = parseDuration(relative[1]!.replace(/\s+/g, ''));
    return d.ok ? { ok: true, value: now + d.value } : d;
  }
  const local = LOCAL.exec(value);
  if (local) {
    const [, y, mo, d, h, mi, s] = local.map(Number);
    if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || (s ?? 0) > 59) {
      return { ok: false, rule: 'format', message: `"${value}" is not a valid date and time` };
    }
    const ms = zonedToEpochMs(
      { year: y!, month: mo!, day: d!, hour: h!, minute: mi!, second: s || 0 },
      timeZone,
    );
    return { ok: true, value: Math.floor(ms / 1000) };
  }
  const clock = CLOCK.exec(value);
  if (clock) {
    const hour = Number(clock[1]);
    const minute = Number(clock[2]);
    if (hour > 23 || minute > 59)
      return { ok: false, rule: 'format', message: `"${value}" is not a time of day` };
    // Today in that zone, or tomorrow if it has passed.
    const today = new Date(now * 1000 + zoneOffsetMs(now * 1000, timeZone));
    const wall = {
      year: today.getUTCFullYear(),
      month: today.getUTCMonth() + 1,
      day: today.getUTCDate(),
      hour,
      minute,
    };
    let at = Math.floor(zonedToEpochMs(wall, timeZone) / 1000);
    if (at <= now) {
      const next = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + 1));
      at = Math.floor(
        zonedToEpochMs(
          {
            year: next.getUTCFullYear(),
            month: next.getUTCMonth() + 1,
            day: next.getUTCDate(),
            hour,
            minute,
          },
          timeZone,
        ) / 1000,
      );
    }
    return { ok: true, value: at };
  }
  const parsed = parseInstant(value);
  if (!parsed.ok && parsed.rule === 'format') {
    return {
      ok: false,
      rule: 'format',
      message: `"${value}" is not a time: use now, +45m, 14:30, 2026-11-28 14:30 or ISO-8601 with a zone`,
    };
  }
  return parsed;
}
