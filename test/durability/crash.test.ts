/**
 * Crash durability, on SQLite and on PostgreSQL (the same test body): the built `serve` runs as a
 * child process under continuous load (several clients issuing links with short URLs, creating
 * visits, and Webex delivering signed `visit` messages to the bot) and is `kill -9`ed three times
 * at random moments, each time started again on the same data. Afterwards:
 *   - every link answered 200 before any kill resolves: short link → 302 → the long link's page
 *     200 "Valid", and the space API opens its cipher;
 *   - every visit answered 201 is there (GET /api/visits/:id) and its links open;
 *   - every delivery answered 200 (and every one the kill cut off, sent again as Webex would) gets
 *     its replies (host and guest messages with that visit's links): no job is lost; each message
 *     made exactly one visit, and a reply is repeated only when a kill caught it between Webex's
 *     answer and the job's completion (at most once per kill: the runner runs one job at a time).
 * Requests that failed because of a kill (reset, refused) are allowed and not checked; a request
 * that hangs, or any answer other than the expected 2xx, fails the test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { visitIdFor } from '../../src/bot/bot.js';
import { AUDIENCE } from '../../src/domain/constants.js';
import { removeDir, runCli, show, tempDir } from '../cli/run-cli.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import {
  type EmulatedMessage,
  type EmulatedPerson,
  messageDelivery,
  type SentMessage,
  sparkSignatureOf,
  startWebexEmulator,
  type WebexEmulator,
} from '../support/webex-emulator.js';
import { type Answer, http, isTimeout, mapLimit, type ServeChild, sleep, startServe } from './support.js';

const pgBase = testDatabaseUrl();
const KILLS = 3;
const CLIENTS = 4;
const LEASE_SECONDS = 2;
/**
 * Deliveries per server run. Enough that jobs are queued and running at each kill; more would only
 * lengthen the wait for the runner, which takes one job at a time, to drain them afterwards.
 */
const DELIVERIES_PER_RUN = 12;
const HTML = { accept: 'text/html,application/xhtml+xml' };

interface Issued {
  epoch: number;
  sub: string;
  body: {
    host: { cipher: string; short?: string }[];
    guest: { cipher: string; short?: string }[];
    baseUrl?: string;
  };
}
interface VisitLink {
  role: 'host' | 'guest';
  cipher: string;
  shortUrl?: string;
  longUrl: string;
}
interface Made {
  epoch: number;
  subject: string;
  body: { id: string; subject: string; hosts: VisitLink[]; guests: VisitLink[] };
}
interface Delivered {
  epoch: number;
  subject: string;
  person: EmulatedPerson;
  message: EmulatedMessage;
  /** What the server answered; undefined when the request failed (the kill). */
  answer?: Answer;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  test(
    `kill -9 three times under load (${backend}): every answered link, visit and bot job survives`,
    { skip: backend === 'postgres' && !pgBase ? PG_SKIP : false, timeout: 10 * 60_000 }, // a hang guard: loaded, three restarts take minutes
    (t) => crashUnderLoad(t, backend),
  );
}

