/**
 * The staff form goes through the API's issuing limits (review finding 9 of issue 11): per
 * address (RATE_LIMIT_ISSUE_PER_ADDRESS) and per API key (RATE_LIMIT_ISSUE_PER_KEY, the
 * session's key, counted with what the same key makes through the API). Over a limit: 429 with
 * Retry-After, the form again with what was typed and a message saying when to retry, no visit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testFetch } from '../support/inject-fetch.js';
import { ROOMY_LIMITS, startTestServer, type TestServer } from '../support/server.js';
import { api, StaffClient, tagOf, visitForm } from './helpers.js';

const LIMIT = 2;

async function staffOn(server: TestServer): Promise<{ client: StaffClient; csrf: string }> {
  const client = new StaffClient(server.url);
  await client.signIn(server.key);
  return { client, csrf: await client.csrf() };
}

const visitCount = async (server: TestServer) => (await api(server, '/api/visits?limit=1')).total as number;

describe('staff form and the issuing limits', () => {
  let perAddress: TestServer;
  let perKey: TestServer;
  before(async () => {
    perAddress = await startTestServer({ rateLimits: { ...ROOMY_LIMITS, issuePerAddress: LIMIT } });
    perKey = await startTestServer({ rateLimits: { ...ROOMY_LIMITS, issuePerKey: LIMIT } });
  });
  after(async () => {
    await perAddress?.close();
    await perKey?.close();
  });

  test(`past RATE_LIMIT_ISSUE_PER_ADDRESS (${LIMIT}): 429, the form kept, no visit`, async () => {
    const { client, csrf } = await staffOn(perAddress);
    for (let i = 0; i < LIMIT; i++) {
      const made = await client.post('/visits', visitForm(csrf, { subject: `ok ${i}` }), {
        origin: perAddress.url,
      });
      assert.equal(made.status, 303, made.text);
    }
    const refused = await client.post('/visits', visitForm(csrf, { subject: 'One too many', guests: '3' }), {
      origin: perAddress.url,
    });
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
    assert.match(
      refused.text,
      /The visit was not created: Too many issuing requests from your address: at most 2 a minute; try again in \d+ s/,
    );
    // The form again, with what was typed.
    assert.match(tagOf(refused.text, 'subject'), /value="One too many"/);
    assert.match(tagOf(refused.text, 'guests'), /value="3"/);
    assert.equal(await visitCount(perAddress), LIMIT, 'no visit past the limit');
  });

  test(`past RATE_LIMIT_ISSUE_PER_KEY (${LIMIT}), counted with the API's use of the same key: 429, no visit`, async () => {
    const { client, csrf } = await staffOn(perKey);
    const viaApi = await testFetch(`${perKey.url}/api/visits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${perKey.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'through the API' }),
    });
    assert.equal(viaApi.status, 201, await viaApi.text());
    const made = await client.post('/visits', visitForm(csrf, { subject: 'staff 1' }), {
      origin: perKey.url,
    });
    assert.equal(made.status, 303, made.text);
    const refused = await client.post('/visits', visitForm(csrf, { subject: 'staff 2' }), {
      origin: perKey.url,
    });
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.text, /Too many requests with this API key/);
    assert.equal(await visitCount(perKey), LIMIT);
  });
});
