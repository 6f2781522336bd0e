/**
 * The bot's commands over real HTTP: a delivery signed as Webex signs it reaches POST /hooks/webex,
 * the job reads the message from the Webex emulator and the reply is posted back to it. Each test
 * talks as a new person, so its visits and messages are its own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeMarkdown } from '../../src/domain/markdown.js';
import {
  actionDelivery,
  type EmulatedPerson,
  messageDelivery,
  type SentMessage,
} from '../support/webex-emulator.js';
import type { Visit } from '../visits/helpers.js';
import {
  assertNoSecretHeard,
  assertStaysAt,
  type BotHarness,
  eventually,
  inRoom,
  request,
  startBotHarness,
  textOf,
  urlOf,
  visitsBy,
} from './helpers.js';

let h: BotHarness;
before(async () => {
  h = await startBotHarness();
});
after(async () => {
  await h?.close();
  assertNoSecretHeard();
});

const toPerson = (person: EmulatedPerson) => (m: SentMessage) => m.toPersonId === person.id;

/** Waits for the one visit a person made through the bot. */
async function onlyVisitOf(person: EmulatedPerson): Promise<Visit> {
  const visits = await eventually(
    () => visitsBy(h.server, person),
    (v) => v.length > 0,
    'the visit',
  );
  assert.equal(visits.length, 1, `one visit, got ${visits.length}`);
  return visits[0]!;
}

/** Every way a link could leak into a message: short URL, long URL, cipher. */
function leaks(text: string, link: { shortUrl?: string; longUrl: string; cipher: string }): boolean {
  return (
    text.includes(link.longUrl) ||
    text.includes(link.cipher) ||
    (link.shortUrl !== undefined && text.includes(link.shortUrl))
  );
}

