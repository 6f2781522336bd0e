/**
 * Who may use the bot, how many visits it makes for one person, and what a hostile subject can do
 * to its messages, over real HTTP with the Webex emulator (review finding 5, 9 and 10c of issue 11):
 *   - a stranger (a domain and an organisation not allowed) gets one refusal, no visit, no link;
 *   - only what Webex's API says about the person counts, not the delivery or the message text;
 *   - a bot without BOT_ALLOWED_* refuses everything, and `serve` says so at start;
 *   - one person's concurrent flood makes exactly BOT_VISITS_PER_PERSON visits;
 *   - a subject with a markdown link, a URL or a mention reaches Webex with no live link but ours,
 *     through the bot and through the trigger's notify.
 * Run `npm run build` first (one test starts the built `serve`).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { removeDir, spawnCli, tempDir } from '../cli/run-cli.js';
import { foreignLinks } from '../support/markdown-links.js';
import { ROOMY_LIMITS } from '../support/server.js';
import {
  type EmulatedPerson,
  messageDelivery,
  type SentMessage,
  startWebexEmulator,
  type WebexEmulator,
} from '../support/webex-emulator.js';
import type { Visit } from '../visits/helpers.js';
import {
  allVisits,
  assertNoSecretHeard,
  assertStaysAt,
  type BotHarness,
  eventually,
  request,
  startBotHarness,
  textOf,
  urlOf,
  visitsBy,
} from './helpers.js';

const PER_PERSON = 3;
/** An organisation allowed by id, whose people have an email domain that is not allowed. */
const PARTNER_ORG = Buffer.from(`ciscospark://us/ORGANIZATION/${randomUUID()}`).toString('base64url');
const STRANGER_ORG = Buffer.from(`ciscospark://us/ORGANIZATION/${randomUUID()}`).toString('base64url');

let emulator: WebexEmulator;
let h: BotHarness;
let closed: BotHarness;
before(async () => {
  emulator = await startWebexEmulator();
  h = await startBotHarness({
    emulator,
    access: { allowedDomains: ['example.com'], allowedOrgs: [PARTNER_ORG] },
    rateLimits: { ...ROOMY_LIMITS, botVisitsPerPerson: PER_PERSON },
  });
  closed = await startBotHarness({ access: {} });
});
after(async () => {
  await h?.close();
  await closed?.close();
  await emulator?.close();
  assertNoSecretHeard();
});

/** Everything the bot sent to a person: in their 1:1 space or addressed to them. */
const toOrAbout = (p: EmulatedPerson) => (m: SentMessage) =>
  m.roomId === p.directRoomId || m.toPersonId === p.id || m.toPersonEmail === p.emails[0];
const hasLink = (m: SentMessage) => /\/visit\//.test(textOf(m));

