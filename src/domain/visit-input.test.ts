import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../errors.js';
import { toLinkRequest } from './visit-input.js';

const NOW = 1_900_000_000;

function issuesOf(input: unknown): { path: string; rule: string }[] {
  try {
    toLinkRequest(input, NOW, 'UTC');
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.issues.map(({ path, rule }) => ({ path, rule }));
  }
  assert.fail('expected a ValidationError');
}

test('every problem at once: schema issues do not hide the window and total checks', () => {
  const issues = issuesOf({ hosts: 0, guests: 0, devices: ['nope'], ttl: '0m' });
  assert.deepEqual(issues.map((i) => i.path).sort(), ['devices[0]', 'hosts', 'ttl'], JSON.stringify(issues));
  assert.deepEqual(
    issuesOf({ devices: ['nope'], start: '2020-01-01 10:00', ttl: '30m' }).map((i) => `${i.path}:${i.rule}`),
    ['devices[0]:format', 'ttl:past'],
  );
});

test('a field that failed the schema is reported once, and not checked again', () => {
  const issues = issuesOf({ hosts: -1, guests: 0, ttl: 0 });
  assert.deepEqual(issues.map((i) => i.path).sort(), ['hosts', 'ttl']);
  // A bad zone: times read in it are not judged again.
  const zone = issuesOf({ timeZone: 'Mars/Olympus', start: '2020-01-01 10:00', ttl: '30m', hosts: 'x' });
  assert.deepEqual(zone.map((i) => i.path).sort(), ['hosts', 'timeZone']);
});

test('valid input still converts', () => {
  const request = toLinkRequest(
    { start: '2031-01-01 10:00', ttl: '30m', timeZone: 'Europe/Paris' },
    NOW,
    'UTC',
  );
  assert.equal(request.notBefore, Date.UTC(2031, 0, 1, 9) / 1000);
  // The window is fixed when the visit is made: an absolute end, no ttl left to resolve later.
  assert.equal(request.expiresAt, Date.UTC(2031, 0, 1, 9, 30) / 1000);
  assert.equal(request.ttl, undefined);
  assert.equal(toLinkRequest({ ttl: '45m' }, NOW, 'UTC').expiresAt, NOW + 2700, 'from now when no start');
  assert.equal(toLinkRequest({}, NOW, 'UTC').expiresAt, NOW + 900, "the broker's 15 minutes by default");
  assert.equal(
    toLinkRequest({ ttl: 'soon' }, NOW, 'UTC').ttl,
    'soon',
    'a bad ttl is left for the SDK to name',
  );
});
