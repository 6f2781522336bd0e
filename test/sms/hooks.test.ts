/**
 * SMS through the whole server, on SQLite and PostgreSQL: the channel the container builds sends to
 * a Twilio-shaped stub with a StatusCallback on PUBLIC_URL; the stub's signed status callbacks move
 * the stored status forward; a bad signature is 401; a reply STOP refuses further SMS to that
 * number (permanently, without calling Twilio), START lets them through again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ChannelError } from '../../src/errors.js';
import { EMPTY_TWIML } from '../../src/sms/service.js';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  signAsTwilio,
  startTwilioStub,
  type TwilioStub,
  twilioServerOptions,
} from '../support/twilio-stub.js';

const pgBase = testDatabaseUrl();

function smsSuite(name: string, database: () => Promise<TestDatabase | undefined>, skip?: string): void {
  describe(`SMS webhooks: ${name}`, { skip: skip ?? false }, () => {
    let stub: TwilioStub;
    let server: TestServer;
    let db: TestDatabase | undefined;
    let publicUrl: string;

    before(async () => {
      stub = await startTwilioStub();
      db = await database();
      const options = await twilioServerOptions(stub);
      publicUrl = options.publicUrl;
      server = await startTestServer({ ...options, ...(db ? { databaseUrl: db.url } : {}) });
    });
    after(async () => {
      await server?.close();
      await stub?.close();
      await db?.drop();
    });

    const sms = () => server.server.context.sms!;
    const store = () => server.server.context.store;

    test('a sent SMS names the status callback; signed callbacks move its status forward, never back', async () => {
      const result = await sms().send({ to: '+1 415 555 0100', text: 'Your visit: https://v.example/s/a' });
      assert.equal(result.status, 'queued');
      const sent = stub.messages.at(-1)!;
      assert.equal(sent.to, '+14155550100', 'sent in E.164');
      assert.equal(sent.statusCallback, `${publicUrl}/hooks/sms/twilio/status`);
      assert.equal((await store().getSmsMessage(sent.sid))?.status, 'queued');

      assert.equal(await stub.sendStatus(sent.sid, 'sent'), 204);
      assert.equal((await store().getSmsMessage(sent.sid))?.status, 'sent');
      assert.equal(await stub.sendStatus(sent.sid, 'delivered'), 204);
      assert.equal(await stub.sendStatus(sent.sid, 'sent'), 204, 'a late callback is answered');
      assert.equal((await store().getSmsMessage(sent.sid))?.status, 'delivered', 'and changes nothing');

      await sms().send({ to: '+14155550102', text: 'x' });
      const other = stub.messages.at(-1)!;
      assert.equal(await stub.sendStatus(other.sid, 'undelivered', { errorCode: '30003' }), 204);
      const stored = await store().getSmsMessage(other.sid);
      assert.equal(stored?.status, 'undelivered');
      assert.equal(stored?.errorCode, '30003');
    });

    test('a bad signature is 401 and changes nothing; a missing MessageSid is 400 naming it', async () => {
      await sms().send({ to: '+14155550103', text: 'x' });
      const sent = stub.messages.at(-1)!;
      assert.equal(await stub.sendStatus(sent.sid, 'delivered', { token: 'not-the-auth-token' }), 401);
      assert.equal((await store().getSmsMessage(sent.sid))?.status, 'queued');
      // Signed for another URL (a proxy rewrote it, or a replay against another server): refused.
      const target = `${publicUrl}/hooks/sms/twilio/inbound`;
      const moved = await stub.sendInbound(target, '+14155550103', 'STOP', {
        signedUrl: `${publicUrl}/other`,
      });
      assert.equal(moved.status, 401);
      assert.equal(await store().getSmsOptOut('+14155550103'), undefined);
      // No signature at all.
      const unsigned = await fetch(`${publicUrl}/hooks/sms/twilio/status`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `MessageSid=${sent.sid}&MessageStatus=delivered`,
      });
      assert.equal(unsigned.status, 401);
      assert.equal(((await unsigned.json()) as { code: string }).code, 'ERR_UNAUTHORIZED');
      // Signed, but without a MessageSid.
      const fields = { MessageStatus: 'delivered' };
      const bad = await fetch(`${publicUrl}/hooks/sms/twilio/status`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signAsTwilio(stub.authToken, `${publicUrl}/hooks/sms/twilio/status`, fields),
        },
        body: new URLSearchParams(fields).toString(),
      });
      assert.equal(bad.status, 400);
      const body = (await bad.json()) as { errors: { path?: string; rule?: string }[] };
      assert.deepEqual(
        body.errors.map((e) => [e.path, e.rule]),
        [['MessageSid', 'required']],
      );
    });

    test('a reply STOP refuses SMS to that number permanently, without Twilio; START lets them through', async () => {
      const phone = '+14155550104';
      const inbound = `${publicUrl}/hooks/sms/twilio/inbound`;
      const stop = await stub.sendInbound(inbound, phone, ' Stop ');
      assert.equal(stop.status, 200);
      assert.match(stop.contentType ?? '', /^text\/xml/);
      assert.equal(stop.body, EMPTY_TWIML);
      assert.equal((await store().getSmsOptOut(phone))?.keyword, 'STOP');

      const before = stub.requests;
      const refused = await sms()
        .send({ to: phone, text: 'Your visit' })
        .then(
          () => assert.fail('an opted-out number must be refused'),
          (err: unknown) => err,
        );
      assert.ok(refused instanceof ChannelError);
      assert.equal(refused.permanent, true);
      assert.match(refused.message, /opted out/);
      assert.ok(!refused.message.includes(phone), 'the number is masked');
      assert.equal(stub.requests, before, 'Twilio was not called');

      // An ordinary reply changes nothing.
      assert.equal((await stub.sendInbound(inbound, phone, 'stop texting me please')).status, 200);
      assert.ok(await store().getSmsOptOut(phone));

      const start = await stub.sendInbound(inbound, phone, 'start');
      assert.equal(start.status, 200);
      assert.equal(await store().getSmsOptOut(phone), undefined);
      const result = await sms().send({ to: phone, text: 'Your visit' });
      assert.equal(result.status, 'queued');
      assert.equal(stub.messages.at(-1)!.to, phone);
    });

    test("Twilio's 21610 (the number replied STOP to Twilio itself) is recorded: the next SMS is refused here", async () => {
      const phone = '+14155550105';
      stub.unsubscribed.add(phone);
      const first = await sms()
        .send({ to: phone, text: 'x' })
        .then(
          () => assert.fail('Twilio refuses it'),
          (e: unknown) => e,
        );
      assert.ok(first instanceof ChannelError && first.permanent);
      assert.match(first.message, /21610/);
      assert.equal((await store().getSmsOptOut(phone))?.keyword, 'STOP');
      const before = stub.requests;
      const second = await sms()
        .send({ to: phone, text: 'x' })
        .then(
          () => assert.fail('refused here'),
          (e: unknown) => e,
        );
      assert.ok(second instanceof ChannelError && second.permanent);
      assert.match(second.message, /opted out/);
      assert.equal(stub.requests, before, 'without asking Twilio');
    });

    test('a number that is not E.164 is refused permanently before Twilio', async () => {
      const before = stub.requests;
      const err = await sms()
        .send({ to: '415 555 0100', text: 'x' })
        .then(
          () => assert.fail('refused'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof ChannelError && err.permanent);
      assert.equal(stub.requests, before);
    });
  });
}

smsSuite('SQLite', async () => undefined);
smsSuite('PostgreSQL', async () => createTestDatabase(pgBase!), pgBase ? undefined : PG_SKIP);

describe('SMS off', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('without SMS_PROVIDER the Twilio webhooks are 404 and the context has no SMS channel', async () => {
    assert.equal(server.server.context.sms, undefined);
    for (const path of ['/hooks/sms/twilio/status', '/hooks/sms/twilio/inbound']) {
      const answer = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'MessageSid=SM1&MessageStatus=sent',
      });
      assert.equal(answer.status, 404, path);
    }
  });
});
