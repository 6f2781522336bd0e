import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingAt, visitState } from './visit-state.js';

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

test('observed visits: open → waiting → live → ended, with the guest and the host arriving', () => {
  const v = { notBefore: 100, expiresAt: 200, observedBy: 'lobby' };
  assert.equal(visitState({ ...v, status: 'pending' }, 120), 'open', 'nobody yet');
  const waiting = { ...v, status: 'pending' as const, firstGuestAt: 120, waitingSince: 120 };
  assert.equal(visitState(waiting, 130), 'waiting', 'a guest waits, no host');
  assert.equal(
    visitState({ ...waiting, status: 'pending', notBefore: 150 }, 130),
    'scheduled',
    'before the window, scheduled wins (a guest cannot wait before it opens)',
  );
  assert.equal(
    visitState({ ...v, status: 'pending', firstGuestAt: 120 }, 130),
    'open',
    'the guest came and left: nobody waits',
  );
  const live = { ...v, status: 'live' as const, firstGuestAt: 120, startedAt: 140 };
  assert.equal(visitState(live, 150), 'live', 'a host joined');
  assert.equal(visitState({ ...live, waitingSince: 120 }, 150), 'live', 'live wins over a stale wait');
  assert.equal(visitState(live, 200), 'ended', 'live with a guest when the window closed');
  assert.deepEqual(missingAt(live, 200), []);
  assert.equal(visitState({ ...live, status: 'ended' }, 150), 'ended', 'a host ended it');
});

test('no_show: the window closed with nobody, with no host, or with no guest, and says who was missing', () => {
  const v = { expiresAt: 200, observedBy: 'lobby' };
  const nobody = { ...v, status: 'pending' as const };
  assert.equal(visitState(nobody, 199), 'open');
  assert.equal(visitState(nobody, 200), 'no_show');
  assert.deepEqual(missingAt(nobody, 200), ['host', 'guest']);
  assert.deepEqual(missingAt(nobody, 199), [], 'nothing is missing while the window is open');

  const noHost = { ...v, status: 'pending' as const, firstGuestAt: 150, waitingSince: 150 };
  assert.equal(visitState(noHost, 199), 'waiting');
  assert.equal(visitState(noHost, 200), 'no_show', 'the guest waited in vain');
  assert.deepEqual(missingAt(noHost, 250), ['host']);

  const noGuest = { ...v, status: 'live' as const, startedAt: 150 };
  assert.equal(visitState(noGuest, 199), 'live');
  assert.equal(visitState(noGuest, 200), 'no_show', 'the host waited alone');
  assert.deepEqual(missingAt(noGuest, 200), ['guest']);

  assert.equal(visitState({ ...v, status: 'ended', startedAt: 150 }, 300), 'ended', 'a host ended it');
  assert.equal(visitState({ ...v, status: 'cancelled' }, 300), 'cancelled');
  assert.deepEqual(missingAt({ ...v, status: 'cancelled' }, 300), []);
});

test('visits whose arrivals nobody observes never become waiting or no_show: expired stays', () => {
  const cisco = { expiresAt: 200, status: 'pending' as const };
  assert.equal(visitState({ ...cisco, waitingSince: 100 }, 150), 'waiting', 'a fact is a fact');
  assert.equal(visitState(cisco, 200), 'expired');
  assert.deepEqual(missingAt(cisco, 200), []);
  assert.equal(visitState({ ...cisco, status: 'live', startedAt: 100 }, 200), 'ended');
});
