import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWhen, zonedToEpochMs, zoneOffsetMs } from './local-time.js';

const now = Date.UTC(2026, 10, 28, 14, 30) / 1000; // Saturday 2026-11-28 14:30Z
const when = (text: string, timeZone = 'UTC') => {
  const p = parseWhen(text, { now, timeZone });
  assert.ok(p.ok, `${text} in ${timeZone}: ${p.ok ? '' : p.message}`);
  return p.value;
};

test('zone offsets follow daylight saving', () => {
  assert.equal(zoneOffsetMs(Date.UTC(2026, 0, 15), 'Europe/London'), 0);
  assert.equal(zoneOffsetMs(Date.UTC(2026, 6, 15), 'Europe/London'), 3600_000);
  assert.equal(zoneOffsetMs(Date.UTC(2026, 6, 15), 'America/New_York'), -4 * 3600_000);
  assert.equal(
    zonedToEpochMs({ year: 2026, month: 7, day: 15, hour: 9, minute: 0 }, 'America/New_York'),
    Date.UTC(2026, 6, 15, 13, 0),
  );
});

test('now, relative, clock times and local date-times in a zone', () => {
  assert.equal(when('now'), now);
  assert.equal(when('+45m'), now + 2700);
  assert.equal(when('in 2h'), now + 7200);
  assert.equal(when('15:00'), now + 1800, 'later today');
  assert.equal(when('09:00'), Date.UTC(2026, 10, 29, 9) / 1000, 'already past today: tomorrow');
  assert.equal(
    when('15:00', 'Europe/Paris'),
    Date.UTC(2026, 10, 29, 14) / 1000,
    '15:00 Paris is 14:00Z, passed',
  );
  assert.equal(when('2026-12-01 09:30', 'America/Los_Angeles'), Date.UTC(2026, 11, 1, 17, 30) / 1000);
  assert.equal(
    when('2026-12-01T09:30:00Z', 'Asia/Tokyo'),
    Date.UTC(2026, 11, 1, 9, 30) / 1000,
    'an explicit zone wins',
  );
});

test('bad zones and bad times say what is wrong', () => {
  const bad = (text: string, timeZone = 'UTC') => {
    const p = parseWhen(text, { now, timeZone });
    assert.equal(p.ok, false);
    return p.ok ? '' : p.message;
  };
  assert.match(bad('now', 'Mars/Olympus'), /not a known time zone/);
  assert.match(bad('25:00'), /not a time of day/);
  assert.match(bad('2026-13-01 10:00'), /not a valid date/);
  assert.match(bad('teatime'), /use now, \+45m, 14:30/);
  assert.match(bad('+soon'), /not a duration/);
});
