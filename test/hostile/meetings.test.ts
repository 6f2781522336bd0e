/**
 * Hostile input against meeting telemetry's webhook, POST /hooks/webex/meetings (X-Spark-Signature
 * over the raw body with the meeting webhooks' secret). Forged, truncated and other-body signatures
 * are 401; correctly signed hostile bodies are 200 (queued, a duplicate, or ignored) or the right
 * 400; never a 5xx, and the queued ones never break the job that matches them to visits.
 */
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { eventually } from '../support/eventually.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sparkSignatureOf, startWebexEmulator, type WebexEmulator } from '../support/webex-emulator.js';
import {
  assertAlive,
  assertNoPollution,
  assertSane,
  expectAnswer,
  hostileObject,
  hostileTree,
  jsonText,
  malformedJson,
  nastyString,
  obj,
  POLLUTERS,
  raw,
  runs,
  send,
  type Tree,
} from './support.js';

let emulator: WebexEmulator;
let cisco: TestServer;
let server: TestServer;
const secret = `meetings-${'hostile'.repeat(4)}`;

before(async () => {
  emulator = await startWebexEmulator();
  cisco = await startTestServer();
  server = await startTestServer({
    linkSource: { broker: cisco.url, token: cisco.key },
    webex: { token: emulator.token, apiUrl: emulator.apiUrl },
    meetings: { mode: 'webhooks', webhookSecret: secret },
    jobs: { pollMs: 50, leaseSeconds: 2 },
  });
});
after(async () => {
  await assertAlive(server.url);
  assertNoPollution();
  await server.close();
  await cisco.close();
  await emulator.close();
});

const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e]/g, '');

function toMeetings(body: string | Buffer, signature: string | null) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature !== null) headers['x-spark-signature'] = signature;
  return { method: 'POST', path: '/hooks/webex/meetings', headers, body };
}

/** A meeting or participant delivery with hostile fields here and there. */
const hostileDelivery: fc.Arbitrary<Tree> = fc
  .record({
    resource: fc.oneof(fc.constantFrom('meetings', 'meetingParticipants', 'recordings'), nastyString),
    event: fc.oneof(fc.constantFrom('started', 'ended', 'joined', 'left', 'created'), nastyString),
    id: fc.oneof(nastyString, fc.constant('870f51ff287b41be84648412901e0402_I_1')),
    meetingId: fc.oneof(
      hostileTree,
      nastyString.map((s): Tree => raw(s)),
    ),
    times: hostileTree,
    host: hostileTree,
  })
  .map((r) =>
    obj([
      ['resource', raw(r.resource)],
      ['event', raw(r.event)],
      [
        'data',
        obj([
          ['id', raw(r.id)],
          ['meetingId', r.meetingId],
          ['joinedTime', r.times],
          ['leftTime', r.times],
          ['start', r.times],
          ['host', r.host],
        ]),
      ],
    ]),
  );

describe('POST /hooks/webex/meetings', () => {
  test('a missing, malformed or wrong X-Spark-Signature: 401, whatever the body', async () => {
    const signature = fc.oneof(
      fc.constant(null),
      fc.constantFrom('', ' ', '0'.repeat(40), 'g'.repeat(40), '0'.repeat(41)),
      fc.string({ unit: 'binary-ascii', maxLength: 100 }).map(headerSafe),
      fc.constantFrom('OTHER-SECRET', 'BOT-LIKE', 'TRUNCATED', 'SHA256'),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileDelivery, hostileObject), signature, async (tree, sig) => {
        const body = jsonText(tree);
        let header = sig;
        if (sig === 'OTHER-SECRET') header = sparkSignatureOf('another-secret-entirely', body);
        // The bot's webhook secret is another secret: it never signs meeting deliveries.
        if (sig === 'BOT-LIKE') header = sparkSignatureOf(`${secret}-bot`, body);
        if (sig === 'TRUNCATED') header = sparkSignatureOf(secret, body).slice(0, 39);
        if (sig === 'SHA256') header = createHmac('sha256', secret).update(body).digest('hex');
        await expectAnswer(server.url, toMeetings(body, header), {
          kind: 'api',
          status: 401,
          code: 'ERR_UNAUTHORIZED',
        });
      }),
      runs(200),
    );
  });

  test('correctly signed hostile deliveries: 200 or 400, never a 5xx; the jobs they queue all finish', async () => {
    const runner = server.server.context.runner;
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileDelivery, hostileTree, hostileObject), async (tree) => {
        const body = jsonText(tree);
        const answer = await send(server.url, toMeetings(body, sparkSignatureOf(secret, body)));
        assertSane(answer, { kind: 'api', status: [200, 400] });
        if (answer.status === 400)
          assertSane(answer, { kind: 'api', status: 400, code: /^ERR_(VALIDATION|BAD_JSON)$/ });
      }),
      runs(250),
    );
    for (const body of [
      'null',
      '0',
      '[]',
      '{}',
      '{"data":null}',
      '{"resource":"meetings","event":"started","data":{"id":""}}',
    ])
      await expectAnswer(server.url, toMeetings(body, sparkSignatureOf(secret, body)), {
        kind: 'api',
        status: 400,
        code: 'ERR_VALIDATION',
      });
    for (const tree of POLLUTERS) {
      const body = jsonText(
        obj([
          ['resource', raw('meetings')],
          ['event', raw('started')],
          ['data', tree],
        ]),
      );
      assertSane(await send(server.url, toMeetings(body, sparkSignatureOf(secret, body))), {
        kind: 'api',
        status: [200, 400],
      });
      assertNoPollution();
    }
    // Every queued fact is handled (ignored: no visit waits for these meetings), none left failing.
    await eventually(
      async () => (await server.server.context.store.claimJobs(0, 1, 0)).length,
      (n) => n === 0,
      'no job due',
    );
    await eventually(
      () => runner.stats.failed,
      (n) => n === 0,
      'no job failed',
      1000,
    );
  });

  test('signed or not, a body that is not JSON is 400 ERR_BAD_JSON', async () => {
    await fc.assert(
      fc.asyncProperty(malformedJson, fc.boolean(), async (body, signed) => {
        await expectAnswer(server.url, toMeetings(body, signed ? sparkSignatureOf(secret, body) : null), {
          kind: 'api',
          status: 400,
          code: 'ERR_BAD_JSON',
        });
      }),
      runs(100),
    );
  });
});
