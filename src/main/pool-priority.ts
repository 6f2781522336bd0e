/**
 * Lowers the priority of libuv's thread pool below the main thread's (Linux only; elsewhere, and
 * where the system refuses, nothing changes).
 *
 * Why: PBKDF2 runs on the pool, 4 threads on a 2-core machine. At the same priority, every pool
 * thread a new PBKDF2 job wakes takes a core from the main thread at once (the scheduler's wake-up
 * preemption), and busy pool threads share the cores evenly with it. Measured on 2-link calls at
 * p2c 1000: handing a job to the pool cost the main thread about 0.5 ms of waiting per token, the
 * largest item of its profile, while the request work that feeds the pool waited its turn. At a
 * lower priority the pool takes every cycle the main thread leaves, and no more.
 *
 * libuv's threads have no name, so they are found by what they do: one PBKDF2 job of about 20 ms
 * per pool thread, and the threads whose CPU time grew meanwhile are the pool's (the main thread
 * excepted; a V8 helper thread that happened to run then is lowered too, which does no harm).
 * `serve` does this once at start (about 80 ms of CPU).
 */
import { pbkdf2 } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Nice value given to the pool threads (the main thread keeps its own, usually 0). */
export const POOL_NICE = 10;

/**
 * One number of /proc's stat line for each thread of this process, by field index after the
 * thread's name (11 + 12: user and system CPU ticks; 16: nice). A thread that ended is left out.
 */
export function threadStats(read: (fields: string[]) => number): Map<string, number> {
  const stats = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      stats.set(tid, read(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return stats;
}

/** CPU ticks (user + system) of each thread of this process. */
const cpuTicks = () => threadStats((fields) => Number(fields[11]) + Number(fields[12]));

/** Finds the pool's threads and lowers their priority; returns how many were lowered. */
export async function lowerPoolPriority(poolSize: number): Promise<number> {
  if (process.platform !== 'linux') return 0;
  let before: Map<string, number>;
  try {
    before = cpuTicks();
  } catch {
    return 0;
  }
  // About 20 ms of SHA-512 each (≈ 1.5 M iterations/s), one per thread: all start at once, so
  // each thread takes one (and /proc counts CPU in 10 ms ticks).
  await Promise.all(
    Array.from(
      { length: poolSize },
      () => new Promise<void>((resolve) => pbkdf2('pool', 'threads', 30_000, 64, 'sha512', () => resolve())),
    ),
  );
  const after = cpuTicks();
  let lowered = 0;
  for (const [tid, ticks] of after) {
    if (Number(tid) === process.pid || ticks - (before.get(tid) ?? 0) < 1) continue;
    try {
      setPriority(Number(tid), POOL_NICE);
      lowered += 1;
    } catch {
      // Not allowed here (a container's policy): the pool keeps the main thread's priority.
    }
  }
  return lowered;
}
