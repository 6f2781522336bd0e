/**
 * A small limiter for PBKDF2-heavy jobs (issuing and opening tokens).
 *
 * Why: jose v6 uses WebCrypto, and in Node WebCrypto's PBKDF2 runs on libuv's thread pool
 * (4 threads by default), the same pool that serves `fs`, DNS look-ups (`fetch` to Webex
 * resolves names there) and zlib. A burst of tokens at p2c 32767 (≈ 20 ms of SHA-512 each)
 * would otherwise fill every pool thread and stall all of that I/O behind it. Bounding the
 * PBKDF2 jobs in flight (2–3 on 2 cores, with a pool sized so a thread is always free) keeps
 * the pool usable; bounding the queue turns overload into a fast 503 with `Retry-After`
 * instead of unbounded memory and latency.
 */
import { InstantConnectError } from '../errors.js';

export interface WorkLimiterOptions {
  /** Jobs running at once (≥ 1). */
  concurrency: number;
  /** Jobs waiting for a slot (≥ 0); one more is refused at once with ERR_OVERLOADED. */
  maxQueue: number;
  /** The same bound for the priority lane (default `maxQueue`). */
  maxPriorityQueue?: number;
}

/** ERR_OVERLOADED (503), with a hint for the `Retry-After` header. */
export class OverloadedError extends InstantConnectError {
  /** Seconds after which a retry is likely to be served (1..60). */
  readonly retryAfter: number;
  constructor(retryAfter: number) {
    super('ERR_OVERLOADED', `The server is busy; retry in ${retryAfter} s.`);
    this.retryAfter = retryAfter;
  }
}

interface Waiter {
  weight: number;
  start: () => void;
}

/** The first full job's duration guess (ms) before any has finished: one p2c-32767 PBKDF2, roughly. */
const INITIAL_ESTIMATE_MS = 25;
/** Weight of the newest duration in the moving average. */
const EWMA_WEIGHT = 0.2;
/** The lightest a job counts: bounds the jobs in flight to 32 × concurrency. */
export const MIN_WEIGHT = 1 / 32;

/**
 * Jobs carry a weight: the share of a full job they cost (a token at p2c 1000 weighs about
 * 1000/32767 of one at 32767). Up to `concurrency` full jobs' worth runs at once, so many cheap
 * jobs keep both cores busy (each is a chain of short WebCrypto hops), while expensive ones
 * never occupy more pool threads than allowed.
 */
export class WorkLimiter {
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly maxPriorityQueue: number;
  #running = 0;
  #load = 0;
  #queue: Waiter[] = [];
  /** Served before #queue: page openings go ahead of bulk issuing, so pages stay up under load. */
  #priority: Waiter[] = [];
  /** Average milliseconds of a job of weight 1. */
  #averageMs = INITIAL_ESTIMATE_MS;

  constructor(options: WorkLimiterOptions) {
    const { concurrency, maxQueue } = options;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new InstantConnectError('ERR_INTERNAL', 'WorkLimiter: concurrency must be an integer ≥ 1.');
    }
    if (!Number.isSafeInteger(maxQueue) || maxQueue < 0) {
      throw new InstantConnectError('ERR_INTERNAL', 'WorkLimiter: maxQueue must be an integer ≥ 0.');
    }
    this.concurrency = concurrency;
    this.maxQueue = maxQueue;
    this.maxPriorityQueue = options.maxPriorityQueue ?? maxQueue;
  }

  /** Jobs running now (metrics). */
  get inFlight(): number {
    return this.#running;
  }

  /** Jobs waiting for a slot (metrics). */
  get queued(): number {
    return this.#queue.length + this.#priority.length;
  }

  /**
   * Seconds until the backlog drains, from the average duration of a full job:
   * (queued + running weight) / concurrency × average, rounded up and kept within 1..60.
   */
  get retryAfter(): number {
    const waiting = [...this.#priority, ...this.#queue].reduce((sum, w) => sum + w.weight, 0);
    const backlog = (waiting + this.#load) / this.concurrency;
    return Math.min(60, Math.max(1, Math.ceil((backlog * this.#averageMs) / 1000)));
  }

  #fits(weight: number): boolean {
    return this.#running === 0 || this.#load + weight <= this.concurrency + 1e-9;
  }

  /**
   * Runs `fn` when there is room for its `weight` (default 1, a full job; kept within
   * MIN_WEIGHT..1). Rejects at once with OverloadedError when the queue is full, and with the
   * signal's reason if `signal` aborts while the job is still waiting (a job already running is
   * not interrupted). `fn`'s own result or error is passed through, and its room is freed either way.
   */
  run<T>(
    fn: () => Promise<T> | T,
    options: { signal?: AbortSignal; weight?: number; priority?: boolean } = {},
  ): Promise<T> {
    const { signal } = options;
    const weight = Math.min(1, Math.max(MIN_WEIGHT, options.weight ?? 1));
    const lane = options.priority ? this.#priority : this.#queue;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ahead = options.priority ? this.#priority.length : this.#priority.length + this.#queue.length;
    if (ahead === 0 && this.#fits(weight)) return this.#execute(fn, weight);
    if (lane.length >= (options.priority ? this.maxPriorityQueue : this.maxQueue)) {
      return Promise.reject(new OverloadedError(this.retryAfter));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const index = lane.indexOf(waiter);
        if (index !== -1) lane.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        weight,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#execute(fn, weight).then(resolve, reject);
        },
      };
      lane.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #execute<T>(fn: () => Promise<T> | T, weight: number): Promise<T> {
    this.#running++;
    this.#load += weight;
    const started = performance.now();
    try {
      return await fn();
    } finally {
      const perUnit = (performance.now() - started) / weight;
      this.#averageMs += EWMA_WEIGHT * (perUnit - this.#averageMs);
      this.#running--;
      this.#load -= weight;
      // Priority lane first; within a lane first in, first out: the head starts when it fits,
      // and nothing overtakes it.
      for (;;) {
        const lane = this.#priority.length > 0 ? this.#priority : this.#queue;
        if (lane.length === 0 || !this.#fits(lane[0]!.weight)) break;
        lane.shift()!.start();
      }
    }
  }
}