/** The host link went to the requester 1:1 (toPersonId only), the guest links to the room. */
async function assertVisitReplies(
  person: EmulatedPerson,
  roomId: string,
  visit: Visit,
): Promise<{ host: SentMessage; guests: SentMessage }> {
  const [host] = await h.emulator.waitForMessages(toPerson(person), 1, 'the host link, 1:1');
  // The space may hold earlier replies (the zone set, the help): the guest links are the visit's.
  const [guests] = await h.emulator.waitForMessages(
    (m) => m.roomId === roomId && /Join the visit/.test(textOf(m)),
    1,
    'the guest links, in the space',
  );
  assert.ok(host && guests);
  assert.deepEqual(
    Object.keys(host.body).filter((k) => ['roomId', 'toPersonId', 'toPersonEmail'].includes(k)),
    ['toPersonId'],
    'the host link names the requester and nothing else',
  );
  assert.equal(visit.hosts.length, 1);
  assert.ok(textOf(host).includes(urlOf(visit.hosts[0]!)), `the host link is in: ${textOf(host)}`);
  // The subject as typed, escaped: it can never become markdown of its own.
  assert.match(textOf(host), new RegExp(escapeRegExp(escapeMarkdown(visit.subject))));
  for (const guest of visit.guests) {
    assert.ok(textOf(guests).includes(urlOf(guest)), `guest link ${guest.index} is in: ${textOf(guests)}`);
    assert.ok(!textOf(host).includes(urlOf(guest)), 'no guest link in the host message');
  }
  // The host link never reaches the space, in any form.
  for (const m of h.emulator.sent.filter(inRoom(roomId))) {
    for (const link of visit.hosts)
      assert.ok(!leaks(textOf(m), link), `the space got a host link: ${textOf(m)}`);
  }
  return { host, guests };
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('bot commands, 1:1', () => {
  test('help: the markdown help and the "new visit" Adaptive Card, in the 1:1 space', async () => {
    const alice = h.emulator.addPerson();
    const message = await h.say(alice, 'help');
    const [reply] = await h.emulator.waitForMessages(inRoom(alice.directRoomId), 1, 'the help');
    assert.ok(reply);
    assert.match(textOf(reply), /Instant Connect visits/);
    for (const command of [
      '`visit`',
      '`visit with 3 guests`',
      '`visits`',
      '`cancel <visit id or subject>`',
    ]) {
      assert.ok(textOf(reply).includes(command), `help mentions ${command}`);
    }
    assert.equal(reply.attachments?.length, 1, 'one card');
    assert.equal(reply.attachments![0]!.contentType, 'application/vnd.microsoft.card.adaptive');
    const card = reply.attachments![0]!.content;
    assert.equal(card['type'], 'AdaptiveCard');
    assert.ok(
      card['body'].some((i: any) => i.id === 'guests'),
      'the card asks for the number of guests',
    );
    assert.equal(card['actions'][0].type, 'Action.Submit');
    // The job read the message with the bot's token.
    const read = h.emulator.callsTo('GET', `/messages/${message.id}`);
    assert.equal(read.length, 1);
    assert.equal(read[0]!.headers.authorization, `Bearer ${h.emulator.token}`);
    assert.equal(read[0]!.status, 200);
  });

  test('visit: a guest link in the space, the host link to the requester only; 30 minutes from now', async () => {
    const bob = h.emulator.addPerson();
    const before = Math.floor(Date.now() / 1000);
    await h.say(bob, 'visit');
    const visit = await onlyVisitOf(bob);
    assert.deepEqual(visit.counts, { hosts: 1, guests: 1 });
    await assertVisitReplies(bob, bob.directRoomId, visit);
    const start = Date.parse(visit.start) / 1000;
    const end = Date.parse(visit.end) / 1000;
    assert.ok(start >= before - 2 && start <= before + 60, `starts now: ${visit.start}`);
    assert.equal(end - start, 30 * 60, 'lasts 30 minutes');
    await assertStaysAt(
      h.emulator,
      (m) => m.toPersonId === bob.id || m.roomId === bob.directRoomId,
      2,
      'replies',
    );
  });

  test('visit Dr Smith: the subject is the visit\u2019s and is in both messages', async () => {
    const carol = h.emulator.addPerson();
    await h.say(carol, 'visit Dr Smith');
    const visit = await onlyVisitOf(carol);
    assert.equal(visit.subject, 'Dr Smith');
    const { guests } = await assertVisitReplies(carol, carol.directRoomId, visit);
    assert.match(textOf(guests), /Dr Smith/);
  });

  test('visit with 3 guests: three guest links in the space, one host link 1:1', async () => {
    const dan = h.emulator.addPerson();
    await h.say(dan, 'visit with 3 guests');
    const visit = await onlyVisitOf(dan);
    assert.deepEqual(visit.counts, { hosts: 1, guests: 3 });
    const { guests } = await assertVisitReplies(dan, dan.directRoomId, visit);
    const urls = new Set(visit.guests.map(urlOf));
    assert.equal(urls.size, 3, 'three different guest links');
    assert.equal((textOf(guests).match(/Guest \d:/g) ?? []).length, 3);
  });

  test('timezone Europe/Paris, then visit at 14:30 for 45m: 14:30 in Paris, 45 minutes', async () => {
    const erin = h.emulator.addPerson();
    await h.say(erin, 'timezone Europe/Paris');
    const [set] = await h.emulator.waitForMessages(inRoom(erin.directRoomId), 1, 'the zone confirmed');
    assert.match(textOf(set!), /Europe\/Paris/);
    await h.say(erin, 'visit at 14:30 for 45m');
    const visit = await onlyVisitOf(erin);
    const start = new Date(visit.start);
    const paris = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Paris',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(start);
    assert.equal(paris, '14:30', `starts at 14:30 in Paris (${visit.start})`);
    assert.equal((Date.parse(visit.end) - start.getTime()) / 60_000, 45, 'lasts 45 minutes');
    const ahead = start.getTime() - Date.now();
    assert.ok(ahead > 0 && ahead <= 24 * 3600_000, `the next 14:30, not another day: ${visit.start}`);
    assert.equal(visit.state, 'scheduled');
    await assertVisitReplies(erin, erin.directRoomId, visit);
    // The visits API says the same.
    const read = await request(h.server, 'GET', `/api/visits/${visit.id}`);
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.start, visit.start);
    assert.equal(read.body.end, visit.end);
  });

  test('visits: the requester\u2019s upcoming visits, not other people\u2019s', async () => {
    const fay = h.emulator.addPerson();
    const gus = h.emulator.addPerson();
    await h.say(fay, 'visit Fay first');
    await h.say(fay, 'visit Fay second in 2h');
    await h.say(gus, 'visit Gus only');
    const fays = await eventually(
      () => visitsBy(h.server, fay),
      (v) => v.length === 2,
      'Fay\u2019s two visits',
    );
    const [gusVisit] = await eventually(
      () => visitsBy(h.server, gus),
      (v) => v.length === 1,
      'Gus\u2019s visit',
    );
    // Let the replies of the visits go first, so the list is the last message in Fay's space.
    await h.emulator.waitForMessages(inRoom(fay.directRoomId), 2, 'Fay\u2019s guest links');
    const already = h.emulator.sent.filter(inRoom(fay.directRoomId)).length;
    await h.say(fay, 'visits');
    const all = await h.emulator.waitForMessages(inRoom(fay.directRoomId), already + 1, 'the list');
    const list = textOf(all.at(-1)!);
    assert.match(list, /upcoming visits/i);
    for (const v of fays) {
      assert.ok(list.includes(v.id), `lists ${v.id}`);
      assert.ok(list.includes(v.subject), `lists ${v.subject}`);
    }
    assert.ok(!list.includes(gusVisit!.id), 'not Gus\u2019s visit');
    assert.ok(!list.includes('Gus only'));
    // Someone with no visits is told so.
    const hal = h.emulator.addPerson();
    await h.say(hal, 'visits');
    const [none] = await h.emulator.waitForMessages(inRoom(hal.directRoomId), 1, 'the empty list');
    assert.match(textOf(none!), /no upcoming visits/i);
  });

  test('cancel <id>: the visit is cancelled and its links are refused', async () => {
    const ida = h.emulator.addPerson();
    await h.say(ida, 'visit To be cancelled');
    const visit = await onlyVisitOf(ida);
    await h.emulator.waitForMessages(inRoom(ida.directRoomId), 1, 'the guest link');
    const guest = visit.guests[0]!;
    const open = await request(
      h.server,
      'GET',
      new URL(guest.longUrl).pathname + new URL(guest.longUrl).search,
      {
        key: null,
        headers: { accept: 'text/html' },
      },
    );
    assert.equal(open.status, 200, 'the link works before');

    await h.say(ida, `cancel ${visit.id}`);
    const all = await h.emulator.waitForMessages(inRoom(ida.directRoomId), 2, 'the cancellation');
    assert.match(textOf(all.at(-1)!), new RegExp(`Cancelled .*${escapeRegExp(visit.id)}`));
    const after = await request(h.server, 'GET', `/api/visits/${visit.id}`);
    assert.equal(after.body.state, 'cancelled');
    const refused = await request(
      h.server,
      'GET',
      new URL(guest.longUrl).pathname + new URL(guest.longUrl).search,
      { key: null, headers: { accept: 'text/html' } },
    );
    assert.equal(refused.status, 410, 'the guest link is refused');
    const space = await request(
      h.server,
      'GET',
      `/api/v1/space/?int=jose&data=${encodeURIComponent(guest.cipher)}`,
      {
        key: null,
      },
    );
    assert.equal(space.status, 410, space.text);

    // Someone else cannot cancel it, nor an unknown one.
    const jon = h.emulator.addPerson();
    const other = await (async () => {
      await h.say(jon, 'visit Jon keeps this');
      return onlyVisitOf(jon);
    })();
    await h.say(ida, `cancel ${other.id}`);
    const told = await h.emulator.waitForMessages(inRoom(ida.directRoomId), 3, 'the refusal');
    assert.match(textOf(told.at(-1)!), /found no upcoming visit of yours/);
    assert.equal((await request(h.server, 'GET', `/api/visits/${other.id}`)).body.state, 'open');
  });

  test('unknown text: the help, saying it did not understand', async () => {
    const kim = h.emulator.addPerson();
    await h.say(kim, 'make me a sandwich');
    const [reply] = await h.emulator.waitForMessages(inRoom(kim.directRoomId), 1, 'the help');
    assert.match(textOf(reply!), /did not understand "make me a sandwich"/);
    assert.match(textOf(reply!), /`visit with 3 guests`/);
    assert.deepEqual(await visitsBy(h.server, kim), [], 'no visit made');
  });

  test('a card submission (attachmentActions) makes a visit from its inputs', async () => {
    const lou = h.emulator.addPerson();
    const action = h.emulator.seedAction({
      from: lou,
      inputs: { subject: 'From the card', guests: '2', start: '', duration: '45m' },
    });
    const answer = await h.deliver(actionDelivery(action));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.accepted, true);
    const visit = await onlyVisitOf(lou);
    assert.equal(visit.subject, 'From the card');
    assert.deepEqual(visit.counts, { hosts: 1, guests: 2 });
    assert.equal((Date.parse(visit.end) - Date.parse(visit.start)) / 60_000, 45);
    await assertVisitReplies(lou, lou.directRoomId, visit);
    assert.equal(h.emulator.callsTo('GET', `/attachment/actions/${action.id}`).length, 1);
  });
});