async function crashUnderLoad(t: TestContext, backend: 'sqlite' | 'postgres'): Promise<void> {
  const cwd = tempDir('ic-durable-');
  // Outside the try: a failed assertion must stop the clients too, or their loops keep the
  // process alive after the test has failed (a hang instead of a failure).
  let stopped = false;
  let db: TestDatabase | undefined;
  let emulator: WebexEmulator | undefined;
  let server: ServeChild | undefined;
  try {
    emulator = await startWebexEmulator();
    const emu = emulator;
    db = backend === 'postgres' ? await createTestDatabase(pgBase!) : undefined;
    const storeEnv: Record<string, string> = db ? { DATABASE_URL: db.url } : { DATA_DIR: join(cwd, 'data') };
    const made = await runCli(['keys', 'create', '--name', 'durability', '--json'], { cwd, env: storeEnv });
    assert.equal(made.code, 0, show(made));
    const key = (JSON.parse(made.stdout) as { key: string }).key;
    const webhookSecret = randomBytes(20).toString('hex');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      ...storeEnv,
      PORT: String(port),
      WEBEX_TOKEN: emu.token,
      WEBEX_API_URL: emu.apiUrl,
      WEBEX_WEBHOOK_SECRET: webhookSecret,
      JOB_LEASE_SECONDS: String(LEASE_SECONDS),
      JOB_POLL_MS: '100',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ISSUE_PER_KEY: '0',
      RATE_LIMIT_ISSUE_PER_ADDRESS: '0',
      RATE_LIMIT_PUBLIC_PER_ADDRESS: '0',
      RATE_LIMIT_FAILED_OPENS_PER_ADDRESS: '0',
      // The emulator's people (@example.com) may use the bot, as many times as the load needs.
      BOT_ALLOWED_DOMAINS: 'example.com',
      BOT_VISITS_PER_PERSON: '0',
    };
    const boot = async () => {
      const started = await startServe(cwd, env);
      assert.equal(started.url, base, 'the server comes back on the same address');
      return started;
    };
    server = await boot();
    assert.match(server.process.stderr(), new RegExp(`\\(${backend}\\)`), 'the expected store');

    // ---- the load
    const issued: Issued[] = [];
    const visits: Made[] = [];
    const deliveries: Delivered[] = [];
    /** Answers that were neither the expected success nor a dropped connection. */
    const unexpected: string[] = [];
    const hung: string[] = [];
    let failed = 0;
    let epoch = 0;
    /** False from the kill until the next server listens: no point in sending then. */
    let up = true;
    let n = 0;
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

    const issueOnce = async () => {
      const sub = `durable ${backend} ${n++} ${randomBytes(3).toString('hex')}`;
      const at = epoch;
      const answer = await http(`${base}/api/v2/joseencrypt`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          aud: AUDIENCE,
          jwt: { sub },
          iterations: 1000,
          provideShortUrls: true,
          numHost: 1,
          numGuest: 1,
        }),
      });
      if (answer.status === 200) issued.push({ epoch: at, sub, body: answer.body });
      else unexpected.push(`joseencrypt ${answer.status}: ${answer.text.slice(0, 200)}`);
    };
    const visitOnce = async () => {
      const subject = `visit ${backend} ${n++} ${randomBytes(3).toString('hex')}`;
      const at = epoch;
      const answer = await http(`${base}/api/visits`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ subject, crypto: { iterations: 1000 } }),
      });
      if (answer.status === 201) visits.push({ epoch: at, subject, body: answer.body });
      else unexpected.push(`POST /api/visits ${answer.status}: ${answer.text.slice(0, 200)}`);
    };
    const deliverOnce = async () => {
      const subject = `Bot ${backend} ${n++} ${randomBytes(3).toString('hex')}`;
      const person = emu.addPerson();
      const message = emu.seedMessage({ from: person, text: `visit ${subject}` });
      const record: Delivered = { epoch, subject, person, message };
      deliveries.push(record);
      const answer = await deliver(base, webhookSecret, message);
      record.answer = answer;
      if (answer.status !== 200 || answer.body?.accepted !== true || answer.body?.reason !== 'queued')
        unexpected.push(`POST /hooks/webex ${answer.status}: ${answer.text.slice(0, 200)}`);
    };
    const client = async (i: number) => {
      for (let k = 0; !stopped; k++) {
        if (!up) {
          await sleep(20);
          continue;
        }
        const op = (k + i) % 5;
        try {
          const deliveredNow = deliveries.filter((d) => d.epoch === epoch).length;
          if (op === 4 && deliveredNow < DELIVERIES_PER_RUN) await deliverOnce();
          else if (op === 3) await visitOnce();
          else await issueOnce();
        } catch (err) {
          if (isTimeout(err)) hung.push(`client ${i}: ${(err as Error).message}`);
          failed += 1;
          await sleep(20); // the server is down: try again shortly
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));

    // ---- kill -9 at random moments, start again on the same data each time
    const kills: number[] = [];
    const answeredBefore: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      // A random moment 1–2 s in, once this instance has answered some of each kind (a busy machine
      // starts it slowly: the kill must still come under load).
      await sleep(1000 + Math.random() * 1000);
      const answered = () =>
        issued.filter((r) => r.epoch === k).length >= 3 &&
        visits.some((v) => v.epoch === k) &&
        deliveries.some((d) => d.epoch === k && d.answer);
      for (const deadline = Date.now() + 20_000; !answered(); await sleep(50)) {
        if (Date.now() > deadline) assert.fail(`too little answered before kill ${k + 1}\n${server.tail()}`);
      }
      const current = server;
      assert.ok(current.running(), `the server died by itself before kill ${k + 1}\n${current.tail()}`);
      kills.push(Date.now());
      epoch = k + 1;
      await current.crash();
      up = false;
      answeredBefore.push(issued.length + visits.length + deliveries.filter((d) => d.answer).length);
      server = await boot();
      up = true;
    }
    await sleep(1000);
    stopped = true;
    await Promise.all(clients);
    const last = server;
    assert.ok(last.running(), `the last server died\n${last.tail()}`);

    assert.deepEqual(unexpected, [], `answers other than the expected success\n${last.tail()}`);
    assert.deepEqual(hung, [], 'requests that hung');
    // Not vacuous: there was load before every kill, of every kind.
    for (let k = 0; k < KILLS; k++) {
      const before = [issued, visits, deliveries.filter((d) => d.answer)].map(
        (list) => list.filter((r) => r.epoch === k).length,
      );
      assert.ok(
        before[0]! >= 3 && before[1]! >= 1 && before[2]! >= 1,
        `answered before kill ${k + 1}: ${before}`,
      );
    }

    // ---- every link answered 200 resolves
    const links = issued.flatMap((r) => [
      ...r.body.host.map((e) => ({ ...e, role: 'host' as const, r })),
      ...r.body.guest.map((e) => ({ ...e, role: 'guest' as const, r })),
    ]);
    const lost: string[] = [];
    await mapLimit(links, 8, async ({ cipher, short, role, r }) => {
      const what = `${role} link of "${r.sub}" (answered before kill ${r.epoch + 1})`;
      if (!short || !r.body.baseUrl) return void lost.push(`${what}: no short link in the answer`);
      const redirect = await http(`${r.body.baseUrl}${short}`, { headers: HTML });
      if (redirect.status !== 302) return void lost.push(`${what}: short link ${redirect.status}`);
      const location = new URL(redirect.headers.get('location') ?? '', base);
      const expected = `/hc/v1/${role === 'host' ? 'login' : 'talk'}?int=jose&v=1&data=${encodeURIComponent(cipher)}`;
      if (`${location.pathname}${location.search}` !== expected || location.origin !== base)
        return void lost.push(`${what}: redirects to ${location.pathname} (not its long link)`);
      const page = await http(location.toString(), { headers: HTML });
      if (page.status !== 200 || !page.text.includes('<span class="state ok">Valid</span>'))
        return void lost.push(`${what}: long link page ${page.status}`);
      const space = await http(`${base}/api/v1/space?int=jose&data=${encodeURIComponent(cipher)}`);
      if (space.status !== 200 || space.body?.isHost !== (role === 'host'))
        lost.push(`${what}: space API ${space.status} ${space.text.slice(0, 200)}`);
    });
    assert.deepEqual(lost, [], `links answered 200 that no longer work (of ${links.length})`);

    // ---- every visit answered 201 exists, and its links open
    const lostVisits: string[] = [];
    await mapLimit(visits, 8, async ({ body, subject, epoch: at }) => {
      const what = `visit ${body.id} "${subject}" (answered before kill ${at + 1})`;
      const read = await http(`${base}/api/visits/${body.id}`, { headers: auth });
      if (read.status !== 200 || read.body?.subject !== subject)
        return void lostVisits.push(`${what}: GET ${read.status} ${read.text.slice(0, 200)}`);
      for (const link of [...body.hosts, ...body.guests]) {
        const opened = await openLink(link.shortUrl ?? link.longUrl);
        if (opened !== 200) lostVisits.push(`${what}: ${link.role} link page ${opened}`);
        const space = await http(`${base}/api/v1/space?int=jose&data=${encodeURIComponent(link.cipher)}`);
        if (space.status !== 200) lostVisits.push(`${what}: space API ${space.status}`);
      }
    });
    assert.deepEqual(lostVisits, [], `visits answered 201 that are missing (of ${visits.length})`);

    // ---- bot jobs: deliveries the kills cut off are sent again, as Webex retries them
    for (const d of deliveries.filter((x) => !x.answer)) {
      const again = await deliver(base, webhookSecret, d.message);
      assert.equal(again.status, 200, again.text);
      assert.ok(
        again.body.reason === 'queued' || again.body.reason === 'duplicate delivery',
        `the retried delivery: ${again.text}`,
      );
      d.answer = again;
    }
    const hostReplies = (d: Delivered) => emu.sent.filter((m) => m.toPersonId === d.person.id);
    const guestReplies = (d: Delivered) => emu.sent.filter((m) => m.roomId === d.person.directRoomId);
    const unanswered = () =>
      deliveries.filter((d) => hostReplies(d).length === 0 || guestReplies(d).length === 0);
    // Lost jobs show as a stall: no new reply for 30 s. A loaded machine answers slowly but keeps
    // answering, so the clock restarts at every reply (an overall 10 min cap bounds the test).
    const cap = Date.now() + 600_000;
    let waiting = unanswered().length;
    for (let deadline = Date.now() + 30_000; waiting > 0; await sleep(50)) {
      const now = unanswered().length;
      if (now < waiting) {
        waiting = now;
        deadline = Date.now() + 30_000;
      }
      if (Date.now() > Math.min(deadline, cap)) {
        const missing = unanswered();
        assert.fail(
          `${missing.length} of ${deliveries.length} deliveries got no reply (none for 30 s: jobs lost): ` +
            `${missing
              .slice(0, 10)
              .map((d) => `"${d.subject}" (delivered before kill ${d.epoch + 1})`)
              .join(', ')}\n${last.tail()}`,
        );
      }
    }
    const duplicates: SentMessage[][] = [];
    const twice: string[] = [];
    await mapLimit(deliveries, 8, async (d) => {
      const found = await http(`${base}/api/visits?q=${encodeURIComponent(d.subject)}&limit=100`, {
        headers: auth,
      });
      assert.equal(found.status, 200, found.text);
      const mine = (found.body.items as { id: string; subject: string; createdBy: string }[]).filter(
        (v) => v.subject === d.subject,
      );
      if (mine.length !== 1) return void twice.push(`"${d.subject}": ${mine.length} visits`);
      const visit = mine[0]!;
      assert.equal(visit.id, visitIdFor(d.message.id));
      assert.equal(visit.createdBy, `bot:${d.person.id}`);
      const read = await http(`${base}/api/visits/${visit.id}`, { headers: auth });
      assert.equal(read.status, 200, read.text);
      const hosts = hostReplies(d);
      const guests = guestReplies(d);
      const text = (m: SentMessage) => m.markdown ?? m.text ?? '';
      const url = (l: VisitLink) => l.shortUrl ?? l.longUrl;
      assert.ok(
        hosts.every((m) => text(m).includes(url(read.body.hosts[0]))),
        'the host message has the host link',
      );
      assert.ok(
        guests.every((m) => text(m).includes(url(read.body.guests[0]))),
        'the guest message has the guest link',
      );
      for (const copies of [hosts, guests]) if (copies.length > 1) duplicates.push(copies);
    });
    assert.deepEqual(twice, [], 'each message makes exactly one visit');
    // A reply sent twice: only when a kill came between Webex's answer and the job's completion.
    assert.ok(
      duplicates.length <= KILLS,
      `${duplicates.length} replies repeated, more than one per kill: ${JSON.stringify(duplicates.map((c) => c.map((m) => m.at)))}`,
    );
    for (const copies of duplicates) {
      assert.equal(copies.length, 2, 'a reply repeated more than once');
      const first = copies[0]!.at;
      assert.ok(
        // A reply in flight when the kill went out is recorded just after it: count those too.
        kills.some((k) => k >= first - 1000 && k - first < 3000),
        `a reply repeated without a kill right after its first copy (sent at ${first}, kills at ${kills.join(', ')})`,
      );
    }
    // Nothing else was sent: two messages per delivery, plus the repeats counted above.
    assert.equal(emu.sent.length, deliveries.length * 2 + duplicates.length, 'messages sent');
    assert.ok(last.running(), `the server died during the checks\n${last.tail()}`);
    t.diagnostic(
      `${backend}: ${issued.length} link answers, ${visits.length} visits, ${deliveries.length} deliveries ` +
        `(answered before each kill: ${answeredBefore.join(', ')}); ${failed} requests cut off by the kills; ` +
        `${duplicates.length} replies repeated`,
    );
  } finally {
    stopped = true;
    await server?.crash();
    await emulator?.close();
    await db?.drop();
    removeDir(cwd);
  }
}

/** A Webex delivery of `message`, signed over its raw bytes; answered or failed within 10 s. */
function deliver(base: string, secret: string, message: EmulatedMessage): Promise<Answer> {
  const raw = JSON.stringify(messageDelivery(message));
  return http(`${base}/hooks/webex`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-spark-signature': sparkSignatureOf(secret, raw),
      'user-agent': 'Webex-Webhooks (emulated)',
    },
    body: raw,
  });
}

/** Opens a link as a browser does (a short link is followed once); the final status. */
async function openLink(url: string): Promise<number> {
  let answer = await http(url, { headers: HTML });
  if (answer.status === 302)
    answer = await http(new URL(answer.headers.get('location')!, url).toString(), { headers: HTML });
  return answer.status === 200 && /data-ticket="/.test(answer.text) ? 200 : answer.status;
}
