/**
 * Email notices over a real SMTP server on 127.0.0.1 (issue 16, part A): what arrives is parsed
 * with mailparser and its invitation read back with ical.js, as a mail client would. A visit made
 * with recipients sends each a plain-text and an HTML part with the link and a METHOD:REQUEST
 * invitation in their zone and language; cancelling sends METHOD:CANCEL with the same UID and a
 * higher SEQUENCE. Each attempt is a delivery record and a `link.delivered` /
 * `link.delivery_failed` event, which reaches an outbound events subscriber. An SMTP server that is
 * down gets the notice once it is back, once; a refused address fails once and for good.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import ICAL from 'ical.js';
import type { ParsedMail } from 'mailparser';
import { SmtpChannel } from '../../src/adapters/smtp.js';
import { ChannelError } from '../../src/errors.js';
import { type Receiver, startReceiver } from '../events/receiver.js';
import { StaffClient, visitForm } from '../staff/helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { type SmtpMessage, type SmtpTestServer, startSmtpServer } from '../support/smtp.js';
import { api, call, createVisit, eventsOf, eventually, type Visit } from '../visits/helpers.js';

const WAIT = 20_000; // a hang guard for a loaded machine, never a measure

interface Delivery {
  id: number;
  role: string;
  index: number;
  channel: string;
  to: string;
  trigger: string;
  actor: string;
  attempt: number;
  status: string;
  providerId?: string;
  error?: string;
}

async function deliveriesOf(server: TestServer, id: string): Promise<Delivery[]> {
  const answer = await api(server, 'GET', `/api/visits/${id}/deliveries`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body.items;
}

function mailsTo(smtp: SmtpTestServer, address: string): SmtpMessage[] {
  return smtp.messages.filter((m) => m.to.includes(address));
}

/** The invitation of a mail, as a calendar client reads it. */
function invitationOf(mail: ParsedMail) {
  const part = mail.attachments.find((a) => a.contentType === 'text/calendar');
  assert.ok(part, `no text/calendar part; parts: ${mail.attachments.map((a) => a.contentType).join(', ')}`);
  const calendar = new ICAL.Component(ICAL.parse(part.content.toString('utf8')));
  const vevent = calendar.getFirstSubcomponent('vevent');
  assert.ok(vevent);
  const event = new ICAL.Event(vevent);
  return {
    method: String(calendar.getFirstPropertyValue('method')),
    zone: String(calendar.getFirstPropertyValue('x-wr-timezone')),
    uid: event.uid,
    sequence: event.sequence,
    start: event.startDate.toUnixTime(),
    end: event.endDate.toUnixTime(),
    url: String(vevent.getFirstPropertyValue('url') ?? ''),
    description: event.description,
    status: String(vevent.getFirstPropertyValue('status')),
    summary: event.summary,
  };
}

