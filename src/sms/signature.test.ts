import assert from 'node:assert/strict';
import { test } from 'node:test';
import { twilioSignature, verifyTwilioSignature } from './signature.js';

// The example of Twilio's documentation (api-snippets security/signature_validation).
const URL_ = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const form = (caller: string) =>
  new URLSearchParams({
    CallSid: 'CA1234567890ABCDE',
    Caller: caller,
    Digits: '1234',
    From: caller,
    To: '+18005551212',
  });

test("Twilio's documented examples: the URL, then the fields sorted by name, HMAC-SHA1 in base64", () => {
  assert.equal(twilioSignature('12345', URL_, form('+14158675310')), 'GvWf1cFY/Q7PnoempGyD5oXAezc=');
  assert.equal(twilioSignature('12345', URL_, form('+14158675309')), 'RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  // The order the fields came in does not matter.
  const shuffled = new URLSearchParams([...form('+14158675310').entries()].reverse());
  assert.equal(verifyTwilioSignature('12345', URL_, shuffled, 'GvWf1cFY/Q7PnoempGyD5oXAezc='), true);
});

test('another token, URL, field or a malformed header does not verify', () => {
  const good = 'GvWf1cFY/Q7PnoempGyD5oXAezc=';
  assert.equal(verifyTwilioSignature('12346', URL_, form('+14158675310'), good), false);
  assert.equal(verifyTwilioSignature('12345', `${URL_}&x=1`, form('+14158675310'), good), false);
  assert.equal(verifyTwilioSignature('12345', URL_, form('+14158675311'), good), false);
  for (const bad of [undefined, '', 'GvWf1cFY', `${good}=`, good.replace('=', ''), 'é'.repeat(28)])
    assert.equal(verifyTwilioSignature('12345', URL_, form('+14158675310'), bad), false, String(bad));
});
