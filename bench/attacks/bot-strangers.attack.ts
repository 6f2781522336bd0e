/**
 * Attack: strangers and floods through the Webex bot (review finding 5 of issue 11). The target's
 * `serve` runs with the bot on (WEBEX_TOKEN, WEBEX_API_URL) against a Webex API emulator in this
 * process (127.0.0.1 only), and gets validly signed deliveries, as Webex would send them:
 *   - N messages "visit with 50 guests" from a stranger (a gmail.com address in another org);
 *   - N messages "visit with 2 guests" at once from one allowed person (BOT_ALLOWED_DOMAINS).
 * Figures: the visits and links made for each, the replies each got, and a genuine API client's
 * latency meanwhile. Against the base (no access control, no per-person limit) the same script
 * runs unchanged: BOT_ALLOWED_DOMAINS and BOT_VISITS_PER_PERSON are simply ignored there.
 *   ATTACK_ROOT=/work/base node --import tsx bench/attacks/bot-strangers.attack.ts
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  type EmulatedPerson,
  messageDelivery,
  signedDelivery,
  startWebexEmulator,
} from '../../test/support/webex-emulator.js';
import { measureWhile, report, startTarget, tally } from './harness.js';

const N = Number(process.env['ATTACK_N'] ?? 10);
/** BOT_VISITS_PER_PERSON for the run: below N, so the flood meets it. */
const PER_PERSON = 5;
const SETTLE_MS = 1500;
/** The bound of the run: figures are what was done by then (`settled` says whether it was all). */
const DEADLINE_MS = 40_000;

const emulator = await startWebexEmulator();
const secret = randomBytes(20).toString('hex');
const target = await startTarget({
  WEBEX_TOKEN: emulator.token,
  WEBEX_API_URL: emulator.apiUrl,
  WEBEX_WEBHOOK_SECRET: secret,
  BOT_ALLOWED_DOMAINS: 'example.com',
  BOT_VISITS_PER_PERSON: String(PER_PERSON),
  JOB_POLL_MS: '50',
});
try {
  const strangerOrg = Buffer.from(`ciscospark://us/ORGANIZATION/${randomUUID()}`).toString('base64url');
  const stranger = emulator.addPerson({ email: 'stranger@gmail.com', orgId: strangerOrg });
  const flooder = emulator.addPerson({ email: 'busy-clinician@example.com' });
  const statuses: Array<number | 'error'> = [];
  const send = async (person: EmulatedPerson, text: string) => {
    const message = emulator.seedMessage({ from: person, text });
    try {
      statuses.push(
        (await signedDelivery(`${target.url}/hooks/webex`, secret, messageDelivery(message))).status,
      );
    } catch {
      statuses.push('error');
    }
  };
  const sent = () => emulator.sent.length;
  const cpu0 = target.cpuSeconds();
  const started = Date.now();
  let settled = false;
  const attack = (async () => {
    await Promise.all([
      ...Array.from({ length: N }, (_, i) => send(stranger, `visit Stranger ${i} with 50 guests`)),
      ...Array.from({ length: N }, (_, i) => send(flooder, `visit Flood ${i} with 2 guests`)),
    ]);
    // The replies are jobs: wait until no new message has been sent for a while (bounded).
    const deadline = Date.now() + DEADLINE_MS;
    let last = -1;
    let stableSince = Date.now();
    while (Date.now() < deadline) {
      const now = sent();
      if (now !== last) {
        last = now;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > SETTLE_MS && now > 0) {
        settled = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const genuine = await measureWhile(
    () =>
      fetch(`${target.url}/api/visits`, {
        method: 'POST',
        headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ guests: 1 }),
      }),
    attack,
    { everyMs: 300 },
  );
  const serverCpuSeconds = target.cpuSeconds() - cpu0;
  const visits: { createdBy: string; counts: { hosts: number; guests: number } }[] = [];
  for (let offset = 0; ; offset += 100) {
    const res = await fetch(`${target.url}/api/visits?limit=100&offset=${offset}`, {
      headers: { authorization: `Bearer ${target.key}` },
    });
    const page = (await res.json()) as { items: typeof visits };
    visits.push(...page.items);
    if (page.items.length < 100) break;
  }
  const of = (p: EmulatedPerson) => visits.filter((v) => v.createdBy === `bot:${p.id}`);
  const links = (vs: typeof visits) => vs.reduce((n, v) => n + v.counts.hosts + v.counts.guests, 0);
  const repliesTo = (p: EmulatedPerson) =>
    emulator.sent.filter((m) => m.roomId === p.directRoomId || m.toPersonId === p.id);
  const linkMessages = (p: EmulatedPerson) => repliesTo(p).filter((m) => /\/visit\//.test(m.markdown ?? ''));
  report({
    attack: 'bot-strangers',
    load: `${N} signed deliveries "visit with 50 guests" from a stranger (gmail.com, another org) and ${N} "visit with 2 guests" at once from one allowed person (BOT_VISITS_PER_PERSON=${PER_PERSON})`,
    genuine: { 'POST /api/visits': genuine },
    serverCpuSeconds: Number(serverCpuSeconds.toFixed(2)),
    refusals: tally(statuses),
    extra: {
      settled: settled ? 'yes' : `no (still working after ${DEADLINE_MS / 1000} s)`,
      seconds: Math.round((Date.now() - started) / 1000),
      strangerVisits: of(stranger).length,
      strangerLinks: links(of(stranger)),
      strangerReplies: repliesTo(stranger).length,
      strangerMessagesWithLinks: linkMessages(stranger).length,
      flooderVisits: of(flooder).length,
      flooderLinks: links(of(flooder)),
      flooderReplies: repliesTo(flooder).length,
      flooderMessagesWithLinks: linkMessages(flooder).length,
    },
  });
} finally {
  await target.stop();
  await emulator.close();
}