/** `H:MM` of an instant in a zone (no leading zero), as a person there reads a clock. */
function clockIn(epochSeconds: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    timeZone,
    hourCycle: 'h23',
  }).formatToParts(new Date(epochSeconds * 1000));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${Number(part('hour'))}:${part('minute')}`;
}

const epoch = (iso: string) => Date.parse(iso) / 1000;

/** Every line the server logged (pino at trace, into memory). */
const lines: string[] = [];
const capture = {
  write(chunk: string) {
    for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(line);
  },
};

describe('email notices through a real SMTP server', () => {
  let smtp: SmtpTestServer;
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    smtp = await startSmtpServer();
    receiver = await startReceiver();
    server = await startTestServer({
      logger: { level: 'trace', stream: capture },
      jobs: { pollMs: 50 },
      email: { url: smtp.url, from: { name: 'Clinic', address: 'visits@clinic.example' } },
      events: { allowPrivate: ['127.0.0.1/32'], timing: { pollMs: 50, retrySchedule: [1], timeoutMs: 5000 } },
    });
    const sub = await api(server, 'POST', '/api/events/subscriptions', {
      url: receiver.url,
      types: ['link.delivered', 'link.delivery_failed'],
    });
    assert.equal(sub.status, 201, sub.text);
  });
  after(async () => {
    await server?.close();
    await smtp?.stop();
    await receiver?.stop();
  });

  let visit: Visit;
  const guest = 'ana.garcia@patients.example';
  const host = 'dr.who@clinic.example';

  test('a visit with recipients: each gets text, HTML and a METHOD:REQUEST invitation in their zone and language', async () => {
    visit = await createVisit(server, {
      subject: 'Follow-up <script>alert(1)</script> & more',
      start: '+2h',
      ttl: '45m',
      hosts: 1,
      guests: 2,
      recipients: [
        { role: 'guest', name: 'Ana <b>García</b>', email: guest, language: 'es', timeZone: 'Europe/Madrid' },
        { role: 'host', email: host, timeZone: 'America/New_York' },
      ],
    });
    assert.deepEqual(visit.recipients, [
      {
        role: 'guest',
        index: 0,
        name: 'Ana <b>García</b>',
        email: guest,
        language: 'es',
        timeZone: 'Europe/Madrid',
      },
      { role: 'host', index: 0, email: host, timeZone: 'America/New_York' },
    ]);
    await eventually(
      () => smtp.messages.length,
      (n) => n >= 2,
      'both notices',
      WAIT,
    );
    const guestUrl = visit.guests[0]!.shortUrl ?? visit.guests[0]!.longUrl;
    const hostUrl = visit.hosts[0]!.shortUrl ?? visit.hosts[0]!.longUrl;

    const [toGuest] = mailsTo(smtp, guest);
    assert.ok(toGuest);
    const mail = toGuest.mail;
    assert.equal(mail.subject, 'Su videoconsulta: Follow-up <script>alert(1)</script> & more');
    assert.equal(mail.from?.value[0]?.address, 'visits@clinic.example');
    assert.ok(mail.text?.includes(guestUrl), mail.text);
    assert.ok(!mail.text?.includes(hostUrl), 'a guest never gets the host link');
    assert.ok(mail.text?.includes('Hola, Ana <b>García</b>:'), mail.text);
    // The times as a reader in Madrid sees them, in the text.
    const start = epoch(visit.start);
    assert.ok(mail.text?.includes(clockIn(start, 'Europe/Madrid')), mail.text);
    assert.ok(mail.text?.includes('Europe/Madrid'));
    // HTML: what people wrote is escaped; the link is written out and clickable.
    const html = String(mail.html);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more'), html);
    assert.ok(!html.includes('<script>'), html);
    assert.ok(html.includes('Ana &lt;b&gt;García&lt;/b&gt;'), html);
    assert.ok(html.includes(`<a href="${guestUrl}">${guestUrl}</a>`), html);

    const invite = invitationOf(mail);
    assert.equal(invite.method, 'REQUEST');
    assert.equal(invite.uid, `${visit.id}.guest.0@instant-connect`);
    assert.equal(invite.sequence, 0);
    assert.equal(invite.start, start);
    assert.equal(invite.end, epoch(visit.end));
    assert.equal(invite.zone, 'Europe/Madrid');
    assert.equal(invite.url, guestUrl);
    assert.ok(invite.description.includes(guestUrl));
    assert.ok(invite.description.includes(clockIn(start, 'Europe/Madrid')));

    const [toHost] = mailsTo(smtp, host);
    assert.ok(toHost);
    assert.equal(toHost.mail.subject, 'Your video visit: Follow-up <script>alert(1)</script> & more');
    assert.ok(toHost.mail.text?.includes(hostUrl));
    assert.ok(toHost.mail.text?.includes(clockIn(start, 'America/New_York')), toHost.mail.text);
    assert.ok(toHost.mail.text?.includes('do not share it'));
    const hostInvite = invitationOf(toHost.mail);
    assert.equal(hostInvite.uid, `${visit.id}.host.0@instant-connect`);
    assert.equal(hostInvite.zone, 'America/New_York');
    assert.equal(hostInvite.url, hostUrl);
    // The second guest link has no recipient: nothing else was sent.
    assert.equal(smtp.messages.length, 2);
  });

  test('each attempt is a delivery record and a link.delivered event, which reaches a subscriber', async () => {
    const records = await eventually(
      () => deliveriesOf(server, visit.id),
      (r) => r.length === 2,
      'two delivery records',
      WAIT,
    );
    for (const [role, to] of [
      ['guest', guest],
      ['host', host],
    ] as const) {
      const record = records.find((r) => r.role === role);
      assert.ok(record);
      assert.equal(record.to, to);
      assert.equal(record.channel, 'email');
      assert.equal(record.trigger, 'visit.created');
      assert.match(record.actor, /^key:/);
      assert.equal(record.status, 'sent');
      assert.equal(record.attempt, 1);
      // The provider's id is the Message-ID the server received.
      assert.equal(record.providerId, mailsTo(smtp, to)[0]!.mail.messageId);
    }
    const delivered = (await eventsOf(server, visit.id)).filter((e) => e.type === 'link.delivered');
    assert.equal(delivered.length, 2);
    const guestEvent = delivered.find((e) => e.data['role'] === 'guest');
    assert.equal(guestEvent?.data['to'], 'a***@patients.example', 'addresses are masked in events');
    const received = await eventually(
      () => receiver.received.filter((r) => r.body.data['visitId'] === visit.id),
      (r) => r.length === 2,
      'link.delivered at the subscriber',
      WAIT,
    );
    assert.deepEqual(
      received.map((r) => r.body.type),
      ['link.delivered', 'link.delivered'],
    );
  });

  test('cancelling sends METHOD:CANCEL with the same UID and a higher SEQUENCE', async () => {
    const cancelled = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    await eventually(
      () => mailsTo(smtp, guest).length,
      (n) => n === 2,
      'the cancel notice',
      WAIT,
    );
    const mail = mailsTo(smtp, guest)[1]!.mail;
    assert.equal(mail.subject, 'Cancelada: Follow-up <script>alert(1)</script> & more');
    const invite = invitationOf(mail);
    assert.equal(invite.method, 'CANCEL');
    assert.equal(invite.uid, `${visit.id}.guest.0@instant-connect`);
    assert.equal(invite.sequence, 1);
    assert.equal(invite.status, 'CANCELLED');
    assert.equal(invite.start, epoch(visit.start));
    await eventually(
      () => mailsTo(smtp, host).length,
      (n) => n === 2,
      'the host cancel notice',
      WAIT,
    );
    const records = await eventually(
      () => deliveriesOf(server, visit.id),
      (r) => r.length === 4,
      'four records',
      WAIT,
    );
    assert.deepEqual(records.map((r) => [r.trigger, r.status]).slice(2), [
      ['visit.cancelled', 'sent'],
      ['visit.cancelled', 'sent'],
    ]);
  });

  test('the staff visit page shows the recipients and every delivery, escaped', async () => {
    const staff = new StaffClient(server.url);
    await staff.signIn(server.key);
    const page = await staff.get(`/visits/${visit.id}`);
    assert.equal(page.status, 200);
    const section = page.text.slice(
      page.text.indexOf('id="recipients-heading"'),
      page.text.indexOf('id="events-heading"'),
    );
    assert.ok(section.includes('Ana &lt;b&gt;García&lt;/b&gt;'), section);
    assert.ok(!section.includes('<b>García'), 'a name is text, not markup');
    assert.ok(section.includes(guest) && section.includes(host));
    assert.equal(section.match(/<strong class="delivery-sent">/g)?.length, 4, section);
    assert.ok(section.includes('visit.cancelled'));
  });

  test('an address the server refuses (550): failed, link.delivery_failed, and not tried again', async () => {
    const refused = 'nobody@patients.example';
    smtp.reject.add(refused);
    const v = await createVisit(server, { recipients: [{ role: 'guest', email: refused }] });
    const records = await eventually(
      () => deliveriesOf(server, v.id),
      (r) => r.length === 1,
      'the failed attempt',
      WAIT,
    );
    assert.equal(records[0]!.status, 'failed');
    assert.match(records[0]!.error ?? '', /550/);
    const failed = await eventually(
      async () => (await eventsOf(server, v.id)).filter((e) => e.type === 'link.delivery_failed'),
      (e) => e.length === 1,
      'link.delivery_failed',
      WAIT,
    );
    assert.equal(failed[0]!.data['permanent'], true);
    assert.equal(failed[0]!.data['to'], 'n***@patients.example');
    await eventually(
      () => receiver.received.filter((r) => r.body.data['visitId'] === v.id).map((r) => r.body.type),
      (t) => t.includes('link.delivery_failed'),
      'link.delivery_failed at the subscriber',
      WAIT,
    );
    // The job is over: failed for good, one attempt.
    const jobs = await server.server.context.store.claimJobs(Number.MAX_SAFE_INTEGER, 100, 1);
    assert.ok(!jobs.some((j) => j.payload['visitId'] === v.id), 'the notice is not due again');
    assert.equal(mailsTo(smtp, refused).length, 0);
    assert.equal((await deliveriesOf(server, v.id)).length, 1);
  });

  test('SMTP down (connection refused) then up: the notice arrives once', async () => {
    const to = 'late@patients.example';
    await smtp.stop();
    const v = await createVisit(server, { recipients: [{ role: 'guest', email: to }] });
    const first = await eventually(
      () => deliveriesOf(server, v.id),
      (r) => r.length >= 1,
      'the refused attempt',
      WAIT,
    );
    assert.equal(first[0]!.status, 'failed');
    assert.match(first[0]!.error ?? '', /ECONNECTION|ECONNREFUSED/);
    assert.ok(!(first[0]!.error ?? '').includes(smtp.password), 'no SMTP password in errors');
    await smtp.start();
    await eventually(
      () => mailsTo(smtp, to).length,
      (n) => n === 1,
      'the notice after the restart',
      WAIT,
    );
    const records = await eventually(
      () => deliveriesOf(server, v.id),
      (r) => r.some((d) => d.status === 'sent'),
      'the sent record',
      WAIT,
    );
    assert.deepEqual(
      records.map((r) => [r.attempt, r.status]),
      [
        [1, 'failed'],
        [2, 'sent'],
      ],
    );
    const events = await eventsOf(server, v.id);
    assert.equal(events.filter((e) => e.type === 'link.delivered').length, 1);
    assert.equal(
      events.filter((e) => e.type === 'link.delivery_failed').length,
      0,
      'a retried attempt is no failure',
    );
    assert.equal(mailsTo(smtp, to).length, 1);
  });

  test('the signed trigger (/hooks/visits) takes recipients too: the notice goes out, the actor is the hook', async () => {
    const { hook, secret } = await server.server.context.trigger.createHook(
      server.server.context.org,
      'scheduler',
    );
    const to = 'triggered@patients.example';
    const raw = JSON.stringify({ crypto: { iterations: 1000 }, recipients: [{ role: 'guest', email: to }] });
    const timestamp = Math.floor(Date.now() / 1000);
    const answer = await call(`${server.url}/hooks/visits`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-ic-hook': hook.id,
        'x-ic-timestamp': String(timestamp),
        'x-ic-signature': `v1=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`,
      },
      body: raw,
    });
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(answer.body.recipients, [{ role: 'guest', index: 0, email: to }]);
    await eventually(
      () => mailsTo(smtp, to).length,
      (n) => n === 1,
      'the triggered notice',
      WAIT,
    );
    const [record] = await eventually(
      () => deliveriesOf(server, answer.body.id),
      (r) => r.length === 1,
      'its record',
      WAIT,
    );
    assert.equal(record!.actor, `hook:${hook.id}`);
  });

  test('the SMTP channel: a refused login is worth another attempt, a refused address is not; neither names the password', async () => {
    const wrong = 'Wr0ng-pa55word-%2F';
    const denied = new SmtpChannel({
      url: `smtp://${smtp.user}:${wrong}@127.0.0.1:${smtp.port}`,
      from: { name: 'Clinic', address: 'visits@clinic.example' },
    });
    try {
      await assert.rejects(
        denied.send({ to: 'x@patients.example', subject: 's', text: 't' }),
        (err: unknown) => {
          assert.ok(err instanceof ChannelError, String(err));
          assert.equal(err.code, 'ERR_CHANNEL');
          assert.equal(err.permanent, false, err.message);
          assert.match(err.message, /EAUTH|535/);
          assert.ok(!err.message.includes('Wr0ng-pa55word'), err.message);
          return true;
        },
      );
    } finally {
      denied.close();
    }
    const channel = new SmtpChannel({
      url: smtp.url,
      from: { name: 'Clinic', address: 'visits@clinic.example' },
    });
    try {
      smtp.reject.add('gone@patients.example');
      await assert.rejects(
        channel.send({ to: 'gone@patients.example', subject: 's', text: 't' }),
        (err: unknown) => err instanceof ChannelError && err.permanent && /550/.test(err.message),
      );
      const sent = await channel.send({ to: 'here@patients.example', subject: 'Hi', text: 'Plain' });
      assert.equal(sent.status, 'sent');
      assert.equal(sent.providerId, mailsTo(smtp, 'here@patients.example')[0]?.mail.messageId);
    } finally {
      channel.close();
    }
  });

  test('the staff form takes recipients, one a line: each gets their link; a bad line is named next to the field', async () => {
    const staff = new StaffClient(server.url);
    await staff.signIn(server.key);
    const csrf = await staff.csrf();
    const made = await staff.post(
      '/visits',
      visitForm(csrf, { recipients: 'staff-guest@patients.example\r\nhost staff-host@clinic.example\r\n' }),
      { origin: server.url },
    );
    assert.equal(made.status, 303, made.text);
    const id = String(made.location).split('/').pop()!;
    await eventually(
      () =>
        mailsTo(smtp, 'staff-guest@patients.example').length +
        mailsTo(smtp, 'staff-host@clinic.example').length,
      (n) => n === 2,
      'both notices from the staff form',
      WAIT,
    );
    const records = await eventually(
      () => deliveriesOf(server, id),
      (r) => r.length === 2,
      'the records',
      WAIT,
    );
    assert.ok(records.every((r) => r.actor.startsWith('staff:')));
    const refused = await staff.post(
      '/visits',
      visitForm(csrf, { guests: '1', recipients: 'a@patients.example\nnot-an-address\nb@patients.example' }),
      { origin: server.url },
    );
    assert.equal(refused.status, 400, refused.text);
    const field = refused.text.slice(refused.text.indexOf('id="recipients-hint"'));
    assert.match(field, /Recipients, line 2 \(email\)/);
    assert.match(refused.text, /not-an-address/, 'what was typed is kept');
  });

  test('recipients are checked: every problem named, with its field and rule', async () => {
    const answer = await api(server, 'POST', '/api/visits', {
      hosts: 1,
      guests: 1,
      recipients: [
        { role: 'guest', email: 'a@patients.example' },
        { role: 'guest', email: 'b@patients.example' },
        { role: 'host', index: 3, email: 'h@clinic.example' },
        { role: 'guest', channel: 'sms', email: 'c@patients.example' },
        { role: 'guest', name: 'Nobody' },
        { role: 'guest', email: 'd@patients.example', timeZone: 'Mars/Olympus', language: 'tlh' },
      ],
    });
    assert.equal(answer.status, 400, answer.text);
    const issues = (answer.body.errors as { path: string; rule: string }[]).map((i) => `${i.path} ${i.rule}`);
    for (const expected of [
      'recipients[1] count',
      'recipients[2].index range',
      'recipients[3].phone required',
      'recipients[4] required',
      'recipients[5].timeZone timezone',
      'recipients[5].language enum',
    ])
      assert.ok(issues.includes(expected), `${expected} in ${issues.join('; ')}`);
    const schema = await api(server, 'POST', '/api/visits', {
      recipients: [{ role: 'judge', email: 'not-an-address', phone: '555-1234', colour: 'red' }],
    });
    assert.equal(schema.status, 400, schema.text);
    const paths = (schema.body.errors as { path: string }[]).map((i) => i.path);
    for (const p of [
      'recipients[0].role',
      'recipients[0].email',
      'recipients[0].phone',
      'recipients[0].colour',
    ])
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  });

  test('the log tells each attempt with the address masked, and holds neither an address nor the SMTP password', () => {
    const text = lines.join('\n');
    assert.ok(
      lines.some((l) => l.includes('notice for') && l.includes('a***@patients.example')),
      'an attempt is logged, masked',
    );
    assert.ok(lines.some((l) => l.includes('l***@patients.example') && l.includes('will retry')));
    assert.ok(!text.includes(smtp.password), 'no SMTP password in the log');
    assert.ok(!text.includes(smtp.url), 'no SMTP_URL in the log');
    for (const address of [guest, host, 'nobody@patients.example', 'late@patients.example'])
      assert.ok(!text.includes(address), `${address} is masked in the log`);
  });
});
