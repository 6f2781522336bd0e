import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../store/sqlite.js';
import { MemoryRateLimiter, type RateLimiter, StoreRateLimiter } from './rate-limit.js';

async function reserveAtOnce(limiter: RateLimiter) {
  const all = await Promise.all(Array.from({ length: 50 }, () => limiter.reserve('k', 10, 60)));
  assert.equal(all.filter((r) => r.allowed).length, 10, 'at most the limit, however many at once');
  // Refunds give room back, once each.
  await all[0]!.refund();
  await all[0]!.refund();
  const next = await limiter.reserve('k', 10, 60);
  assert.equal(next.count, 50, 'one refund, counted once');
}

test('memory: reservations are atomic and refundable', async () => {
  const limiter = new MemoryRateLimiter(() => 120);
  await reserveAtOnce(limiter);
  // A refund after its window ended changes nothing in the next window.
  let now = 120;
  const timed = new MemoryRateLimiter(() => now);
  const held = await timed.reserve('w', 1, 60);
  now = 185;
  assert.equal((await timed.reserve('w', 1, 60)).allowed, true);
  await held.refund();
  assert.equal((await timed.peek('w', 1, 60)).count, 1);
});

test('store-backed: reservations are atomic and refundable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ic-rate-'));
  const store = new SqliteStore(join(dir, 'db.sqlite'));
  try {
    await store.migrate();
    // The store sweeps counters whose window ended by the real clock: use the current window.
    const now = Math.floor(Date.now() / 60_000) * 60 + 1;
    await reserveAtOnce(new StoreRateLimiter(store, () => now));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
