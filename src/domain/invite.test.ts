import assert from 'node:assert/strict';
import { test } from 'node:test';
import ICAL from 'ical.js';
import { invitation, inviteSequence, inviteUid } from './invite.js';

const input = {
  uid: inviteUid('vis_abc', 'guest', 2),
  start: Date.UTC(2026, 11, 8, 9, 30) / 1000,
  end: Date.UTC(2026, 11, 8, 10, 15) / 1000,
  stamp: Date.UTC(2026, 11, 1) / 1000,
  timeZone: 'America/New_York',
  summary: 'Check-up; with, commas\nand a line',
  description: 'Join: https://v.example/visit/x',
  organizer: { name: 'Clinic', email: 'visits@clinic.example' },
  attendee: { name: 'Ana', email: 'ana@x.example' },
};

function read(ics: string) {
  const calendar = new ICAL.Component(ICAL.parse(ics));
  const vevent = calendar.getFirstSubcomponent('vevent')!;
  return { calendar, vevent, event: new ICAL.Event(vevent) };
}

test('a REQUEST: UID, SEQUENCE, the window in UTC, the zone named, the link as URL, text escaped', () => {
  const { calendar, vevent, event } = read(
    invitation({ ...input, method: 'REQUEST', sequence: 0, url: 'https://v.example/visit/x' }),
  );
  assert.equal(calendar.getFirstPropertyValue('method'), 'REQUEST');
  assert.equal(calendar.getFirstPropertyValue('x-wr-timezone'), 'America/New_York');
  assert.equal(event.uid, 'vis_abc.guest.2@instant-connect');
  assert.equal(event.sequence, 0);
  assert.equal(event.startDate.toUnixTime(), input.start);
  assert.equal(event.endDate.toUnixTime(), input.end);
  assert.equal(event.startDate.zone?.tzid, 'UTC');
  assert.equal(event.summary, input.summary);
  assert.equal(vevent.getFirstPropertyValue('url'), 'https://v.example/visit/x');
  assert.equal(event.attendees.length, 1);
});

test('a CANCEL: same UID, STATUS:CANCELLED, no URL', () => {
  const { calendar, vevent, event } = read(invitation({ ...input, method: 'CANCEL', sequence: 1 }));
  assert.equal(calendar.getFirstPropertyValue('method'), 'CANCEL');
  assert.equal(event.uid, 'vis_abc.guest.2@instant-connect');
  assert.equal(event.sequence, 1);
  assert.equal(vevent.getFirstPropertyValue('status'), 'CANCELLED');
  assert.equal(vevent.getFirstPropertyValue('url'), null);
});

test('SEQUENCE counts schedule changes, and a cancel one more', () => {
  assert.equal(inviteSequence(['visit.created'], 'REQUEST'), 0);
  assert.equal(inviteSequence(['visit.created'], 'CANCEL'), 1);
  assert.equal(
    inviteSequence(['visit.created', 'visit.rescheduled', 'link.delivered', 'visit.rescheduled'], 'REQUEST'),
    2,
  );
  assert.equal(inviteSequence(['visit.created', 'visit.rescheduled'], 'CANCEL'), 2);
});
