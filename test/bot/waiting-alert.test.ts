/**
 * "A patient is waiting", over real HTTP with the Webex emulator as Webex: a guest waiting with no
 * host past WAITING_ALERT_SECONDS makes exactly one 1:1 message from the bot to whoever asked for
 * the visit (`alertTo` of the API, the bot's requester), with the host link and no guest link;
 * a host joining before the delay makes none; a second wait is a second message.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { escapeMarkdown } from '../../src/domain/markdown.js';
import type { EmulatedPerson, SentMessage } from '../support/webex-emulator.js';
import { createVisit, eventsOf, live, ticketFor, type Visit } from '../visits/helpers.js';
import {
  assertNoSecretHeard,
  type BotHarness,
  eventually,
  request,
  secrets,
  startBotHarness,
  textOf,
  urlOf,
  visitsBy,
} from './helpers.js';

/** Seconds a guest waits before the host hears of it (short, but room for a loaded machine to join a host first). */
const DELAY_S = 2;

let h: BotHarness;
before(async () => {
  h = await startBotHarness({ alerts: { waitingSeconds: DELAY_S } });
});
after(async () => {
  await h?.close();
  assertNoSecretHeard();
});

async function join(ticket: string): Promise<void> {
  const answer = await live(h.server, 'join', { ticket });
  assert.equal(answer.status, 200, answer.text);
}

const alertsSent = async (visit: Visit) =>
  (await eventsOf(h.server, visit.id)).filter((e) => e.type === 'alert.sent').length;

/** The alert's message carries the first host link and no guest link, cipher or URL. */
function assertAlert(message: SentMessage, visit: Visit): void {
  const text = textOf(message);
  assert.match(text, /A guest is waiting/);
  assert.ok(text.includes(escapeMarkdown(visit.subject)), `the escaped subject in: ${text}`);
  assert.ok(text.includes(urlOf(visit.hosts[0]!)), `the host link in: ${text}`);
  for (const guest of visit.guests) {
    for (const leak of [guest.cipher, guest.longUrl, guest.shortUrl].filter(Boolean) as string[])
      assert.ok(!text.includes(leak), 'no guest link in the alert');
  }
  assert.equal(message.roomId, undefined, '1:1, never a space');
}

describe('the waiting alert', () => {
  test('a waiting guest: one 1:1 message to alertTo with the host link; leaving and coming back: a second', async () => {
    const doctor: EmulatedPerson = h.emulator.addPerson();
    const email = doctor.emails[0]!;
    const visit = await createVisit(h.server, {
      subject: 'Dr *Who* [call me](https://evil.example) <@all>',
      alertTo: email,
    });
    const guest = await ticketFor(visit.guests[0]!);
    await join(guest);
    const first = await h.emulator.waitForSent(
      (sent) => sent.some((m) => m.toPersonEmail === email),
      'the alert',
    );
    assertAlert(first.find((m) => m.toPersonEmail === email)!, visit);
    await eventually(
      () => alertsSent(visit),
      (n) => n === 1,
      'alert.sent recorded',
    );
    assert.equal(h.emulator.sentTo({ toPersonEmail: email }).length, 1, 'one message for one wait');

    // The guest leaves (the wait ends) and comes back: a new wait, a new message.
    assert.equal((await live(h.server, 'leave', { ticket: guest })).status, 200);
    await join(guest);
    await eventually(
      () => alertsSent(visit),
      (n) => n === 2,
      'the second alert.sent',
    );
    const sent = h.emulator.sentTo({ toPersonEmail: email });
    assert.equal(sent.length, 2, 'one message per wait');
    assertAlert(sent[1]!, visit);
  });

  test('the host joining before the delay: no message', async () => {
    const doctor = h.emulator.addPerson();
    const email = doctor.emails[0]!;
    const visit = await createVisit(h.server, { alertTo: email });
    const [guest, host] = await Promise.all([ticketFor(visit.guests[0]!), ticketFor(visit.hosts[0]!)]);
    const { runner } = h.server.server.context;
    const done = runner.stats.done;
    await join(guest);
    await join(host);
    // The alert's job ran (after the delay) and found the host there.
    await eventually(
      () => runner.stats.done,
      (n) => n > done,
      'the alert job ran',
      20_000,
    );
    assert.equal(h.emulator.sentTo({ toPersonEmail: email }).length, 0);
    assert.equal(await alertsSent(visit), 0);
  });

  test('a visit the bot made: its requester hears of the waiting guest, 1:1', async () => {
    const requester = h.emulator.addPerson();
    await h.say(requester, 'visit Check-up');
    const [visit] = await eventually(
      () => visitsBy(h.server, requester),
      (v) => v.length === 1,
      'the visit',
    );
    await join(await ticketFor(visit!.guests[0]!));
    await eventually(
      () => alertsSent(visit!),
      (n) => n === 1,
      'alert.sent recorded',
      20_000,
    );
    const alerts = h.emulator
      .sentTo({ toPersonId: requester.id })
      .filter((m) => textOf(m).includes('A guest is waiting'));
    assert.equal(alerts.length, 1);
    assertAlert(alerts[0]!, visit!);
  });

  test('a visit made by the trigger with notify.host: that host hears of the waiting guest', async () => {
    const { trigger, org } = h.server.server.context;
    const made = await trigger.createHook(org, 'scheduler');
    secrets.add(made.secret);
    const doctor = h.emulator.addPerson();
    const email = doctor.emails[0]!;
    const raw = JSON.stringify({ crypto: { iterations: 1000 }, notify: { host: email } });
    const timestamp = Math.floor(Date.now() / 1000);
    const answer = await request(h.server, 'POST', '/hooks/visits', {
      raw,
      key: null,
      headers: {
        'x-ic-hook': made.hook.id,
        'x-ic-timestamp': String(timestamp),
        'x-ic-signature': `v1=${createHmac('sha256', made.secret).update(`${timestamp}.${raw}`).digest('hex')}`,
      },
    });
    assert.equal(answer.status, 201, answer.text);
    const visit = answer.body as Visit;
    await join(await ticketFor(visit.guests[0]!));
    await eventually(
      () => alertsSent(visit),
      (n) => n === 1,
      'alert.sent recorded',
      20_000,
    );
    const alerts = h.emulator
      .sentTo({ toPersonEmail: email })
      .filter((m) => textOf(m).includes('A guest is waiting'));
    assert.equal(alerts.length, 1, 'one alert, besides the links notify sent');
    assertAlert(alerts[0]!, visit);
  });
});
