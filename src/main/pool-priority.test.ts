import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lowerPoolPriority, POOL_NICE, threadStats } from './pool-priority.js';

/** The nice value of each thread of this process (field 19 of /proc/…/stat). */
const niceOf = () => threadStats((fields) => Number(fields[16]));

test('the pool threads end below the main thread, which keeps its priority', {
  skip: process.platform !== 'linux' ? 'Linux only' : false,
}, async () => {
  const before = niceOf();
  const lowered = await lowerPoolPriority(4);
  const after = niceOf();
  assert.ok(lowered >= 1, `pool threads lowered: ${lowered}`);
  assert.equal(
    after.get(String(process.pid)),
    before.get(String(process.pid)),
    'the main thread is untouched',
  );
  const low = [...after].filter(([tid, n]) => n === POOL_NICE && before.get(tid) !== POOL_NICE);
  assert.equal(low.length, lowered, 'as many threads at the lower priority as reported');
});
