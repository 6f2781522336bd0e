/**
 * POST /hooks/webex as Webex calls it: X-Spark-Signature over the raw bytes, duplicates handled
 * once, a fast 200 with the work done after, Webex's 429 and 5xx retried, and a crash between the
 * acknowledgement and the reply recovered after a restart (a real SIGKILL of a child process).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testFetch } from '../support/inject-fetch.js';
import { startTestServer } from '../support/server.js';
import {
  EMULATED_ACCESS,
  type EmulatedPerson,
  messageDelivery,
  type SentMessage,
  sparkSignatureOf,
  startWebexEmulator,
} from '../support/webex-emulator.js';
import {
  assertNoSecretHeard,
  assertStaysAt,
  type BotHarness,
  eventually,
  FAST_JOBS,
  heard,
  inRoom,
  secrets,
  startBotHarness,
  textOf,
  urlOf,
  visitsBy,
} from './helpers.js';

let h: BotHarness;
before(async () => {
  h = await startBotHarness();
});
after(async () => {
  await h?.close();
  assertNoSecretHeard();
});

const repliesTo = (p: EmulatedPerson) => (m: SentMessage) =>
  m.roomId === p.directRoomId || m.toPersonId === p.id;

describe('X-Spark-Signature', () => {
  test('missing, wrong or malformed: 401 and nothing queued; then the genuine delivery is accepted', async () => {
    const amy = h.emulator.addPerson();
    const message = h.emulator.seedMessage({ from: amy, text: 'help' });
    const payload = messageDelivery(message);
    const raw = JSON.stringify(payload);
    const cases: [string, string | null][] = [
      ['missing', null],
      ['another secret', sparkSignatureOf('not-the-secret', raw)],
      ['SHA-256 instead of SHA-1', 'a'.repeat(64)],
      ['not hex', 'z'.repeat(40)],
      ['empty', ''],
      ['over another body', sparkSignatureOf(h.webhookSecret, `${raw} `)],
    ];
    for (const [what, signature] of cases) {
      const answer = await h.deliver(raw, { signature });
      assert.equal(answer.status, 401, `${what}: ${answer.text}`);
      assert.equal(answer.body.code, 'ERR_UNAUTHORIZED', what);
    }
    await assertStaysAt(h.emulator, repliesTo(amy), 0, 'replies to refused deliveries');
    assert.equal(
      h.emulator.callsTo('GET', `/messages/${message.id}`).length,
      0,
      'the message was never read',
    );
    // Nothing was recorded either: the genuine delivery is new, not a "duplicate".
    const genuine = await h.deliver(raw);
    assert.equal(genuine.status, 200, genuine.text);
    assert.deepEqual(genuine.body, { accepted: true, reason: 'queued' });
    await h.emulator.waitForMessages(repliesTo(amy), 1, 'the reply');
  });

  test('verified over the raw bytes: \\u00e9 escapes signed as sent pass; re-serialised JSON fails', async () => {
    const rene = h.emulator.addPerson({ email: 'rene@example.com', displayName: 'Ren\u00e9' });
    const message = h.emulator.seedMessage({ from: rene, text: 'help' });
    const payload = { ...messageDelivery(message), name: 'Nouveau message dans \u00ab Caf\u00e9 \u00bb' };
    // What Webex may send: non-ASCII escaped, as some JSON encoders do.
    const escaped = JSON.stringify(payload).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    assert.ok(escaped.includes('\\u00e9'), 'the body carries escapes');
    const reserialised = JSON.stringify(JSON.parse(escaped));
    assert.notEqual(reserialised, escaped);
    assert.deepEqual(JSON.parse(reserialised), JSON.parse(escaped), 'the same content');

    // A signature computed over re-serialised JSON is not the signature of the bytes sent.
    const overReserialised = await h.deliver(escaped, {
      signature: sparkSignatureOf(h.webhookSecret, reserialised),
    });
    assert.equal(overReserialised.status, 401, overReserialised.text);
    // The same content re-serialised, with the signature of the bytes Webex signed: refused.
    const resent = await h.deliver(reserialised, { signature: sparkSignatureOf(h.webhookSecret, escaped) });
    assert.equal(resent.status, 401, resent.text);
    // The bytes as signed: accepted and answered.
    const genuine = await h.deliver(escaped);
    assert.equal(genuine.status, 200, genuine.text);
    assert.equal(genuine.body.accepted, true);
    await h.emulator.waitForMessages(repliesTo(rene), 1, 'the reply');
  });

  test('a valid delivery is answered 200 at once; the reply follows from the job', async () => {
    const ben = h.emulator.addPerson();
    const message = h.emulator.seedMessage({ from: ben, text: 'help' });
    // Reading the message is slow: the acknowledgement must not wait for it.
    h.emulator.delay('GET', `/messages/${message.id}`, 3000);
    const answer = await h.deliver(messageDelivery(message));
    assert.equal(answer.status, 200, answer.text);
    assert.ok(answer.ms < 2000, `answered in ${answer.ms} ms, not after the 3 s read`);
    assert.equal(h.emulator.sent.filter(repliesTo(ben)).length, 0, 'no reply yet when Webex is answered');
    const [reply] = await h.emulator.waitForMessages(repliesTo(ben), 1, 'the reply');
    assert.match(textOf(reply!), /Instant Connect visits/);
  });

  test('a server with no webhook secret configured refuses every delivery', async () => {
    const emulator = await startWebexEmulator();
    secrets.add(emulator.token);
    const server = await startTestServer({
      webex: { token: emulator.token, apiUrl: emulator.apiUrl },
      jobs: FAST_JOBS,
    });
    secrets.add(server.key);
    try {
      const zoe = emulator.addPerson();
      const message = emulator.seedMessage({ from: zoe, text: 'help' });
      const raw = JSON.stringify(messageDelivery(message));
      const response = await testFetch(`${server.url}/hooks/webex`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-spark-signature': sparkSignatureOf('', raw) },
        body: raw,
      });
      const text = await response.text();
      heard('POST /hooks/webex (no secret)', text);
      assert.equal(response.status, 401, text);
      assert.equal(emulator.callsTo('GET', `/messages/${message.id}`).length, 0);
    } finally {
      await server.close();
      await emulator.close();
    }
  });
});

describe('duplicates', () => {
  test('the same delivery twice (Webex retries): handled once, one reply', async () => {
    const cat = h.emulator.addPerson();
    const message = h.emulator.seedMessage({ from: cat, text: 'visit Duplicate check' });
    const raw = JSON.stringify(messageDelivery(message));
    const first = await h.deliver(raw);
    const second = await h.deliver(raw);
    assert.equal(first.status, 200, first.text);
    assert.equal(second.status, 200, 'a duplicate is still acknowledged (Webex would retry otherwise)');
    assert.deepEqual(first.body, { accepted: true, reason: 'queued' });
    assert.deepEqual(second.body, { accepted: false, reason: 'duplicate delivery' });
    // Concurrent copies too.
    const more = await Promise.all([h.deliver(raw), h.deliver(raw), h.deliver(raw)]);
    for (const m of more) assert.deepEqual(m.body, { accepted: false, reason: 'duplicate delivery' });
    await h.emulator.waitForMessages(repliesTo(cat), 2, 'host and guest messages');
    await assertStaysAt(h.emulator, repliesTo(cat), 2, 'replies to one visit request', 600);
    assert.equal((await visitsBy(h.server, cat)).length, 1, 'one visit');
    assert.equal(h.emulator.callsTo('GET', `/messages/${message.id}`).length, 1, 'read once');
  });
});

describe('a message job that runs again (a crash after the visit was made)', () => {
  test('makes no second visit and sends no reply twice', async () => {
    const dan = h.emulator.addPerson();
    const message = h.emulator.seedMessage({ from: dan, text: 'visit Run twice' });
    const handler = h.server.server.context.bot!.handlers()['bot.message']!;
    const job = {
      id: 0,
      type: 'bot.message',
      payload: { id: message.id },
      attempts: 0,
      maxAttempts: 8,
      runAt: 0,
    };
    await handler({ id: message.id }, job);
    await handler({ id: message.id }, job);
    await h.emulator.waitForMessages(repliesTo(dan), 2, 'host and guest messages');
    await assertStaysAt(h.emulator, repliesTo(dan), 2, 'replies of one message', 600);
    assert.equal((await visitsBy(h.server, dan)).length, 1, 'one visit');
  });
});

describe('Webex failures are retried', () => {
  test('429 with Retry-After: 1 on POST /messages: the reply still arrives, after the wait', async () => {
    const dee = h.emulator.addPerson();
    h.emulator.fail('POST', '/messages', {
      status: 429,
      retryAfter: 1,
      match: (c) => c.body?.roomId === dee.directRoomId,
    });
    await h.say(dee, 'help');
    const [reply] = await h.emulator.waitForMessages(repliesTo(dee), 1, 'the reply');
    assert.match(textOf(reply!), /Instant Connect visits/);
    const posts = h.emulator
      .callsTo('POST', '/messages')
      .filter((c) => (c.body as { roomId?: string }).roomId === dee.directRoomId);
    assert.deepEqual(
      posts.map((c) => c.status),
      [429, 200],
    );
    const waited = posts[1]!.at - posts[0]!.at;
    assert.ok(waited >= 950, `waited ${waited} ms, Retry-After said 1 s`);
    await assertStaysAt(h.emulator, repliesTo(dee), 1, 'replies');
  });

  test('503s on POST /messages: retried with backoff, one reply', async () => {
    const eve = h.emulator.addPerson();
    h.emulator.fail('POST', '/messages', {
      status: 503,
      times: 2,
      match: (c) => c.body?.roomId === eve.directRoomId,
    });
    await h.say(eve, 'help');
    await h.emulator.waitForMessages(repliesTo(eve), 1, 'the reply');
    const posts = h.emulator
      .callsTo('POST', '/messages')
      .filter((c) => (c.body as { roomId?: string }).roomId === eve.directRoomId);
    assert.deepEqual(
      posts.map((c) => c.status),
      [503, 503, 200],
    );
    const gaps = [posts[1]!.at - posts[0]!.at, posts[2]!.at - posts[1]!.at];
    assert.ok(
      gaps.every((g) => g >= 100),
      `backs off between attempts: ${gaps.join(', ')} ms`,
    );
    await assertStaysAt(h.emulator, repliesTo(eve), 1, 'replies');
  });

  test('a 500 while replying to "visit": retried later; one visit, each link sent once', async () => {
    // One person's host message fails, another's guest message: neither gets a second visit
    // or a second copy of what already went out.
    const fin = h.emulator.addPerson();
    const gil = h.emulator.addPerson();
    h.emulator.fail('POST', '/messages', { status: 500, match: (c) => c.body?.toPersonId === fin.id });
    h.emulator.fail('POST', '/messages', { status: 500, match: (c) => c.body?.roomId === gil.directRoomId });
    await h.say(fin, 'visit Fin after a 500');
    await h.say(gil, 'visit Gil after a 500');
    for (const person of [fin, gil]) {
      await h.emulator.waitForMessages(repliesTo(person), 2, 'host and guest messages', 15_000);
    }
    await assertStaysAt(h.emulator, repliesTo(fin), 2, 'Fin\u2019s messages', 300);
    assert.equal(h.emulator.sent.filter(repliesTo(gil)).length, 2, 'Gil\u2019s messages');
    for (const person of [fin, gil]) {
      const visits = await visitsBy(h.server, person);
      assert.equal(visits.length, 1, 'one visit, not one per attempt');
      const visit = visits[0]!;
      const host = h.emulator.sent.filter((m) => m.toPersonId === person.id);
      const guests = h.emulator.sent.filter(inRoom(person.directRoomId));
      assert.equal(host.length, 1);
      assert.equal(guests.length, 1);
      assert.ok(textOf(host[0]!).includes(urlOf(visit.hosts[0]!)), 'the host link of that visit');
      assert.ok(textOf(guests[0]!).includes(urlOf(visit.guests[0]!)), 'the guest link of that visit');
    }
    // The failed call was retried after a backoff, not at once.
    const finPosts = h.emulator
      .callsTo('POST', '/messages')
      .filter((c) => (c.body as any).toPersonId === fin.id);
    assert.deepEqual(
      finPosts.map((c) => c.status),
      [500, 200],
    );
    assert.ok(finPosts[1]!.at - finPosts[0]!.at >= 1000, 'backed off before retrying');
  });
});

describe('a crash between the acknowledgement and the reply', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  const CHILD = join(ROOT, 'test', 'support', 'serve-child.ts');

  test('SIGKILL after the 200, before the reply: after a restart the reply is sent exactly once', async () => {
    const emulator = await startWebexEmulator();
    secrets.add(emulator.token);
    const dataDir = mkdtempSync(join(tmpdir(), 'ic-bot-crash-'));
    const webhookSecret = `crash-secret-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    secrets.add(webhookSecret);
    const webex = { token: emulator.token, apiUrl: emulator.apiUrl, webhookSecret, access: EMULATED_ACCESS };
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT'];
    delete env['NODE_OPTIONS'];
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, JSON.stringify({ dataDir, webex, jobs: FAST_JOBS })],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let restarted: Awaited<ReturnType<typeof startTestServer>> | undefined;
    try {
      let out = '';
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        err += c;
      });
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the child did not start\n${err}`)), 120_000); // tsx starts slowly on a loaded machine
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          out += c;
          const m = /listening (\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once('exit', (code) => reject(new Error(`the child exited (${code})\n${err}`)));
      });
      const ivy = emulator.addPerson();
      const message = emulator.seedMessage({ from: ivy, text: 'visit After the crash' });
      // The job's read of the message never comes back: the process dies while it waits.
      emulator.hang('GET', `/messages/${message.id}`);
      const raw = JSON.stringify(messageDelivery(message));
      const ack = await testFetch(`${url}/hooks/webex`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-spark-signature': sparkSignatureOf(webhookSecret, raw),
        },
        body: raw,
      });
      const ackText = await ack.text();
      heard('POST /hooks/webex (child)', ackText);
      assert.equal(ack.status, 200, ackText);
      assert.equal(JSON.parse(ackText).accepted, true);
      await eventually(
        () => emulator.callsTo('GET', `/messages/${message.id}`).length,
        (n) => n === 1,
        'the job to start reading the message',
      );
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      assert.equal(emulator.sent.length, 0, 'nothing was replied before the crash');

      restarted = await startTestServer({ dataDir, webex, jobs: FAST_JOBS });
      secrets.add(restarted.key);
      await emulator.waitForMessages(repliesTo(ivy), 2, 'the reply after the restart', 15_000);
      // Webex retrying the same delivery to the new process is still a duplicate.
      const again = await testFetch(`${restarted.url}/hooks/webex`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-spark-signature': sparkSignatureOf(webhookSecret, raw),
        },
        body: raw,
      });
      const againText = await again.text();
      heard('POST /hooks/webex (restarted)', againText);
      assert.equal(again.status, 200);
      assert.equal(JSON.parse(againText).reason, 'duplicate delivery');
      await assertStaysAt(emulator, repliesTo(ivy), 2, 'replies after the restart', 2500);
      assert.equal(emulator.sent.length, 2, 'one host message and one guest message, nothing else');
      const visits = await visitsBy(restarted, ivy);
      assert.equal(visits.length, 1, 'one visit');
      assert.equal(visits[0]!.subject, 'After the crash');
    } finally {
      child.kill('SIGKILL');
      await restarted?.close();
      await emulator.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
