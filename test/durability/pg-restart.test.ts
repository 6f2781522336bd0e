/**
 * PostgreSQL restarted under load. Two instances of the built `serve` share a PRIVATE PostgreSQL
 * (initdb in a temporary directory, on its own port: stopping it disturbs nobody else's tests),
 * each with a client issuing links and resolving links either instance issued. The database is
 * stopped (`pg_ctl stop -m fast`) and started again:
 *   - before: every request succeeds;
 *   - while it is down: every request fails FAST (well under 2 s) with 503, the JSON envelope,
 *     ERR_OVERLOADED and Retry-After; never a hang, never a 500; both processes stay up; /healthz
 *     answers 200 and /readyz 503;
 *   - after it is back: the service recovers by itself within a bounded time (requests succeed,
 *     /readyz 200), keeps succeeding, and the LISTEN/NOTIFY bus is back: a guest waiting on A is
 *     seen on B and let in on A when the host joins on B.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import pg from 'pg';
import { AUDIENCE } from '../../src/domain/constants.js';
import { removeDir, runCli, show, tempDir } from '../cli/run-cli.js';
import { SseReader, ticketOf } from '../visits/helpers.js';
import {
  type Answer,
  http,
  type PrivatePostgres,
  postgresBin,
  type ServeChild,
  sleep,
  startPrivatePostgres,
  startServe,
} from './support.js';

const bin = postgresBin();
const NO_POSTGRES = 'PostgreSQL programs (initdb, pg_ctl) not found: cannot start a private instance';
const HTML = { accept: 'text/html,application/xhtml+xml' };
/** Every request while the database is down answers within this. */
const FAST_MS = 2000;
/** The service is back within this once the database is. */
const RECOVERY_MS = 15_000;

type Phase = 'up' | 'stopping' | 'down' | 'starting' | 'recovering' | 'recovered';
type Kind = 'issue' | 'short' | 'page' | 'space';
interface Outcome {
  client: number;
  kind: Kind;
  /** The phase when the request was sent, and when its answer (or failure) came. */
  phase: Phase;
  endPhase: Phase;
  at: number;
  ms: number;
  ok: boolean;
  status?: number;
  error?: string;
  answer?: Answer;
}

describe('PostgreSQL restarted under load', { skip: bin || process.env['CI'] ? false : NO_POSTGRES }, () => {
  test(
    'fails fast with 503 while the database is down and recovers by itself',
    { timeout: 10 * 60_000 },
    (t) => restartUnderLoad(t),
  );
});

