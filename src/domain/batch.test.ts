import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { planBatches } from './batch.js';
import { MAX_LINKS_PER_CALL } from './constants.js';

test('1 host and 60 guests take three calls, hosts first', () => {
  assert.deepEqual(planBatches(1, 60), [
    { numHost: 1, numGuest: 24 },
    { numHost: 0, numGuest: 25 },
    { numHost: 0, numGuest: 11 },
  ]);
});

test('small requests are one call; zero of one role is allowed; nothing asked is no call', () => {
  assert.deepEqual(planBatches(1, 1), [{ numHost: 1, numGuest: 1 }]);
  assert.deepEqual(planBatches(0, 3), [{ numHost: 0, numGuest: 3 }]);
  assert.deepEqual(planBatches(2, 0), [{ numHost: 2, numGuest: 0 }]);
  assert.deepEqual(planBatches(0, 0), []);
});

test('negative or fractional counts are refused', () => {
  assert.throws(() => planBatches(-1, 2), RangeError);
  assert.throws(() => planBatches(1.5, 2), RangeError);
  assert.throws(() => planBatches(1, 1, 0), RangeError);
});

test('property: a plan never exceeds 25 per call, never has an empty call, and sums to what was asked', () => {
  fc.assert(
    fc.property(fc.nat(600), fc.nat(600), (hosts, guests) => {
      const plan = planBatches(hosts, guests);
      for (const call of plan) {
        assert.ok(call.numHost + call.numGuest <= MAX_LINKS_PER_CALL);
        assert.ok(call.numHost + call.numGuest > 0);
      }
      assert.equal(
        plan.reduce((n, c) => n + c.numHost, 0),
        hosts,
      );
      assert.equal(
        plan.reduce((n, c) => n + c.numGuest, 0),
        guests,
      );
      // As few calls as possible.
      assert.equal(plan.length, Math.ceil((hosts + guests) / MAX_LINKS_PER_CALL));
    }),
  );
});
