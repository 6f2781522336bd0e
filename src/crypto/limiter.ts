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
import { InstantConnectError, OverloadedError } from '../errors.js';

export interface WorkLimiterOptions {
  /** Jobs running at once (≥ 1). */
  concurrency: number;
  /** Jobs waiting for a slot (≥ 0); one more is refused at once with ERR_OVERLOADED. */
  maxQueue: number;
  /** The same bound for the priority lane (default `maxQueue`). */
  maxPriorityQueue?: number;
  /**
   * The low lane (work nobody vouches for: tokens this broker never recorded): full jobs' worth
   * it may run at once (default 1, an integer ≥ 1, never more than `concurrency`) …
   */
  lowConcurrency?: number;
  /** … and jobs it may hold waiting (default 8); one more is refused at once with ERR_OVERLOADED. */
  maxLowQueue?: number;
}

/**
 * Where a job waits: `priority` (page openings of known links) goes first, `normal` (issuing)
 * next, `low` (unknown tokens) last and within its own small bounds, so a flood of forged
 * tokens can never hold more than `lowConcurrency` of the work in flight nor delay the others.
 */
export type Lane = 'priority' | 'normal' | 'low';

interface Waiter {
  weight: number;
  start: () => void;
}

/** The first full job's duration guess (ms) before any has finished: one p2c-32767 PBKDF2, roughly. */
const INITIAL_ESTIMATE_MS = 25;
/** Weight of the newest duration in the moving average. */
const EWMA_WEIGHT = 0.2;
/** The lightest a job counts: bounds the jobs in flight to 32 × concurrency. */
const MIN_WEIGHT = 1 / 32;

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
  readonly lowConcurrency: number;
  readonly maxLowQueue: number;
  #lowLoad = 0;
  #queue: Waiter[] = [];
  /** Served before #queue: page openings go ahead of bulk issuing, so pages stay up under load. */
  #priority: Waiter[] = [];
  /** Served after both, and only within lowConcurrency. */
  #low: Waiter[] = [];
  /** Jobs started so far, by lane (metrics, and tests counting PBKDF2 runs). */
  readonly started: Record<Lane, number> = { priority: 0, normal: 0, low: 0 };
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
    const lowConcurrency = options.lowConcurrency ?? 1;
    if (!Number.isSafeInteger(lowConcurrency) || lowConcurrency < 1) {
      throw new InstantConnectError('ERR_INTERNAL', 'WorkLimiter: lowConcurrency must be an integer ≥ 1.');
    }
    this.lowConcurrency = Math.min(lowConcurrency, concurrency);
    this.maxLowQueue = options.maxLowQueue ?? 8;
  }

  /** Jobs running now (metrics). */
  get inFlight(): number {
    return this.#running;
  }

  /** Jobs waiting for a slot (metrics). */
  get queued(): number {
    return this.#queue.length + this.#priority.length + this.#low.length;
  }

  /**
   * Seconds until the backlog drains, from the average duration of a full job:
   * (queued + running weight) / concurrency × average, rounded up and kept within 1..60.
   */
  get retryAfter(): number {
    const waiting = [...this.#priority, ...this.#queue, ...this.#low].reduce((sum, w) => sum + w.weight, 0);
    const backlog = (waiting + this.#load) / this.concurrency;
    return Math.min(60, Math.max(1, Math.ceil((backlog * this.#averageMs) / 1000)));
  }

  #fits(weight: number): boolean {
    return this.#running === 0 || this.#load + weight <= this.concurrency + 1e-9;
  }

  #fitsLow(weight: number): boolean {
    return this.#fits(weight) && this.#lowLoad + weight <= this.lowConcurrency + 1e-9;
  }

  /**
   * Runs `fn` when there is room for its `weight` (default 1, a full job; kept within
   * MIN_WEIGHT..1). Rejects at once with OverloadedError when the queue is full, and with the
   * signal's reason if `signal` aborts while the job is still waiting (a job already running is
   * not interrupted). `fn`'s own result or error is passed through, and its room is freed either way.
   */
  run<T>(
    fn: () => Promise<T> | T,
    options: { signal?: AbortSignal; weight?: number; priority?: boolean; lane?: Lane } = {},
  ): Promise<T> {
    const { signal } = options;
    const weight = Math.min(1, Math.max(MIN_WEIGHT, options.weight ?? 1));
    const name: Lane = options.lane ?? (options.priority ? 'priority' : 'normal');
    const lane = name === 'priority' ? this.#priority : name === 'low' ? this.#low : this.#queue;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ahead =
      this.#priority.length +
      (name === 'priority' ? 0 : this.#queue.length) +
      (name === 'low' ? this.#low.length : 0);
    if (ahead === 0 && (name === 'low' ? this.#fitsLow(weight) : this.#fits(weight)))
      return this.#execute(fn, weight, name);
    const bound =
      name === 'priority' ? this.maxPriorityQueue : name === 'low' ? this.maxLowQueue : this.maxQueue;
    if (lane.length >= bound) {
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
          this.#execute(fn, weight, name).then(resolve, reject);
        },
      };
      lane.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #execute<T>(fn: () => Promise<T> | T, weight: number, lane: Lane): Promise<T> {
    this.#running++;
    this.#load += weight;
    if (lane === 'low') this.#lowLoad += weight;
    this.started[lane] += 1;
    const started = performance.now();
    try {
      return await fn();
    } finally {
      const perUnit = (performance.now() - started) / weight;
      this.#averageMs += EWMA_WEIGHT * (perUnit - this.#averageMs);
      this.#running--;
      this.#load -= weight;
      if (lane === 'low') this.#lowLoad -= weight;
      // Priority lane first, then the normal one, the low lane last; within a lane first in,
      // first out: the head starts when it fits, and nothing overtakes it.
      for (;;) {
        if (this.#priority.length > 0 || this.#queue.length > 0) {
          const next = this.#priority.length > 0 ? this.#priority : this.#queue;
          if (!this.#fits(next[0]!.weight)) break;
          next.shift()!.start();
          continue;
        }
        if (this.#low.length === 0 || !this.#fitsLow(this.#low[0]!.weight)) break;
        this.#low.shift()!.start();
      }
    }
  }
}
