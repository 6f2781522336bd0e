import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  deliveryPayload,
  isOutbound,
  parseTypes,
  retryDelay,
  shouldDisable,
  typePattern,
  typesColumn,
  typesFromColumn,
} from './outbound-events.js';

test('types: a list or a comma string, * alone; unknown ones named with the allowed list', () => {
  assert.deepEqual(parseTypes('visit.created, link.opened'), {
    ok: true,
    types: ['visit.created', 'link.opened'],
  });
  assert.deepEqual(parseTypes(['visit.created', 'visit.created']), { ok: true, types: ['visit.created'] });
  assert.deepEqual(parseTypes('*'), { ok: true, types: '*' });
  const bad = parseTypes(['visit.created', 'visit.links_added']);
  assert.equal(bad.ok, false);
  assert.match(
    !bad.ok ? bad.message : '',
    /unknown event type "visit\.links_added"; allowed: visit\.created, /,
  );
  assert.equal(parseTypes([]).ok, false);
  assert.equal(parseTypes(['*', 'visit.created']).ok, false);
  assert.equal(parseTypes(42).ok, false);
  assert.equal(isOutbound('visit.no_show'), true);
  assert.equal(isOutbound('guest.joined'), false);
});

test('the stored form matches with LIKE on whole types only', () => {
  const column = typesColumn(['visit.created', 'link.opened']);
  assert.equal(column, ',visit.created,link.opened,');
  assert.deepEqual(typesFromColumn(column), ['visit.created', 'link.opened']);
  assert.equal(typesColumn('*'), '*');
  assert.deepEqual(typesFromColumn('*'), '*');
  const like = (value: string, pattern: string) =>
    new RegExp(`^${pattern.replaceAll('.', '\\.').replaceAll('%', '.*')}$`).test(value);
  assert.equal(like(column, typePattern('visit.created')), true);
  assert.equal(like(typesColumn(['link.delivery_failed']), typePattern('link.delivered')), false);
});

test('the payload: type, timestamp, data with visitId, eventId and actor; never the subject', () => {
  const body = deliveryPayload({
    id: 7,
    type: 'visit.created',
    at: 1_900_000_000,
    actor: 'key:k1',
    visitId: 'vis_1',
    data: { subject: 'Jane Doe', guests: 1 },
  });
  assert.deepEqual(body, {
    type: 'visit.created',
    timestamp: '2030-03-17T17:46:40.000Z',
    data: { guests: 1, visitId: 'vis_1', eventId: 7, actor: 'key:k1' },
  });
});

test('retries follow the schedule, then its last step; disabling needs both failures and time', () => {
  assert.equal(retryDelay(1), 5);
  assert.equal(retryDelay(2), 300);
  assert.equal(retryDelay(99), 36_000);
  assert.equal(retryDelay(3, [1]), 1);
  const rule = { failures: 3, seconds: 100 };
  assert.equal(shouldDisable({ consecutiveFailures: 3, failingSince: 0 }, 100, rule), true);
  assert.equal(shouldDisable({ consecutiveFailures: 2, failingSince: 0 }, 1000, rule), false);
  assert.equal(shouldDisable({ consecutiveFailures: 30, failingSince: 50 }, 100, rule), false);
});
