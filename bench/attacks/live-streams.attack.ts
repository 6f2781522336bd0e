/**
 * Issue 11, finding 2: one guest link opens 2,000 live event streams (pages reloaded 20 times, so
 * 20 tickets), from its own address (127.0.0.2), while a genuine visitor of another visit opens
 * their page and its stream, and /healthz is polled, from 127.0.0.1. The server runs, when
 * `prlimit` is there, under a 1,024 file-descriptor limit, as a default deployment does. Then,
 * on a fresh server, the same link's page posts /live/join 2,500 times (50 at once).
 *
 * Figures: the genuine visitor's latencies and failures, the server's CPU seconds, the attacker's
 * answers by status, the streams held, what the attacked visit's host sees (`guestsPresent`),
 * and after the join flood the visit's event count and the time one status then takes.
 * `ATTACK_ROOT=/work/base node --import tsx bench/attacks/live-streams.attack.ts` for the base.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { measureWhile, report, startTarget, type Target, tally } from './harness.js';

const STREAMS = 2000;
const RELOADS = 20;
const JOINS = 2500;
const ATTACKER = '127.0.0.2';
const HOLD_MS = 5000;
const FD_LIMIT = 1024;

const html = { accept: 'text/html' };

async function json(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
}

async function makeVisit(target: Target, devices: string[] = []): Promise<any> {
  const res = await fetch(`${target.url}/api/visits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: `attack ${Math.random()}`, devices, crypto: { iterations: 1000 } }),
  });
  if (res.status !== 201) throw new Error(`visit: ${res.status} ${await res.text()}`);
  return json(res);
}

const local = (target: Target, link: string) => {
  const u = new URL(link);
  return `${target.url}${u.pathname}${u.search}`;
};

async function ticketOf(url: string): Promise<string> {
  const res = await fetch(url, { headers: html });
  const text = await res.text();
  const m = /data-ticket="([^"]+)"/.exec(text);
  if (!m) throw new Error(`no ticket (${res.status}): ${text.slice(0, 200)}`);
  return m[1]!.replace(/&amp;/g, '&');
}

/** GET over node:http from `localAddress`, no pooling: resolves with the status; 200 streams are kept. */
function openStream(url: string, held: http.ClientRequest[]): Promise<number | 'error'> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, localAddress: ATTACKER, timeout: 5000 }, (res) => {
      if (res.statusCode === 200) {
        // Held open: the request timeout was for the answer, not for the quiet stream after it.
        req.setTimeout(0);
        held.push(req);
        res.on('data', () => {});
        res.on('error', () => {});
      } else {
        res.resume();
      }
      resolve(res.statusCode ?? 'error');
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve('error'));
  });
}

function post(url: string, body: unknown): Promise<number | 'error'> {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body);
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: false,
        localAddress: ATTACKER,
        timeout: 10_000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 'error'));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve('error'));
    req.end(payload);
  });
}

/** Opens a stream the way a page does and answers once its first status arrived (or it was refused). */
async function firstStatus(url: string): Promise<Response> {
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream' },
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 200 || !res.body)
    return new Response(null, { status: res.status === 200 ? 599 : res.status });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let seen = '';
  try {
    while (!seen.includes('event: status')) {
      const { done, value } = await reader.read();
      if (done) return new Response(null, { status: 598 });
      seen += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return new Response(null, { status: 200 });
}

async function pool<T>(n: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await job(i);
      }
    }),
  );
  return out;
}

function limitFds(target: Target): string {
  const run = spawnSync('prlimit', [`--pid=${target.pid}`, `--nofile=${FD_LIMIT}:${FD_LIMIT}`]);
  return run.status === 0 ? String(FD_LIMIT) : 'unchanged (no prlimit)';
}

