/**
 * Graceful shutdown over real HTTP: a request in flight when `close()` is called still gets
 * its whole answer; afterwards the port refuses connections and the data is intact.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { openBrokerContext } from '../../src/main/container.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { AUDIENCE, call, encrypt } from './helpers.js';

/** Resolves once `predicate` holds, polling every few ms; fails after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A new TCP connection to the server's port is refused (ECONNREFUSED). */
async function assertRefused(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const code = await new Promise<string>((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
  });
  assert.equal(code, 'ECONNREFUSED');
}

test('a request in flight when close() is called completes; then the port refuses connections', async () => {
  const server: TestServer = await startTestServer({ sockets: true });
  try {
    const { context } = server.server;
    // 25 links at the top iteration count: long enough (many PBKDF2 rounds) to still be running.
    const inFlight = encrypt(server, {
      aud: AUDIENCE,
      jwt: { sub: 'in flight' },
      numHost: 5,
      numGuest: 20,
      iterations: 32767,
      provideShortUrls: true,
    });
    await until(() => context.limiter.inFlight > 0);
    const closed = server.server.close();
    const answer = await inFlight;
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.host.length, 5);
    assert.equal(answer.body.guest.length, 20);
    assert.match(answer.headers.get('trackingid') ?? '', /^IC_/);
    assert.equal(answer.headers.get('connection'), 'close', 'the answer ends its connection');
    // Shutdown does not wait out the keep-alive timeout (72 s) of that connection.
    const started = performance.now();
    await closed;
    assert.ok(
      performance.now() - started < 5000,
      `close took ${(performance.now() - started).toFixed(0)} ms`,
    );
    await assertRefused(server.url);

    // What the request wrote before the shutdown is there: its short links are in the store.
    const reopened = await openBrokerContext({ dataDir: server.dataDir, publicUrl: 'http://127.0.0.1' });
    try {
      for (const entry of [...answer.body.host, ...answer.body.guest]) {
        const link = await reopened.store.getShortLink(entry.short);
        assert.equal(link?.cipher, entry.cipher);
      }
    } finally {
      await reopened.close();
    }
  } finally {
    await server.close();
  }
});

test('close() while idle keep-alive connections are open does not hang', async () => {
  const server = await startTestServer({ sockets: true });
  try {
    // fetch keeps its connection alive after these answers.
    for (let i = 0; i < 3; i++) assert.equal((await call(`${server.url}/healthz`)).status, 200);
    const started = performance.now();
    await server.server.close();
    assert.ok(performance.now() - started < 5000, 'closed promptly');
    await assertRefused(server.url);
  } finally {
    await server.close();
  }
});

test('close() is idempotent, and a new request after it is refused', async () => {
  const server = await startTestServer({ sockets: true });
  try {
    const first = server.server.close();
    const second = server.server.close();
    assert.equal(first, second);
    await first;
    await assertRefused(server.url);
  } finally {
    await server.close();
  }
});
