/**
 * Hostile input against Twilio's webhooks, POST /hooks/sms/twilio/status and /inbound
 * (X-Twilio-Signature: HMAC-SHA1 of PUBLIC_URL's URL and the sorted form, with TWILIO_AUTH_TOKEN).
 * Missing, forged or other-URL signatures are 401; correctly signed hostile forms are answered
 * (204, 200) or the right 400; anything but a form is 415; never a 5xx, and no opt-out is recorded
 * from a forged STOP.
 */
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  signAsTwilio,
  startTwilioStub,
  type TwilioStub,
  twilioServerOptions,
} from '../support/twilio-stub.js';
import { assertAlive, assertSane, expectAnswer, nastyString, runs, send } from './support.js';

let stub: TwilioStub;
let server: TestServer;
let publicUrl: string;

before(async () => {
  stub = await startTwilioStub();
  const options = await twilioServerOptions(stub);
  publicUrl = options.publicUrl;
  server = await startTestServer(options);
});
after(async () => {
  await assertAlive(server.url);
  await server.close();
  await stub.close();
});

const PATHS = ['/hooks/sms/twilio/status', '/hooks/sms/twilio/inbound'] as const;
const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e]/g, '');

/**
 * A form of hostile fields, some with the names Twilio sends. Lone surrogates are made well formed
 * first: a form cannot carry them (URL encoding turns them into U+FFFD), so Twilio never signs them.
 */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const wellFormed = (form: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(form).map(([k, v]) => [
      k.replace(loneSurrogate, '\ufffd'),
      v.replace(loneSurrogate, '\ufffd'),
    ]),
  );
const hostileForm = fc
  .dictionary(
    fc.oneof(
      fc.constantFrom(
        'MessageSid',
        'MessageStatus',
        'ErrorCode',
        'From',
        'Body',
        'To',
        'SmsSid',
        'SmsStatus',
      ),
      nastyString,
    ),
    fc.oneof(
      nastyString,
      fc.constantFrom('queued', 'sent', 'delivered', 'failed', 'STOP', 'start', '+14155550100', ''),
    ),
    { maxKeys: 8 },
  )
  .map(wellFormed);

function toTwilio(
  path: string,
  form: Record<string, string>,
  signature: string | null,
  contentType?: string,
) {
  const body = new URLSearchParams(form).toString();
  const headers: Record<string, string> = {
    'content-type': contentType ?? 'application/x-www-form-urlencoded',
  };
  if (signature !== null) headers['x-twilio-signature'] = signature;
  return { method: 'POST', path, headers, body };
}

describe("Twilio's webhooks", () => {
  test('a missing, forged or other-URL X-Twilio-Signature: 401, whatever the form', async () => {
    const signature = fc.oneof(
      fc.constant(null),
      fc.constantFrom('', ' ', 'AAAA', '='.repeat(28)),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }).map(headerSafe),
      fc.constantFrom('OTHER-TOKEN', 'OTHER-URL', 'OTHER-FORM'),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATHS), hostileForm, signature, async (path, form, sig) => {
        let header = sig;
        const url = `${publicUrl}${path}`;
        if (sig === 'OTHER-TOKEN') header = signAsTwilio('0'.repeat(32), url, form);
        if (sig === 'OTHER-URL') header = signAsTwilio(stub.authToken, `${url}?x=1`, form);
        if (sig === 'OTHER-FORM') header = signAsTwilio(stub.authToken, url, { ...form, Extra: '1' });
        await expectAnswer(server.url, toTwilio(path, form, header), {
          kind: 'api',
          status: 401,
          code: 'ERR_UNAUTHORIZED',
        });
      }),
      runs(150),
    );
    // A forged STOP recorded nothing.
    const store = server.server.context.store;
    await expectAnswer(server.url, toTwilio(PATHS[1], { From: '+14155550199', Body: 'STOP' }, 'forged'), {
      kind: 'api',
      status: 401,
      code: 'ERR_UNAUTHORIZED',
    });
    if (await store.getSmsOptOut('+14155550199')) throw new Error('a forged STOP was recorded');
  });

  test('correctly signed hostile forms: answered, or 400 naming the field; never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATHS), hostileForm, async (path, form) => {
        const answer = await send(
          server.url,
          toTwilio(path, form, signAsTwilio(stub.authToken, `${publicUrl}${path}`, form)),
        );
        assertSane(answer, { kind: 'any', status: [200, 204, 400] });
        if (answer.status === 400) assertSane(answer, { kind: 'api', status: 400, code: 'ERR_VALIDATION' });
      }),
      runs(200),
    );
  });

  test('anything but a form is 415, signed or not', async () => {
    for (const path of PATHS)
      for (const type of ['application/json', 'text/plain', 'multipart/form-data; boundary=x'])
        await expectAnswer(server.url, toTwilio(path, { Body: 'STOP' }, null, type), {
          kind: 'api',
          status: 415,
        });
  });
});
