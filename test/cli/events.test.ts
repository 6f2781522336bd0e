/**
 * `instant-connect events …` in-process (runCli) on the data directory of a running server: a
 * subscription made by the CLI receives the server's deliveries (verified with standardwebhooks),
 * and the CLI lists them, replays one (same webhook-id), rotates the secret and unsubscribes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Receiver, startReceiver, typesOf } from '../events/receiver.js';
import { eventually } from '../support/eventually.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createVisit } from '../visits/helpers.js';
import { runCli, show } from './run-cli.js';

const ALLOW = { EVENTS_ALLOW_PRIVATE: '127.0.0.1/32' };

describe('events commands', () => {
  let server: TestServer;
  let receiver: Receiver;
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(['events', ...args, '--data', server.dataDir], { env });
  before(async () => {
    receiver = await startReceiver();
    server = await startTestServer({
      events: { allowPrivate: ['127.0.0.1/32'], timing: { pollMs: 50, retrySchedule: [1] } },
    });
  });
  after(async () => {
    await server?.close();
    await receiver?.stop();
  });

  test('bad types are refused naming the allowed ones; a private URL needs EVENTS_ALLOW_PRIVATE', async () => {
    const bad = await cli(['subscribe', '--url', receiver.url, '--types', 'visit.created,visit.made'], ALLOW);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /"visit\.made"/);
    assert.match(bad.stderr, /allowed: visit\.created, visit\.cancelled, visit\.rescheduled, link\.opened/);
    const refused = await cli(['subscribe', '--url', receiver.url, '--types', 'visit.created']);
    assert.equal(refused.code, 2, show(refused));
    assert.match(refused.stderr, /url: 127\.0\.0\.1 is a loopback.*EVENTS_ALLOW_PRIVATE/);
    const list = await cli(['list', '--json']);
    assert.deepEqual(JSON.parse(list.stdout), [], 'nothing was made');
  });

  test('subscribe --json, deliveries, replay, rotate, unsubscribe', async () => {
    const made = await cli(
      [
        'subscribe',
        '--url',
        receiver.url,
        '--types',
        'visit.created,visit.cancelled',
        '--description',
        'EHR',
        '--json',
      ],
      ALLOW,
    );
    assert.equal(made.code, 0, show(made));
    const sub = JSON.parse(made.stdout) as {
      id: string;
      secret: string;
      types: string[];
      description: string;
    };
    assert.match(sub.id, /^sub_/);
    assert.match(sub.secret, /^whsec_/);
    assert.deepEqual(sub.types, ['visit.created', 'visit.cancelled']);
    assert.equal(sub.description, 'EHR');

    const listed = await cli(['list']);
    assert.equal(listed.code, 0, show(listed));
    assert.match(listed.stdout, new RegExp(`${sub.id}  ${receiver.url}  visit.created,visit.cancelled  EHR`));
    assert.ok(!listed.stdout.includes(sub.secret) && !listed.stderr.includes(sub.secret), 'shown once');

    const visit = await createVisit(server);
    await eventually(
      () => typesOf(receiver.received, visit.id),
      (t) => t.length === 1,
      'the delivery',
      20_000,
    );
    receiver.verify(receiver.received[0]!, sub.secret);

    const text = await cli(['deliveries', '--subscription', sub.id]);
    assert.equal(text.code, 0, show(text));
    assert.match(
      text.stdout,
      new RegExp(`^\\d+  delivered  visit.created  ${visit.id}  ${sub.id}  attempts 1  last: 204`),
    );
    const listedJson = await cli(['deliveries', '--subscription', sub.id, '--json']);
    const [d] = JSON.parse(listedJson.stdout) as { id: number; webhookId: string }[];
    assert.ok(d);

    const replayed = await cli(['replay', String(d.id)]);
    assert.equal(replayed.code, 0, show(replayed));
    await eventually(
      () => receiver.received.length,
      (n) => n === 2,
      'the replay',
      20_000,
    );
    assert.equal(receiver.received[1]!.id, d.webhookId, 'the same webhook-id');
    assert.equal(receiver.received[1]!.id, receiver.received[0]!.id);
    const missing = await cli(['replay', '987654321']);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /No delivery 987654321/);

    const rotated = await cli(['rotate', sub.id, '--grace', '0', '--json']);
    assert.equal(rotated.code, 0, show(rotated));
    const fresh = JSON.parse(rotated.stdout).secret as string;
    const next = await createVisit(server);
    await eventually(
      () => typesOf(receiver.received, next.id),
      (t) => t.length === 1,
      'the delivery',
      20_000,
    );
    const after = receiver.received.find((r) => r.body.data['visitId'] === next.id)!;
    receiver.verify(after, fresh);
    assert.throws(() => receiver.verify(after, sub.secret));
    const badGrace = await cli(['rotate', sub.id, '--grace', 'forever']);
    assert.equal(badGrace.code, 2, show(badGrace));

    const gone = await cli(['unsubscribe', sub.id]);
    assert.equal(gone.code, 0, show(gone));
    const again = await cli(['unsubscribe', sub.id]);
    assert.equal(again.code, 1, show(again));
    const stopped = await cli(['list']);
    assert.match(stopped.stdout, /\(stopped: unsubscribed\)/);
  });
});
