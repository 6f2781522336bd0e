/**
 * Resend (issue 16): POST /api/visits/{id}/links/{role}/{index}/resend queues the link's notice
 * again, over a real SMTP server on 127.0.0.1 and the Twilio-shaped stub: a second mail arrives with
 * the same invitation, or an SMS on the other channel; the delivery records say trigger `resend`
 * and who asked. A link without a recipient, a recipient without an address there, an unknown
 * channel are 400s naming the field; an unknown visit or link 404; a cancelled visit 409.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import ICAL from 'ical.js';
import type { ParsedMail } from 'mailparser';
import { StaffClient } from '../staff/helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { type SmtpTestServer, startSmtpServer } from '../support/smtp.js';
import { startTwilioStub, type TwilioStub } from '../support/twilio-stub.js';
import { api, createVisit, eventually, type Visit } from '../visits/helpers.js';

const WAIT = 20_000; // a hang guard for a loaded machine, never a measure

interface Delivery {
  channel: string;
  to: string;
  trigger: string;
  actor: string;
  status: string;
}

function uidOf(mail: ParsedMail): string {
  const part = mail.attachments.find((a) => a.contentType === 'text/calendar');
  assert.ok(part, 'no invitation');
  const calendar = new ICAL.Component(ICAL.parse(part.content.toString('utf8')));
  return new ICAL.Event(calendar.getFirstSubcomponent('vevent')!).uid;
}

describe('resending a link', () => {
  let smtp: SmtpTestServer;
  let stub: TwilioStub;
  let server: TestServer;
  let visit: Visit;
  const email = 'ana.resend@patients.example';
  const phone = '+14155550177';
  before(async () => {
    smtp = await startSmtpServer();
    stub = await startTwilioStub();
    server = await startTestServer({
      jobs: { pollMs: 50 },
      email: { url: smtp.url, from: { name: 'Clinic', address: 'visits@clinic.example' } },
      sms: {
        provider: 'twilio',
        accountSid: stub.accountSid,
        authToken: stub.authToken,
        from: '+15005550006',
        apiUrl: stub.url,
      },
    });
    visit = await createVisit(server, {
      subject: 'Resend me',
      start: '+1h',
      ttl: '30m',
      hosts: 1,
      guests: 2,
      recipients: [
        { role: 'guest', email, phone },
        { role: 'host', email: 'dr.resend@clinic.example' },
      ],
    });
    await eventually(
      () => smtp.messages.filter((m) => m.to.includes(email)),
      (m) => m.length === 1,
      'the creation notice',
      WAIT,
    );
  });
  after(async () => {
    await server?.close();
    await smtp?.stop();
    await stub?.close();
  });

  const deliveries = async (id: string): Promise<Delivery[]> =>
    (await api(server, 'GET', `/api/visits/${id}/deliveries`)).body.items;
  const resend = (id: string, path: string, body?: unknown) =>
    api(server, 'POST', `/api/visits/${id}/links/${path}/resend`, body);

  test('by API: a second mail with the same invitation; the records say resend and who', async () => {
    const answer = await resend(visit.id, 'guest/0');
    assert.equal(answer.status, 202, answer.text);
    assert.equal(answer.body.channel, 'email');
    assert.equal(answer.body.to, email);
    assert.equal(answer.body.trigger, 'resend');
    assert.equal(answer.body.status, 'queued');
    assert.match(answer.body.actor, /^key:/);
    const mails = await eventually(
      () => smtp.messages.filter((m) => m.to.includes(email)),
      (m) => m.length === 2,
      'the resent mail',
      WAIT,
    );
    const url = visit.guests[0]!.shortUrl ?? visit.guests[0]!.longUrl;
    assert.ok(mails[1]!.mail.text?.includes(url));
    assert.equal(uidOf(mails[1]!.mail), uidOf(mails[0]!.mail), 'the same invitation');
    const records = await eventually(
      () => deliveries(visit.id),
      (r) => r.some((d) => d.trigger === 'resend'),
      'the resend record',
      WAIT,
    );
    const record = records.find((d) => d.trigger === 'resend');
    assert.equal(record?.status, 'sent');
    assert.equal(record?.actor, answer.body.actor);
    assert.equal(record?.channel, 'email');
  });

  test('on the other channel: an SMS through the Twilio stub', async () => {
    const answer = await resend(visit.id, 'guest/0', { channel: 'sms' });
    assert.equal(answer.status, 202, answer.text);
    assert.equal(answer.body.channel, 'sms');
    assert.equal(answer.body.to, phone);
    const [sms] = await eventually(
      () => stub.messages.filter((m) => m.to === phone),
      (list) => list.length === 1,
      'the SMS',
      WAIT,
    );
    const url = visit.guests[0]!.shortUrl ?? visit.guests[0]!.longUrl;
    assert.ok(sms!.body.includes(url), sms!.body);
    await eventually(
      () => deliveries(visit.id),
      (r) => r.some((d) => d.trigger === 'resend' && d.channel === 'sms' && d.to === phone),
      'the SMS resend record',
      WAIT,
    );
  });

  test('the staff visit page: a Resend button per recipient, a CSRF-checked form; the record names the staff member', async () => {
    const staff = new StaffClient(server.url);
    await staff.signIn(server.key);
    const page = await staff.get(`/visits/${visit.id}`);
    assert.equal(page.status, 200, page.text);
    const action = `/visits/${visit.id}/links/guest/0/resend`;
    assert.ok(page.text.includes(`action="${action}"`), 'a Resend form for the guest');
    assert.ok(page.text.includes(`action="/visits/${visit.id}/links/host/0/resend"`), 'and for the host');
    assert.ok(!page.text.includes('/links/guest/1/resend'), 'none for a link without a recipient');
    const before = smtp.messages.filter((m) => m.to.includes(email)).length;
    // Without the token: refused, nothing sent.
    const forged = await staff.post(action, { _csrf: 'forged' });
    assert.equal(forged.status, 403, forged.text);
    const csrf = await staff.csrf(`/visits/${visit.id}`);
    const sent = await staff.post(action, { _csrf: csrf });
    assert.equal(sent.status, 303, sent.text);
    assert.equal(sent.location, `/visits/${visit.id}`);
    await eventually(
      () => smtp.messages.filter((m) => m.to.includes(email)),
      (m) => m.length === before + 1,
      'the mail resent from the staff page',
      WAIT,
    );
    const records = await eventually(
      () => deliveries(visit.id),
      (r) => r.some((d) => d.trigger === 'resend' && d.actor.startsWith('staff:')),
      'the staff resend record',
      WAIT,
    );
    assert.equal(records.filter((d) => d.trigger === 'resend' && d.actor.startsWith('staff:')).length, 1);
  });

  test('400 naming the field, 404 for an unknown visit or link, 409 once cancelled', async () => {
    const errorsOf = (answer: { body: { errors?: { path: string }[] } }) =>
      (answer.body.errors ?? []).map((e) => e.path);
    const noPhone = await resend(visit.id, 'host/0', { channel: 'sms' });
    assert.equal(noPhone.status, 400, noPhone.text);
    assert.deepEqual(errorsOf(noPhone), ['channel']);
    const noRecipient = await resend(visit.id, 'guest/1');
    assert.equal(noRecipient.status, 400, noRecipient.text);
    assert.deepEqual(errorsOf(noRecipient), ['recipient']);
    const badChannel = await resend(visit.id, 'guest/0', { channel: 'fax' });
    assert.equal(badChannel.status, 400, badChannel.text);
    assert.ok(errorsOf(badChannel).includes('channel'), badChannel.text);
    assert.equal((await resend('vis_nope0000000000000', 'guest/0')).status, 404);
    assert.equal((await resend(visit.id, 'guest/9')).status, 404);
    const before = smtp.messages.length;
    const cancelled = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    const late = await resend(visit.id, 'guest/0');
    assert.equal(late.status, 409, late.text);
    // Only the cancellation notices follow (guest and host), never a resent link.
    await eventually(
      () => smtp.messages.length,
      (n) => n >= before + 2,
      'the cancel notices',
      WAIT,
    );
    assert.ok(smtp.messages.slice(before).every((m) => m.mail.subject?.startsWith('Cancelled')));
  });
});
