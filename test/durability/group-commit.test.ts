/**
 * Group commit and kill -9 (SQLite): sixteen clients send the call integrators make (one host and
 * one guest link, a new subject each, short URLs) to the built `serve`, so that the writes of
 * several requests share each commit, and the server is killed at a random moment while they do.
 * Every link answered 200 before the kill must resolve after the restart: short link → 302 → the
 * long link's page "Valid". /metrics shows that grouping was at work (more writes than commits).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { AUDIENCE } from '../../src/domain/constants.js';
import { removeDir, runCli, show, tempDir } from '../cli/run-cli.js';
import { freePort } from '../support/free-port.js';
import { http, isTimeout, mapLimit, type ServeChild, sleep, startServe } from './support.js';

const CLIENTS = 16;
const HTML = { accept: 'text/html,application/xhtml+xml' };

interface Issued {
  sub: string;
  body: {
    host: { cipher: string; short: string }[];
    guest: { cipher: string; short: string }[];
    baseUrl: string;
  };
}

/** A counter of the server's /metrics. */
async function counter(base: string, name: string): Promise<number> {
  const text = (await http(`${base}/metrics`)).text;
  const match = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  assert.ok(match, `${name} is exported`);
  return Number(match[1]);
}

test('kill -9 during 2-link calls with group commit: every answered link resolves', {
  timeout: 5 * 60_000,
}, async () => {
  const cwd = tempDir('ic-group-');
  let server: ServeChild | undefined;
  let stopped = false; // set in finally too: a failed assertion must stop the clients, not hang
  try {
    const env: Record<string, string> = { DATA_DIR: join(cwd, 'data') };
    const made = await runCli(['keys', 'create', '--name', 'group', '--json'], { cwd, env });
    assert.equal(made.code, 0, show(made));
    const key = (JSON.parse(made.stdout) as { key: string }).key;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    Object.assign(env, {
      PORT: String(port),
      LOG_LEVEL: 'warn',
      RATE_LIMIT_ISSUE_PER_KEY: '0',
      RATE_LIMIT_ISSUE_PER_ADDRESS: '0',
      RATE_LIMIT_PUBLIC_PER_ADDRESS: '0',
    });
    server = await startServe(cwd, env);

    const issued: Issued[] = [];
    const unexpected: string[] = [];
    const hung: string[] = [];
    let cutOff = 0;
    const client = async (i: number) => {
      for (let n = 0; !stopped; n++) {
        const sub = `group ${i} ${n} ${randomBytes(3).toString('hex')}`;
        try {
          const answer = await http(`${base}/api/v2/joseencrypt`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              aud: AUDIENCE,
              jwt: { sub },
              numHost: 1,
              numGuest: 1,
              provideShortUrls: true,
              iterations: 1000,
            }),
          });
          if (answer.status === 200) issued.push({ sub, body: answer.body });
          else unexpected.push(`${answer.status}: ${answer.text.slice(0, 200)}`);
        } catch (err) {
          if (isTimeout(err)) hung.push((err as Error).message);
          cutOff += 1; // the kill
          return;
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
    // Some answers first (a loaded machine starts slowly), then a random moment.
    for (const deadline = Date.now() + 60_000; issued.length < 50; await sleep(20)) {
      assert.ok(Date.now() < deadline, `only ${issued.length} answers in a minute\n${server.tail()}`);
    }
    const writes = await counter(base, 'ic_store_writes_total');
    const commits = await counter(base, 'ic_store_commits_total');
    assert.ok(
      writes > commits,
      `writes of several requests share commits (${writes} writes, ${commits} commits)`,
    );
    await sleep(200 + Math.random() * 800);
    await server.crash();
    stopped = true;
    await Promise.all(clients);
    assert.deepEqual(unexpected, [], 'answers other than 200');
    assert.deepEqual(hung, [], 'requests that hung');
    assert.ok(cutOff > 0, 'the kill came while requests were in flight');

    server = await startServe(cwd, env);
    const lost: string[] = [];
    const links = issued.flatMap((r) => [
      ...r.body.host.map((l) => ({ ...l, role: 'host', r })),
      ...r.body.guest.map((l) => ({ ...l, role: 'guest', r })),
    ]);
    await mapLimit(links, 8, async ({ short, role, r }) => {
      const redirect = await http(`${r.body.baseUrl}${short}`, { headers: HTML });
      if (redirect.status !== 302)
        return void lost.push(`${role} of "${r.sub}": short link ${redirect.status}`);
      const page = await http(new URL(redirect.headers.get('location') ?? '', base).toString(), {
        headers: HTML,
      });
      if (page.status !== 200 || !page.text.includes('<span class="state ok">Valid</span>'))
        lost.push(`${role} of "${r.sub}": long link page ${page.status}`);
    });
    assert.deepEqual(lost, [], `links answered 200 that no longer resolve (of ${links.length})`);
  } finally {
    stopped = true;
    await server?.crash();
    removeDir(cwd);
  }
});
