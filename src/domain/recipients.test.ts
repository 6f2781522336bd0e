import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignRecipients, channelOf, maskAddress } from './recipients.js';

test('a recipient without an index takes the next free link of its role; given indexes are kept', () => {
  const { recipients, issues } = assignRecipients(
    [
      { role: 'guest', email: 'a@x.example' },
      { role: 'guest', index: 0, email: 'b@x.example' },
      { role: 'host', phone: '+14155550123' },
      { role: 'guest', email: 'c@x.example' },
    ],
    { hosts: 1, guests: 3 },
  );
  assert.deepEqual(issues, []);
  assert.deepEqual(
    recipients.map((r) => `${r.role}${r.index} ${r.email ?? r.phone}`),
    ['guest1 a@x.example', 'guest0 b@x.example', 'host0 +14155550123', 'guest2 c@x.example'],
  );
});

test('more recipients than links of a role, a taken or missing link: named by path and rule', () => {
  const { issues } = assignRecipients(
    [
      { role: 'host', email: 'h1@x.example' },
      { role: 'host', email: 'h2@x.example' },
      { role: 'guest', index: 1, email: 'g@x.example' },
      { role: 'guest', index: 0, email: 'g0@x.example' },
      { role: 'guest', index: 0, email: 'g1@x.example' },
    ],
    { hosts: 1, guests: 1 },
  );
  assert.deepEqual(
    issues.map((i) => `${i.path} ${i.rule}`),
    ['recipients[2].index range', 'recipients[4].index unique', 'recipients[1] count'],
  );
  assert.match(issues[0]!.message, /1 guests/);
});

test('an address for the channel, a known zone and a language with messages', () => {
  const { issues } = assignRecipients(
    [
      { role: 'guest', name: 'No address' },
      { role: 'guest', channel: 'sms', email: 'a@x.example' },
      { role: 'guest', channel: 'email', phone: '+14155550123' },
      { role: 'guest', email: 'b@x.example', timeZone: 'Nowhere/Land', language: 'fr' },
      { role: 'guest', email: 'c@x.example', language: 'es-MX', timeZone: 'America/Mexico_City' },
    ],
    { hosts: 0, guests: 5 },
  );
  assert.deepEqual(
    issues.map((i) => `${i.path} ${i.rule}`),
    [
      'recipients[0] required',
      'recipients[1].phone required',
      'recipients[2].email required',
      'recipients[3].timeZone timezone',
      'recipients[3].language enum',
    ],
  );
});

test('the channel: chosen, else email with an address, else SMS', () => {
  assert.equal(channelOf({ channel: 'sms', email: 'a@x.example', phone: '+1415555' }), 'sms');
  assert.equal(channelOf({ email: 'a@x.example', phone: '+1415555' }), 'email');
  assert.equal(channelOf({ phone: '+1415555' }), 'sms');
  assert.equal(channelOf({}), undefined);
});

test('addresses are masked for logs', () => {
  assert.equal(maskAddress('jane.doe@example.com'), 'j***@example.com');
  assert.equal(maskAddress('+447911123456'), '+4479******56');
  assert.equal(maskAddress('+1234'), '***');
});
