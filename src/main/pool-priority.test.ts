import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { lowerPoolPriority, POOL_NICE } from './pool-priority.js';

/** The nice value of each thread of this process (field 19 of /proc/…/stat). */
function niceOf(): Map<string, number> {
  const nice = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    nice.set(tid, Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
  }
  return nice;
}

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