describe('bot in a group space', () => {
  test('mentioned: visit answers in the space with the guest link; the host link only 1:1', async () => {
    const room = h.emulator.addGroupRoom();
    const max = h.emulator.addPerson();
    const ned = h.emulator.addPerson();
    await h.say(max, 'visit Group consult', { roomType: 'group', roomId: room });
    const visit = await onlyVisitOf(max);
    assert.equal(visit.subject, 'Group consult', 'the mention is not part of the subject');
    await assertVisitReplies(max, room, visit);
    // Another member asks for help in the same space: answered there, without the card.
    await h.say(ned, 'help', { roomType: 'group', roomId: room });
    const inSpace = await h.emulator.waitForMessages(inRoom(room), 2, 'the help in the space');
    assert.match(textOf(inSpace.at(-1)!), /Instant Connect visits/);
    assert.equal(inSpace.at(-1)!.attachments, undefined, 'no card in a group space');
    // Nothing of the visit's host side ever went to the group, nor to Ned.
    for (const m of h.emulator.sent.filter((s) => s.roomId === room || s.toPersonId === ned.id)) {
      assert.ok(!leaks(textOf(m), visit.hosts[0]!), `host link leaked: ${textOf(m)}`);
    }
    assert.equal(h.emulator.sent.filter(toPerson(max)).length, 1, 'one host message, to Max');
  });

  test('not mentioned: ignored, no reply and no visit', async () => {
    const room = h.emulator.addGroupRoom();
    const ola = h.emulator.addPerson();
    const message = await h.say(ola, 'visit please', { roomType: 'group', roomId: room, mentionBot: false });
    await eventually(
      () => h.emulator.callsTo('GET', `/messages/${message.id}`).length,
      (n) => n === 1,
      'the job to read the message',
    );
    await assertStaysAt(h.emulator, (m) => m.roomId === room || m.toPersonId === ola.id, 0, 'replies');
    assert.deepEqual(await visitsBy(h.server, ola), []);
  });
});