async function restartUnderLoad(t: TestContext): Promise<void> {
  assert.ok(bin, `${NO_POSTGRES}; CI must run this test (install Debian's postgresql)`);
  const cwd = tempDir('ic-pg-restart-');
  let db: PrivatePostgres | undefined;
  const servers: ServeChild[] = [];
  let stopped = false;
  let clients: Promise<void>[] = [];
  try {
    db = await startPrivatePostgres(bin);
    const made = await runCli(['keys', 'create', '--name', 'restart', '--json'], {
      cwd,
      env: { DATABASE_URL: db.url },
    });
    assert.equal(made.code, 0, show(made));
    const key = (JSON.parse(made.stdout) as { key: string }).key;
    const env: Record<string, string> = {
      DATABASE_URL: db.url,
      PORT: '0',
      LOG_LEVEL: 'warn',
      // Limits stay on (counted in the database, as on several instances) but out of the way.
      RATE_LIMIT_ISSUE_PER_KEY: '1000000',
      RATE_LIMIT_ISSUE_PER_ADDRESS: '1000000',
      RATE_LIMIT_PUBLIC_PER_ADDRESS: '1000000',
      RATE_LIMIT_FAILED_OPENS_PER_ADDRESS: '1000000',
    };
    servers.push(await startServe(cwd, env), await startServe(cwd, env));
    const [a, b] = servers as [ServeChild, ServeChild];
    const tails = () => servers.map((s, i) => `=== server ${'AB'[i]}\n${s.tail()}`).join('\n');
    assert.match(a.process.stderr(), /\(postgres\)/);

    // ---- the load: client i issues on server i and resolves links either server issued
    let phase: Phase = 'up';
    const outcomes: Outcome[] = [];
    const links: { cipher: string; short: string; role: 'host' | 'guest' }[] = [];
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const timed = async (
      client: number,
      kind: Kind,
      send: () => Promise<Answer>,
      ok: (answer: Answer) => boolean,
    ): Promise<Answer | undefined> => {
      const at = Date.now();
      const seen = phase;
      try {
        const answer = await send();
        outcomes.push({
          client,
          kind,
          phase: seen,
          endPhase: phase,
          at,
          ms: answer.ms,
          ok: ok(answer),
          status: answer.status,
          answer,
        });
        return answer;
      } catch (err) {
        outcomes.push({
          client,
          kind,
          phase: seen,
          endPhase: phase,
          at,
          ms: Date.now() - at,
          ok: false,
          error: String(err),
        });
        return undefined;
      }
    };
    const client = async (i: number) => {
      const server = servers[i]!;
      for (let n = 0; !stopped; n++) {
        const issued = await timed(
          i,
          'issue',
          () =>
            http(
              `${server.url}/api/v2/joseencrypt`,
              {
                method: 'POST',
                headers: auth,
                body: JSON.stringify({
                  aud: AUDIENCE,
                  jwt: { sub: `restart ${i} ${n} ${randomBytes(3).toString('hex')}` },
                  iterations: 1000,
                  provideShortUrls: true,
                }),
              },
              8000,
            ),
          (x) => x.status === 200 && typeof x.body?.host?.[0]?.short === 'string',
        );
        if (issued?.status === 200) {
          links.push({ ...issued.body.host[0], role: 'host' }, { ...issued.body.guest[0], role: 'guest' });
        }
        const link = links[Math.floor(Math.random() * links.length)];
        if (link) {
          const short = await timed(
            i,
            'short',
            () => http(`${server.url}/visit/${link.short}`, {}, 8000),
            (x) => x.status === 302,
          );
          if (short?.status === 302) {
            const location = new URL(short.headers.get('location') ?? '/', server.url);
            await timed(
              i,
              'page',
              () => http(`${server.url}${location.pathname}${location.search}`, { headers: HTML }, 8000),
              (x) => x.status === 200 && x.text.includes('<span class="state ok">Valid</span>'),
            );
          }
          await timed(
            i,
            'space',
            () =>
              http(`${server.url}/api/v1/space?int=jose&data=${encodeURIComponent(link.cipher)}`, {}, 8000),
            (x) => x.status === 200 && x.body?.isHost === (link.role === 'host'),
          );
        }
        await sleep(phase === 'down' ? 50 : 10);
      }
    };
    clients = [client(0), client(1)];
    const failures = (list: Outcome[]) =>
      list
        .filter((o) => !o.ok)
        .slice(0, 5)
        .map(
          (o) =>
            `${o.kind} on ${'AB'[o.client]} (${o.phase}): ${o.error ?? `${o.status} ${o.answer?.text.slice(0, 200)}`}`,
        )
        .join('\n');

    // ---- before: everything works
    // At least 1.5 s and 10 links issued on each instance (a busy machine is slower).
    const issuedOn = (c: number, list: Outcome[]) =>
      list.filter((o) => o.kind === 'issue' && o.client === c && o.ok).length;
    await sleep(1500);
    await until(
      () => [0, 1].every((c) => issuedOn(c, outcomes) >= 10),
      20_000,
      'links issued before the stop',
      tails,
    );
    const before = outcomes.filter((o) => o.phase === 'up');
    assert.equal(
      before.filter((o) => !o.ok).length,
      0,
      `failures while the database is up:\n${failures(before)}`,
    );

    // ---- the database goes away
    phase = 'stopping';
    await db.stop();
    phase = 'down';
    const downAt = Date.now();
    const health: Answer[] = [];
    const downOn = (c: number, kind: Kind) =>
      outcomes.filter((o) => o.client === c && o.kind === kind && o.phase === 'down' && o.endPhase === 'down')
        .length;
    // Down for at least 3 s, and until each client has met the outage on each kind of request.
    const metOutage = () =>
      [0, 1].every((c) => (['issue', 'short', 'space'] as const).every((k) => downOn(c, k) >= 5));
    while (Date.now() - downAt < 3000 || !metOutage()) {
      if (Date.now() - downAt > 20_000)
        assert.fail(`too few requests while the database was down\n${tails()}`);
      for (const [i, s] of servers.entries()) {
        for (const path of ['/healthz', '/readyz']) {
          const answer = await http(`${s.url}${path}`, {}, 5000).catch((err: Error) =>
            assert.fail(
              `${path} of ${'AB'[i]} while the database was down: ${err.message} (${String(err.cause)})\n${tails()}`,
            ),
          );
          health.push(answer);
        }
      }
      await sleep(300);
    }
    for (const s of servers)
      assert.ok(s.running(), `a server exited while the database was down\n${tails()}`);
    phase = 'starting';
    await db.start();
    const upAt = Date.now();
    phase = 'recovering';

    // ---- while it was down: fast 503s with the envelope, never a hang, never a 500
    const down = outcomes.filter((o) => o.phase === 'down' && o.endPhase === 'down');
    for (const kind of ['issue', 'short', 'space'] as const) {
      for (const c of [0, 1]) {
        assert.ok(
          down.filter((o) => o.kind === kind && o.client === c).length >= 5,
          `${kind} requests on ${'AB'[c]} while the database was down: ${down.filter((o) => o.kind === kind && o.client === c).length}`,
        );
      }
    }
    const wrong: string[] = [];
    for (const o of down) {
      const what = `${o.kind} on ${'AB'[o.client]} ${o.at - downAt} ms after the stop`;
      if (!o.answer) {
        wrong.push(`${what}: no answer (${o.error})`);
        continue;
      }
      const x = o.answer;
      if (x.ms > FAST_MS) wrong.push(`${what}: answered after ${x.ms} ms`);
      if (x.status !== 503) {
        wrong.push(`${what}: ${x.status} ${x.text.slice(0, 200)}`);
        continue;
      }
      const body = x.body;
      if (
        !/^application\/json/.test(x.headers.get('content-type') ?? '') ||
        body?.code !== 'ERR_OVERLOADED' ||
        typeof body?.message !== 'string' ||
        !Array.isArray(body?.errors) ||
        typeof body?.trackingId !== 'string'
      )
        wrong.push(`${what}: not the 503 envelope: ${x.text.slice(0, 200)}`);
      if (!/^\d+$/.test(x.headers.get('retry-after') ?? '')) wrong.push(`${what}: no Retry-After`);
    }
    assert.deepEqual(
      wrong.slice(0, 10),
      [],
      `${wrong.length} wrong answers while the database was down\n${tails()}`,
    );
    const slowest = Math.max(...down.map((o) => o.ms));
    // Requests caught by the stop or the start end too, quickly, and never with a 500.
    for (const o of outcomes.filter((x) => x.phase !== x.endPhase || x.phase === 'stopping')) {
      const what = `${o.kind} on ${'AB'[o.client]} sent ${o.phase}, answered ${o.endPhase}`;
      assert.ok(o.answer, `${what}: no answer (${o.error})`);
      assert.ok(o.ok || o.status === 503, `${what}: ${o.status} ${o.answer.text.slice(0, 200)}`);
      assert.ok(o.ms < 8000, `${what}: took ${o.ms} ms`);
    }
    const healthz = health.filter((_, i) => i % 2 === 0);
    const readyz = health.filter((_, i) => i % 2 === 1);
    assert.ok(
      healthz.every((h) => h.status === 200),
      `/healthz while down: ${healthz.map((h) => h.status)}`,
    );
    assert.ok(
      readyz.every((h) => h.status === 503 && h.body?.status === 'unavailable' && h.ms < FAST_MS),
      `/readyz while down: ${readyz.map((h) => `${h.status} in ${h.ms} ms`)}`,
    );

    // ---- back: it recovers by itself, within a bounded time
    let recoveredAt = 0;
    for (;;) {
      const since = outcomes.filter((o) => o.at >= upAt);
      const perClient = [0, 1].map((c) => {
        const mine = since.filter((o) => o.client === c);
        const lastFailure = mine.findLastIndex((o) => !o.ok);
        return mine.slice(lastFailure + 1);
      });
      // Recovered: on both servers, the requests since the last failure include one full round.
      if (
        perClient.every((ok) =>
          (['issue', 'short', 'page', 'space'] as const).every((k) => ok.some((o) => o.kind === k)),
        )
      ) {
        recoveredAt = Math.max(...perClient.map((ok) => Math.min(...ok.map((o) => o.at))));
        break;
      }
      if (Date.now() - upAt > RECOVERY_MS)
        assert.fail(
          `not recovered ${RECOVERY_MS} ms after the database came back:\n${failures(since)}\n${tails()}`,
        );
      await sleep(100);
    }
    phase = 'recovered';
    for (const s of servers) {
      const ready = await http(`${s.url}/readyz`, {}, 5000);
      assert.equal(ready.status, 200, ready.text);
      assert.equal(ready.body.status, 'ready');
    }
    // Then it keeps working: at least 1.5 s and 10 more links on each instance, with no failure.
    const recoveredLinks = () => outcomes.filter((o) => o.at >= recoveredAt + 200);
    await sleep(1500);
    await until(
      () => [0, 1].every((c) => issuedOn(c, recoveredLinks()) >= 10),
      20_000,
      'links issued after the recovery',
      tails,
    );
    const after = recoveredLinks();
    assert.equal(after.filter((o) => !o.ok).length, 0, `failures after the recovery:\n${failures(after)}`);
    stopped = true;
    await Promise.all(clients);
    // From start to end: every request answered, each a success or a 503 (never a 500, never a hang).
    const bad = outcomes.filter((o) => !o.ok && (!o.answer || o.status !== 503));
    assert.equal(bad.length, 0, `requests neither answered as expected nor 503:\n${failures(bad)}`);
    assert.equal(
      outcomes.filter((o) => o.phase === 'up' && o.endPhase === 'up' && !o.ok).length,
      0,
      'a failure while the database was up',
    );

    // ---- the LISTEN/NOTIFY bus came back on both instances; a lobby message crosses them
    const listening = async () => {
      const admin = new pg.Client({ connectionString: db!.adminUrl, connectionTimeoutMillis: 5000 });
      await admin.connect();
      try {
        const { rows } = await admin.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'instant-connect-live' AND query ILIKE 'LISTEN%'",
        );
        return Number(rows[0]?.n ?? 0);
      } finally {
        await admin.end();
      }
    };
    for (let deadline = Date.now() + 15_000; (await listening()) < 2; await sleep(200)) {
      if (Date.now() > deadline)
        assert.fail(`the live bus did not listen again on both instances\n${tails()}`);
    }
    await lobbyAcross(a, b, key);
    for (const s of servers) assert.ok(s.running(), `a server exited\n${tails()}`);
    t.diagnostic(
      `${outcomes.length} requests; ${down.length} while down, slowest ${slowest} ms; recovered ` +
        `${recoveredAt - upAt} ms after the database was back`,
    );
  } finally {
    stopped = true;
    await Promise.all(clients);
    for (const s of servers) await s.crash();
    await db?.destroy();
    removeDir(cwd);
  }
}

