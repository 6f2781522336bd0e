import assert from 'node:assert/strict';
import { test } from 'node:test';
import { meetingSeriesId, subjectsOfSpaceTitle } from './webex.js';

test("a visit's space title gives its subject, and a repeated title's suffix a second guess", () => {
  assert.deepEqual(subjectsOfSpaceTitle('Virtual Visit - visit-20261128-1430-k7qm2xab'), [
    'visit-20261128-1430-k7qm2xab',
  ]);
  // caseflow saw titles end in -1 when a subject's space was made again.
  assert.deepEqual(subjectsOfSpaceTitle('Virtual Visit - Hearing 42-1'), ['Hearing 42-1', 'Hearing 42']);
  assert.deepEqual(subjectsOfSpaceTitle('Virtual Visit - 221218-977_933_Hearing-20240508 1426'), [
    '221218-977_933_Hearing-20240508 1426',
  ]);
  assert.deepEqual(subjectsOfSpaceTitle('Weekly standup'), []);
  assert.deepEqual(subjectsOfSpaceTitle('virtual visit - lower case is not Instant Connect'), []);
});

test("a meeting instance's series id (deliveries name instances, meetingInfo the series)", () => {
  assert.equal(
    meetingSeriesId('870f51ff287b41be84648412901e0402_I_146987372776523439'),
    '870f51ff287b41be84648412901e0402',
  );
  assert.equal(meetingSeriesId('870f51ff287b41be84648412901e0402'), '870f51ff287b41be84648412901e0402');
});