async function streamsAttack(): Promise<void> {
  const target = await startTarget();
  try {
    const fds = limitFds(target);
    const attacked = await makeVisit(target);
    const genuine = await makeVisit(target);
    const tickets: string[] = [];
    for (let i = 0; i < RELOADS; i++) tickets.push(await ticketOf(local(target, attacked.guests[0].longUrl)));
    const attackedHost = await ticketOf(local(target, attacked.hosts[0].longUrl));
    const genuinePage = local(target, genuine.guests[0].longUrl);
    const genuineTicket = await ticketOf(genuinePage);
    const eventsUrl = (t: string) => `${target.url}/live/events?ticket=${encodeURIComponent(t)}`;

    const held: http.ClientRequest[] = [];
    const cpu0 = target.cpuSeconds();
    let answers: Array<number | 'error'> = [];
    const attack = (async () => {
      answers = await pool(STREAMS, 100, (i) => openStream(eventsUrl(tickets[i % RELOADS]!), held));
      await new Promise((r) => setTimeout(r, HOLD_MS));
    })();
    const [page, stream, health] = await Promise.all([
      measureWhile(() => fetch(genuinePage, { headers: html, signal: AbortSignal.timeout(5000) }), attack),
      measureWhile(() => firstStatus(eventsUrl(genuineTicket)), attack),
      measureWhile(() => fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(5000) }), attack),
    ]);
    const cpu = target.cpuSeconds() - cpu0;
    const seen = await fetch(`${target.url}/live/status?ticket=${encodeURIComponent(attackedHost)}`, {
      signal: AbortSignal.timeout(10_000),
    })
      .then(json)
      .catch(() => ({}));
    for (const req of held) req.destroy();
    report({
      attack: 'live-streams',
      load: `${STREAMS} event streams from one guest link (${RELOADS} page loads), 100 at once, held ${HOLD_MS / 1000} s`,
      genuine: { page, stream, healthz: health },
      serverCpuSeconds: cpu,
      refusals: tally(answers),
      extra: {
        streamsHeld: held.length,
        hostSeesGuestsPresent: seen.guestsPresent ?? 'no answer',
        serverFdLimit: fds,
      },
    });
  } finally {
    await target.stop();
  }
}

async function joinFlood(): Promise<void> {
  const target = await startTarget();
  try {
    // A room device: every status then reads the visit's event log.
    const attacked = await makeVisit(target, ['sip:room@example.com']);
    const genuine = await makeVisit(target);
    const ticket = await ticketOf(local(target, attacked.guests[0].longUrl));
    const attackedHost = await ticketOf(local(target, attacked.hosts[0].longUrl));
    const genuinePage = local(target, genuine.guests[0].longUrl);
    const cpu0 = target.cpuSeconds();
    let answers: Array<number | 'error'> = [];
    const attack = (async () => {
      answers = await pool(JOINS, 50, () => post(`${target.url}/live/join`, { ticket }));
    })();
    const [page, health] = await Promise.all([
      measureWhile(() => fetch(genuinePage, { headers: html, signal: AbortSignal.timeout(5000) }), attack),
      measureWhile(() => fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(5000) }), attack),
    ]);
    const cpu = target.cpuSeconds() - cpu0;
    const events = await fetch(`${target.url}/api/visits/${attacked.id}/events`, {
      headers: { authorization: `Bearer ${target.key}` },
    }).then(json);
    const start = performance.now();
    await fetch(`${target.url}/live/status?ticket=${encodeURIComponent(attackedHost)}`).then(json);
    const statusMs = performance.now() - start;
    report({
      attack: 'live-join-flood',
      load: `${JOINS} POST /live/join from one guest link, 50 at once`,
      genuine: { page, healthz: health },
      serverCpuSeconds: cpu,
      refusals: tally(answers),
      extra: {
        eventsLogged: events.items?.length ?? 'no answer',
        statusAfterMs: Math.round(statusMs),
      },
    });
  } finally {
    await target.stop();
  }
}

await streamsAttack();
await joinFlood();
