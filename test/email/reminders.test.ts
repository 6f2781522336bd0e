/**
 * Reminders over a real SMTP server on 127.0.0.1 (issue 16): with REMINDER_OFFSETS of a few
 * seconds, a visit starting soon gets its reminder at its moment (never before), in the recipient's
 * zone and language, with the link and no new invitation; one whose moment has passed when the visit
 * is made is not stored; a cancelled visit's reminder sends nothing and says so (`skipped`), as does
 * a reminder job that runs long after its moment: a reminder is never sent late.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { nowSeconds } from '../../src/domain/time.js';
import { NOTICE_JOB } from '../../src/visits/notices.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { type SmtpMessage, type SmtpTestServer, startSmtpServer } from '../support/smtp.js';
import { api, createVisit, eventually } from '../visits/helpers.js';

const WAIT = 20_000; // a hang guard for a loaded machine, never a measure
const OFFSET = 3; // seconds before the start

interface Delivery {
  role: string;
  index: number;
  channel: string;
  to: string;
  trigger: string;
  actor: string;
  status: string;
  error?: string;
}

async function deliveriesOf(server: TestServer, id: string): Promise<Delivery[]> {
  const answer = await api(server, 'GET', `/api/visits/${id}/deliveries`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body.items;
}

const epoch = (iso: string) => Date.parse(iso) / 1000;

/** `H:MM` of an instant in a zone, as a person there reads a clock. */
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

