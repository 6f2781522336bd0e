import assert from 'node:assert/strict';
import { test } from 'node:test';
import { visitState } from './visit-state.js';

test('a visit moves through its states with the clock and its recorded facts', () => {
  const v = { notBefore: 100, expiresAt: 200 };
  assert.equal(visitState({ ...v, status: 'pending' }, 50), 'scheduled');
  assert.equal(visitState({ ...v, status: 'pending' }, 100), 'open');
  assert.equal(visitState({ ...v, status: 'live' }, 150), 'live');
  assert.equal(visitState({ ...v, status: 'live' }, 200), 'ended', 'live at the end of its window');
  assert.equal(visitState({ ...v, status: 'pending' }, 200), 'expired', 'never went live');
  assert.equal(visitState({ ...v, status: 'ended' }, 150), 'ended');
  assert.equal(visitState({ ...v, status: 'cancelled' }, 50), 'cancelled');
  assert.equal(visitState({ status: 'pending', expiresAt: 200 }, 0), 'open', 'no notBefore: open at once');
});
