import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoSeconds, millisecondsHint, parseDuration, parseInstant } from './time.js';

test('instants: Date, ISO-8601 with a zone, epoch seconds, digit strings', () => {
  assert.deepEqual(parseInstant(new Date('2026-11-28T14:30:00Z')), { ok: true, value: 1795876200 });
  assert.deepEqual(parseInstant('2026-11-28T14:30:00Z'), { ok: true, value: 1795876200 });
  assert.deepEqual(parseInstant('2026-11-28T15:30:00+01:00'), { ok: true, value: 1795876200 });
  assert.deepEqual(parseInstant(1795876200), { ok: true, value: 1795876200 });
  assert.deepEqual(parseInstant('1795876200'), { ok: true, value: 1795876200 });
});

test('instants: milliseconds are caught and shown in seconds', () => {
  const parsed = parseInstant(1671480433000);
  assert.equal(parsed.ok, false);
  if (!parsed.ok) {
    assert.equal(parsed.rule, 'milliseconds');
    assert.match(
      parsed.message,
      /looks like milliseconds; in seconds that is 1671480433 \(2022-12-19T20:07:13Z\)/,
    );
  }
  assert.equal(millisecondsHint(1671480433), undefined);
});

test('instants: local times without a zone, nonsense, invalid Dates and fractions are refused with a reason', () => {
  const local = parseInstant('2026-11-28T14:30');
  assert.equal(local.ok, false);
  if (!local.ok) assert.equal(local.rule, 'timezone');
  const nonsense = parseInstant('tomorrow');
  assert.equal(nonsense.ok, false);
  if (!nonsense.ok) assert.equal(nonsense.rule, 'format');
  assert.equal(parseInstant(new Date('nope')).ok, false);
  assert.equal(parseInstant(12.5).ok, false);
  assert.equal(parseInstant('2026-02-30T10:00:00Z').ok, true); // Date.parse rolls over; still a valid instant
});

test('durations: 45m, 1h30m, 2d, PT45M, P1DT2H, a number of seconds', () => {
  const seconds = (v: string | number) => {
    const p = parseDuration(v);
    assert.ok(p.ok, `expected ${v} to parse`);
    return p.value;
  };
  assert.equal(seconds('45m'), 2700);
  assert.equal(seconds('1h30m'), 5400);
  assert.equal(seconds('2d'), 172800);
  assert.equal(seconds('1w'), 604800);
  assert.equal(seconds('PT45M'), 2700);
  assert.equal(seconds('P1DT2H'), 93600);
  assert.equal(seconds('90s'), 90);
  assert.equal(seconds(90), 90); // a number (SDK, JSON) is seconds
  for (const bad of ['', 'soon', 'P', 'PT', '0m', '-5m', 0, -1, 1.5]) {
    assert.equal(parseDuration(bad as string | number).ok, false, `expected ${String(bad)} to fail`);
  }
});

test('a string of bare digits is refused with a message asking for a unit', () => {
  for (const text of ['45', ' 90 ', '0']) {
    const parsed = parseDuration(text);
    assert.equal(parsed.ok, false, text);
    if (!parsed.ok) {
      assert.equal(parsed.rule, 'unit');
      const n = text.trim();
      assert.match(parsed.message, new RegExp(`write ${n}m for minutes or ${n}s for seconds`));
    }
  }
});

test('isoSeconds prints whole seconds', () => {
  assert.equal(isoSeconds(0), '1970-01-01T00:00:00Z');
});