describe('reminders through a real SMTP server', () => {
  let smtp: SmtpTestServer;
  let server: TestServer;
  /** When each message arrived (epoch seconds, the server's clock). */
  const arrived = new Map<SmtpMessage, number>();
  let watch: NodeJS.Timeout | undefined;
  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({
      jobs: { pollMs: 50 },
      email: { url: smtp.url, from: { name: 'Clinic', address: 'visits@clinic.example' } },
      reminders: { offsets: [OFFSET] },
    });
    // Stamps each message as it arrives (checked often; a stamp can only be late, never early).
    watch = setInterval(() => {
      for (const m of smtp.messages) if (!arrived.has(m)) arrived.set(m, Date.now() / 1000);
    }, 20);
  });
  after(async () => {
    clearInterval(watch);
    await server?.close();
    await smtp?.stop();
  });

  const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address));

  test('a visit starting soon: its reminder arrives at its moment, in the zone and language, with the link', async () => {
    const to = 'rosa.reminder@patients.example';
    const visit = await createVisit(server, {
      subject: 'Check-up',
      start: '+8s',
      ttl: '10m',
      guests: 1,
      recipients: [{ role: 'guest', email: to, language: 'es', timeZone: 'America/Mexico_City' }],
    });
    const start = epoch(visit.start);
    const mails = await eventually(
      () => mailsTo(to),
      (m) => m.length === 2,
      'the notice and the reminder',
      WAIT,
    );
    const reminder = mails.find((m) => m.mail.subject?.startsWith('Recordatorio'));
    assert.ok(reminder, mails.map((m) => m.mail.subject).join(', '));
    assert.equal(reminder.mail.subject, 'Recordatorio: Check-up');
    const url = visit.guests[0]!.shortUrl ?? visit.guests[0]!.longUrl;
    const text = reminder.mail.text ?? '';
    assert.ok(text.includes('Su videoconsulta empieza el'), text);
    assert.ok(text.includes(clockIn(start, 'America/Mexico_City')), text);
    assert.ok(text.includes(url), text);
    assert.ok(String(reminder.mail.html).includes(`<a href="${url}">${url}</a>`));
    // No new invitation: the creation notice's is in the calendar already.
    assert.equal(
      reminder.mail.attachments.filter((a) => a.contentType === 'text/calendar').length,
      0,
      'a reminder carries no invitation',
    );
    // Not before its moment (the stamp is taken after arrival, so it can only be later).
    const at = arrived.get(reminder) ?? Date.now() / 1000;
    assert.ok(at >= start - OFFSET, `the reminder came before its moment (${at} < ${start - OFFSET})`);
    const records = await eventually(
      () => deliveriesOf(server, visit.id),
      (r) => r.length === 2,
      'two records',
      WAIT,
    );
    const record = records.find((r) => r.trigger === 'visit.reminder');
    assert.ok(record, JSON.stringify(records));
    assert.equal(record.status, 'sent');
    assert.equal(record.actor, 'system');
    assert.equal(record.to, to);
  });

  test('a visit whose reminder moment has already passed when it is made gets no reminder job', async () => {
    const late = 'late.reminder@patients.example';
    const soon = 'soon.reminder@patients.example';
    const passed = await createVisit(server, {
      subject: 'Now',
      start: '+2s',
      ttl: '10m',
      guests: 1,
      recipients: [{ role: 'guest', email: late }],
    });
    const coming = await createVisit(server, {
      subject: 'Later',
      start: '+1h',
      ttl: '10m',
      guests: 1,
      recipients: [{ role: 'guest', email: soon }],
    });
    // A stored reminder's dedup key refuses a second job; an absent one takes it (parked a day out).
    const probe = (visitId: string) =>
      server.server.context.store.enqueueJob({
        type: NOTICE_JOB,
        payload: {},
        runAt: nowSeconds() + 86_400,
        maxAttempts: 1,
        dedupKey: `reminder:${visitId}:guest:0:${OFFSET}`,
      });
    assert.equal(await probe(coming.id), undefined, 'the coming visit has its reminder stored');
    assert.notEqual(await probe(passed.id), undefined, 'the passed moment got a reminder job');
    await eventually(
      () => mailsTo(late),
      (m) => m.length === 1,
      'the creation notice',
      WAIT,
    );
    const records = await deliveriesOf(server, passed.id);
    assert.deepEqual(
      records.map((r) => r.trigger),
      ['visit.created'],
    );
  });

  test('a visit cancelled before its reminder: nothing is sent, the record says skipped and why', async () => {
    const to = 'cancel.reminder@patients.example';
    const visit = await createVisit(server, {
      subject: 'Cancelled soon',
      start: '+6s',
      ttl: '10m',
      guests: 1,
      recipients: [{ role: 'guest', email: to }],
    });
    const cancelled = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    const records = await eventually(
      () => deliveriesOf(server, visit.id),
      (r) => r.some((d) => d.trigger === 'visit.reminder'),
      'the reminder record',
      WAIT,
    );
    const reminder = records.find((d) => d.trigger === 'visit.reminder');
    assert.equal(reminder?.status, 'skipped', JSON.stringify(reminder));
    assert.match(reminder?.error ?? '', /cancelled/);
    assert.equal(
      mailsTo(to).filter((m) => m.mail.subject?.startsWith('Reminder')).length,
      0,
      'no reminder mail',
    );
  });

  test('a reminder job that runs long after its moment sends nothing: a reminder is never late', async () => {
    const to = 'stale.reminder@patients.example';
    const visit = await createVisit(server, {
      subject: 'Stale',
      start: '+1h',
      ttl: '10m',
      guests: 1,
      recipients: [{ role: 'guest', email: to }],
    });
    await eventually(
      () => mailsTo(to),
      (m) => m.length === 1,
      'the creation notice',
      WAIT,
    );
    // A reminder whose moment was an hour ago (the server was down, say): due now, long overdue.
    const start = epoch(visit.start);
    const due = nowSeconds() - 3600;
    const id = await server.server.context.store.enqueueJob({
      type: NOTICE_JOB,
      payload: {
        orgId: server.server.context.org.id,
        visitId: visit.id,
        role: 'guest',
        index: 0,
        trigger: 'visit.reminder',
        actor: 'system',
        sequence: 0,
        offset: start - due,
        due,
      },
      runAt: due,
      maxAttempts: 3,
      dedupKey: `reminder:${visit.id}:guest:0:${start - due}`,
    });
    assert.ok(id);
    const records = await eventually(
      () => deliveriesOf(server, visit.id),
      (r) => r.some((d) => d.trigger === 'visit.reminder'),
      'the reminder record',
      WAIT,
    );
    const reminder = records.find((d) => d.trigger === 'visit.reminder');
    assert.equal(reminder?.status, 'skipped');
    assert.match(reminder?.error ?? '', /never sent late/);
    const job = await server.server.context.store.getJob(id);
    assert.equal(job?.status, 'done');
    assert.equal(mailsTo(to).length, 1, 'only the creation notice');
  });
});