/** A guest waiting on A is seen on B, and let in on A when the host joins on B. */
async function lobbyAcross(a: ServeChild, b: ServeChild, key: string): Promise<void> {
  const made = await http(`${a.url}/api/visits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      subject: `after the restart ${randomBytes(3).toString('hex')}`,
      crypto: { iterations: 1000 },
    }),
  });
  assert.equal(made.status, 201, made.text);
  const path = (url: string) => {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  };
  const guestPage = await http(`${a.url}${path(made.body.guests[0].longUrl)}`, { headers: HTML });
  assert.equal(guestPage.status, 200, guestPage.text.slice(0, 300));
  const hostPage = await http(`${b.url}${path(made.body.hosts[0].longUrl)}`, { headers: HTML });
  assert.equal(hostPage.status, 200, hostPage.text.slice(0, 300));
  const guestTicket = ticketOf(guestPage.text);
  const hostTicket = ticketOf(hostPage.text);
  const guest = await SseReader.open(`${a.url}/live/events?ticket=${encodeURIComponent(guestTicket)}`);
  try {
    const first = await guest.status(() => true, 'the first status');
    assert.equal(first.admitted, false);
    // A → B: the guest's presence on A reaches B.
    for (let deadline = Date.now() + 10_000; ; await sleep(50)) {
      const status = await http(`${b.url}/live/status?ticket=${encodeURIComponent(hostTicket)}`);
      assert.equal(status.status, 200, status.text);
      if (status.body.guestsPresent === 1) break;
      if (Date.now() > deadline) assert.fail(`B never saw the guest waiting on A: ${status.text}`);
    }
    // B → A: the host joins on B; the guest on A is let in.
    const join = await http(`${b.url}/live/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: hostTicket }),
    });
    assert.equal(join.status, 200, join.text);
    const admitted = await guest.status(
      (s) => s.admitted && s.state === 'live',
      'the guest let in on A',
      10_000,
    );
    assert.equal(admitted.visitId, made.body.id);
  } finally {
    await guest.close();
  }
}

/** Waits until `ok()` (bounded), failing with `what` and the servers' output. */
async function until(ok: () => boolean, ms: number, what: string, tails: () => string): Promise<void> {
  for (const deadline = Date.now() + ms; !ok(); await sleep(50)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${tails()}`);
  }
}