describe('the bot\u2019s own messages', () => {
  test('a delivery of the bot\u2019s own message is ignored: not read, not answered', async () => {
    const own = h.emulator.seedMessage({ from: h.emulator.bot, text: 'help' });
    const answer = await h.deliver(messageDelivery(own));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.accepted, false);
    assert.match(answer.body.reason, /bot itself/);
    await assertStaysAt(h.emulator, (m) => m.roomId === own.roomId, 0, 'replies to the bot');
    assert.equal(h.emulator.callsTo('GET', `/messages/${own.id}`).length, 0);
  });

  test('a delivery that does not say who wrote it, of the bot\u2019s own message: read, then ignored', async () => {
    const own = h.emulator.seedMessage({ from: h.emulator.bot, text: 'visit' });
    const payload = messageDelivery(own) as { data: Record<string, unknown> };
    delete payload.data['personId'];
    delete payload.data['personEmail'];
    const answer = await h.deliver(payload);
    assert.equal(answer.status, 200, answer.text);
    await eventually(
      () => h.emulator.callsTo('GET', `/messages/${own.id}`).length,
      (n) => n === 1,
      'the job to read it',
    );
    await assertStaysAt(
      h.emulator,
      (m) => m.roomId === own.roomId || m.toPersonId === h.emulator.bot.id,
      0,
      'replies',
    );
    assert.deepEqual(await visitsBy(h.server, h.emulator.bot), []);
  });
});