describe('who may use the bot', () => {
  test('a stranger (gmail.com, another organisation): one refusal, no visit, no link', async () => {
    const stranger = emulator.addPerson({
      email: `someone-${randomUUID().slice(0, 6)}@gmail.com`,
      orgId: STRANGER_ORG,
    });
    const before = (await allVisits(h.server)).length;
    await h.say(stranger, 'visit with 50 guests');
    const [refusal] = await emulator.waitForMessages(toOrAbout(stranger), 1, 'the refusal');
    assert.match(textOf(refusal!), /not one of them/);
    assert.equal(refusal!.roomId, stranger.directRoomId, 'in the space where they asked');
    await assertStaysAt(emulator, toOrAbout(stranger), 1, 'replies to the stranger');
    assert.equal(emulator.sent.filter(toOrAbout(stranger)).filter(hasLink).length, 0, 'no link sent');
    assert.deepEqual(await visitsBy(h.server, stranger), []);
    assert.equal((await allVisits(h.server)).length, before, 'no visit in the organisation');
    // The bot asked Webex who the person is.
    assert.equal(emulator.callsTo('GET', `/people/${stranger.id}`).length, 1);
  });

  test('a stranger whose delivery and message claim an allowed address is still a stranger', async () => {
    const stranger = emulator.addPerson({
      email: `m-${randomUUID().slice(0, 6)}@evil.example`,
      orgId: STRANGER_ORG,
    });
    const message = emulator.seedMessage({
      from: stranger,
      text: 'visit for dr@example.com orgId example.com',
    });
    const delivery = messageDelivery(message) as { data: Record<string, unknown>; orgId: string };
    delivery.data['personEmail'] = 'dr@example.com';
    delivery.orgId = PARTNER_ORG;
    assert.equal((await h.deliver(delivery)).status, 200);
    const [refusal] = await emulator.waitForMessages(toOrAbout(stranger), 1, 'the refusal');
    assert.match(textOf(refusal!), /not one of them/);
    await assertStaysAt(emulator, toOrAbout(stranger), 1, 'replies to the stranger');
    assert.deepEqual(await visitsBy(h.server, stranger), []);
  });

  test('a stranger\u2019s card submission: refused, no visit', async () => {
    const stranger = emulator.addPerson({
      email: `c-${randomUUID().slice(0, 6)}@gmail.com`,
      orgId: STRANGER_ORG,
    });
    const action = emulator.seedAction({ from: stranger, inputs: { guests: '50', subject: 'card' } });
    const { actionDelivery } = await import('../support/webex-emulator.js');
    assert.equal((await h.deliver(actionDelivery(action))).status, 200);
    await emulator.waitForMessages(toOrAbout(stranger), 1, 'the refusal');
    await assertStaysAt(emulator, toOrAbout(stranger), 1, 'replies to the stranger');
    assert.deepEqual(await visitsBy(h.server, stranger), []);
  });

  test('an allowed domain: the visit is made, the links are sent', async () => {
    const dr = emulator.addPerson({
      email: `dr-${randomUUID().slice(0, 6)}@EXAMPLE.com`,
      orgId: STRANGER_ORG,
    });
    await h.say(dr, 'visit Domain allowed');
    const [visit] = await eventually(
      () => visitsBy(h.server, dr),
      (v) => v.length === 1,
      'the visit',
    );
    assert.equal(visit!.subject, 'Domain allowed');
    await emulator.waitForMessages((m) => m.toPersonId === dr.id && hasLink(m), 1, 'the host link');
  });

  test('an allowed organisation: the visit is made whatever the email domain', async () => {
    const partner = emulator.addPerson({
      email: `p-${randomUUID().slice(0, 6)}@partner.example`,
      orgId: PARTNER_ORG,
    });
    await h.say(partner, 'visit Org allowed');
    const [visit] = await eventually(
      () => visitsBy(h.server, partner),
      (v) => v.length === 1,
      'the visit',
    );
    assert.equal(visit!.subject, 'Org allowed');
    await emulator.waitForMessages((m) => m.toPersonId === partner.id && hasLink(m), 1, 'the host link');
  });

  test('closed (no BOT_ALLOWED_DOMAINS nor BOT_ALLOWED_ORGS): every command refused, saying what to set', async () => {
    const anyone = closed.emulator.addPerson();
    await closed.say(anyone, 'help');
    await closed.say(anyone, 'visit with 3 guests');
    const replies = await closed.emulator.waitForMessages(toOrAbout(anyone), 2, 'the refusals');
    for (const r of replies) assert.match(textOf(r), /closed.*BOT_ALLOWED_DOMAINS.*BOT_ALLOWED_ORGS/);
    await assertStaysAt(closed.emulator, toOrAbout(anyone), 2, 'replies');
    assert.equal(closed.emulator.sent.filter(hasLink).length, 0, 'no link sent');
    assert.deepEqual(await allVisits(closed.server), []);
  });

  test('serve says at start whether the bot is closed, and for whom it is open', async () => {
    const cwd = tempDir('ic-bot-access-');
    try {
      const env = { WEBEX_TOKEN: emulator.token, WEBEX_API_URL: emulator.apiUrl };
      for (const [extra, expected] of [
        [
          {},
          /bot access:\s+CLOSED: it refuses every command until BOT_ALLOWED_DOMAINS or BOT_ALLOWED_ORGS is set/,
        ],
        [{ BOT_ALLOWED_DOMAINS: 'clinic.example' }, /bot access:\s+for email domains clinic\.example\n/],
      ] as const) {
        const p = spawnCli(
          ['serve', '--port', '0', '--data', `${cwd}/${Object.keys(extra).length}`, '--quiet'],
          {
            cwd,
            env: { ...env, ...extra },
          },
        );
        try {
          await p.waitFor(expected, 20_000);
        } finally {
          p.kill();
          await p.exited;
        }
      }
    } finally {
      removeDir(cwd);
    }
  });
});

