/**
 * The Twilio channel against a Twilio-shaped server on 127.0.0.1: the form and Basic auth it sends,
 * Twilio's answers, and its failures as ChannelErrors (429 and 5xx retriable, 21211 and 21610
 * permanent), never with a credential in them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TwilioSms } from '../../src/adapters/sms/twilio.js';
import { ChannelError } from '../../src/errors.js';
import { startTwilioStub, type TwilioStub } from '../support/twilio-stub.js';

async function failure(promise: Promise<unknown>): Promise<ChannelError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ChannelError, `a ChannelError, not ${String(err)}`);
    return err;
  }
  assert.fail('the send should have failed');
}

describe('Twilio Messages API', () => {
  let stub: TwilioStub;
  let twilio: TwilioSms;
  const callback = 'https://visits.example.org/hooks/sms/twilio/status';
  const secrets = () => [
    stub.authToken,
    Buffer.from(`${stub.accountSid}:${stub.authToken}`).toString('base64'),
  ];
  const clean = (err: Error) => {
    for (const secret of secrets()) {
      assert.ok(!err.message.includes(secret), `no credential in: ${err.message}`);
      assert.ok(!String(err.stack).includes(secret));
      assert.ok(!JSON.stringify(err).includes(secret));
    }
  };

  before(async () => {
    stub = await startTwilioStub();
    twilio = new TwilioSms({
      accountSid: stub.accountSid,
      authToken: stub.authToken,
      from: '+15005550006',
      apiUrl: stub.url,
      statusCallback: callback,
    });
  });
  after(() => stub.close());

  test('sends the form Twilio takes, with Basic auth, and answers its sid as queued', async () => {
    const result = await twilio.send({ to: '+14155550100', text: 'Your visit: https://v.example/s/abc €' });
    assert.match(result.providerId ?? '', /^SM[0-9a-f]{32}$/);
    assert.equal(result.status, 'queued');
    const sent = stub.messages.at(-1)!;
    assert.equal(sent.sid, result.providerId);
    assert.deepEqual(sent.form, {
      To: '+14155550100',
      Body: 'Your visit: https://v.example/s/abc €',
      From: '+15005550006',
      StatusCallback: callback,
    });
    assert.match(sent.contentType ?? '', /^application\/x-www-form-urlencoded/);
    // Nothing of the credentials in what the adapter shows of itself.
    for (const secret of secrets()) {
      assert.ok(!String(twilio).includes(secret));
      assert.ok(!JSON.stringify(twilio).includes(secret));
    }
  });

  test('a messaging service instead of a number: MessagingServiceSid, no From; Twilio says accepted', async () => {
    const service = new TwilioSms({
      accountSid: stub.accountSid,
      authToken: stub.authToken,
      messagingServiceSid: `MG${'a'.repeat(32)}`,
      apiUrl: stub.url,
    });
    const result = await service.send({ to: '+14155550101', text: 'hi' });
    assert.equal(result.status, 'queued');
    const sent = stub.messages.at(-1)!;
    assert.equal(sent.messagingServiceSid, `MG${'a'.repeat(32)}`);
    assert.equal(sent.form['From'], undefined);
    assert.equal(sent.form['StatusCallback'], undefined);
  });

  test('429 with Retry-After is retriable after that many seconds; 500 and 503 are retriable', async () => {
    stub.failNext({ status: 429, headers: { 'retry-after': '7' } });
    const limited = await failure(twilio.send({ to: '+14155550100', text: 'x' }));
    assert.equal(limited.permanent, false);
    assert.equal(limited.retryAfter, 7);
    assert.equal(limited.code, 'ERR_CHANNEL');
    assert.match(limited.message, /429/);
    clean(limited);
    for (const status of [500, 503]) {
      stub.failNext({ status, body: { code: 20500, message: 'Internal Server Error', status } });
      const down = await failure(twilio.send({ to: '+14155550100', text: 'x' }));
      assert.equal(down.permanent, false, String(status));
      assert.match(down.message, new RegExp(String(status)));
      clean(down);
    }
  });

  test('21211 (an invalid number) and 21610 (the recipient replied STOP) are permanent, the number masked', async () => {
    const invalid = await failure(twilio.send({ to: '+1415', text: 'x' }));
    assert.equal(invalid.permanent, true);
    assert.match(invalid.message, /400: 21211/);
    stub.unsubscribed.add('+14155550199');
    const stopped = await failure(twilio.send({ to: '+14155550199', text: 'x' }));
    assert.equal(stopped.permanent, true);
    assert.match(stopped.message, /21610/);
    clean(invalid);
    clean(stopped);
  });

  test('wrong credentials (Twilio 20003) are refused permanently, and the token is never in the error', async () => {
    const wrong = new TwilioSms({
      accountSid: stub.accountSid,
      authToken: 'wrong-token-0123456789',
      from: '+15005550006',
      apiUrl: stub.url,
    });
    const refused = await failure(wrong.send({ to: '+14155550100', text: 'x' }));
    assert.equal(refused.permanent, true);
    assert.match(refused.message, /401: 20003 Authenticate/);
    assert.ok(!refused.message.includes('wrong-token-0123456789'));
    clean(refused);
  });

  test('Twilio unreachable is retriable, and says so without credentials', async () => {
    const closed = await startTwilioStub();
    const origin = closed.url;
    await closed.close();
    const gone = new TwilioSms({
      accountSid: stub.accountSid,
      authToken: stub.authToken,
      from: '+15005550006',
      apiUrl: origin,
    });
    const err = await failure(gone.send({ to: '+14155550100', text: 'x' }));
    assert.equal(err.permanent, false);
    assert.match(err.message, /could not be reached/);
    clean(err);
  });
});