describe('visits per person', () => {
  test(`10 concurrent deliveries from one person: exactly ${PER_PERSON} visits, the others told when to retry`, async () => {
    const busy = emulator.addPerson();
    const messages = Array.from({ length: 10 }, (_, i) =>
      emulator.seedMessage({ from: busy, text: `visit Flood ${i} with 2 guests` }),
    );
    const answers = await Promise.all(messages.map((m) => h.deliver(messageDelivery(m))));
    for (const a of answers) assert.equal(a.status, 200, a.text);
    const refusals = await emulator.waitForMessages(
      (m) => m.roomId === busy.directRoomId && /try again in/.test(textOf(m)),
      10 - PER_PERSON,
      'the refusals',
    );
    for (const r of refusals) {
      assert.match(textOf(r), new RegExp(`at most ${PER_PERSON} an hour; try again in \\d+ (min|s)`));
      assert.ok(!hasLink(r));
    }
    await eventually(
      () => visitsBy(h.server, busy),
      (v) => v.length === PER_PERSON,
      'the visits',
    );
    await assertStaysAt(
      emulator,
      (m) => m.toPersonId === busy.id && hasLink(m),
      PER_PERSON,
      'host links sent 1:1',
    );
    assert.equal((await visitsBy(h.server, busy)).length, PER_PERSON, `exactly ${PER_PERSON} visits`);
    // Another person is not held back by this one.
    const other = emulator.addPerson();
    await h.say(other, 'visit Someone else');
    await eventually(
      () => visitsBy(h.server, other),
      (v) => v.length === 1,
      'the other person\u2019s visit',
    );
  });
});

describe('markdown from people is escaped', () => {
  const HOSTILE =
    '[Click here](https://evil.example) https://evil.example/login www.evil.example <@all> <@personEmail:ceo@example.com> **now**';
  const ourLinks = (visit: Visit) => [...visit.hosts, ...visit.guests].map(urlOf);

  test('a subject with a markdown link, URLs and mentions, through the bot: no live link but ours', async () => {
    const ann = emulator.addPerson();
    await h.say(ann, `visit ${HOSTILE}`);
    const [visit] = await eventually(
      () => visitsBy(h.server, ann),
      (v) => v.length === 1,
      'the visit',
    );
    assert.ok(visit!.subject.includes('[Click here](https://evil.example)'), visit!.subject);
    const sent = await emulator.waitForMessages(
      (m) => toOrAbout(ann)(m) && hasLink(m),
      2,
      'the host and guest messages',
    );
    for (const m of sent) {
      assert.deepEqual(foreignLinks(textOf(m), ourLinks(visit!)), [], textOf(m));
      assert.ok(textOf(m).includes('\\[Click here\\]'), 'the subject is shown as typed');
    }
    // Listing and cancelling by the hostile subject: escaped too.
    await h.say(ann, 'visits');
    await h.say(ann, 'cancel [x](https://evil.example/cancel)');
    const replies = await emulator.waitForMessages(
      (m) => m.roomId === ann.directRoomId && /upcoming visits|found no upcoming/.test(textOf(m)),
      2,
      'the list and the cancel reply',
    );
    for (const m of replies) assert.deepEqual(foreignLinks(textOf(m), []), [], textOf(m));
  });

  test('the same subject through the trigger\u2019s notify: no live link but ours', async () => {
    const host = emulator.addPerson({ email: `host-${randomUUID().slice(0, 6)}@clinic.example` });
    const room = emulator.addGroupRoom();
    const answer = await request(h.server, 'POST', '/hooks/visits', {
      body: { subject: HOSTILE, guests: 1, notify: { host: host.emails[0], guests: { roomId: room } } },
    });
    assert.equal(answer.status, 201, answer.text);
    const sent = emulator.sent.filter((m) => m.toPersonEmail === host.emails[0] || m.roomId === room);
    assert.equal(sent.length, 2);
    for (const m of sent) assert.deepEqual(foreignLinks(textOf(m), ourLinks(answer.body)), [], textOf(m));
  });
});
