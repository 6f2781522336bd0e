/**
 * Work that must survive a crash (bot replies, link deliveries) is a job in the store before
 * anyone is told "accepted". Workers lease due jobs, so a worker that dies mid-job hands it back
 * when the lease runs out; failures retry with exponential backoff, honouring Retry-After.
 */
import { nowSeconds } from '../domain/time.js';
import { HttpError } from '../errors.js';
import type { JobRecord, Store } from '../store/types.js';
import { PollLoop } from '../util/poll-loop.js';

export type JobHandler = (payload: Record<string, unknown>, job: JobRecord) => Promise<void>;

/** A failure that will not get better by trying again (bad input, unknown person…). */
export class PermanentJobError extends Error {}

export interface JobRunnerOptions {
  store: Store;
  handlers: Record<string, JobHandler>;
  /** Epoch seconds. */
  now?: () => number;
  pollMs?: number;
  leaseSeconds?: number;
  /** Seconds before retry `attempt` (1-based). */
  backoff?: (attempt: number) => number;
  onError?: (job: JobRecord, error: unknown, willRetry: boolean) => void;
}

/** How often due jobs are looked for (ms) and how long a claimed job is held (s), when not set. */
export const DEFAULT_JOB_TIMING = { pollMs: 1000, leaseSeconds: 120 } as const;

const DEFAULT_BACKOFF = (attempt: number) => Math.min(3600, 2 ** attempt * 2);

export class JobRunner {
  readonly #store: Store;
  readonly #handlers: Record<string, JobHandler>;
  readonly #now: () => number;
  readonly #pollMs: number;
  /** How often due jobs are looked for, and how long a claimed job is held (for serve's start lines). */
  readonly settings: { pollMs: number; leaseSeconds: number };
  readonly #lease: number;
  readonly #backoff: (attempt: number) => number;
  readonly #onError: JobRunnerOptions['onError'];
  readonly #loop: PollLoop;
  /** Counters for metrics and tests. */
  readonly stats = { done: 0, retried: 0, failed: 0 };

  constructor(options: JobRunnerOptions) {
    this.#store = options.store;
    this.#handlers = options.handlers;
    this.#now = options.now ?? nowSeconds;
    this.#pollMs = options.pollMs ?? DEFAULT_JOB_TIMING.pollMs;
    this.#lease = options.leaseSeconds ?? DEFAULT_JOB_TIMING.leaseSeconds;
    this.settings = { pollMs: this.#pollMs, leaseSeconds: this.#lease };
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#onError = options.onError;
    this.#loop = new PollLoop(() => this.runDue(), this.#pollMs);
  }

  /** Stores a job and runs it soon; with `dedupKey`, a key seen before stores nothing (undefined). */
  async enqueue(
    type: string,
    payload: Record<string, unknown>,
    options: { maxAttempts?: number; delay?: number; dedupKey?: string } = {},
  ): Promise<number | undefined> {
    const id = await this.#store.enqueueJob({
      type,
      payload,
      runAt: this.#now() + (options.delay ?? 0),
      maxAttempts: options.maxAttempts ?? 8,
      ...(options.dedupKey !== undefined ? { dedupKey: options.dedupKey } : {}),
    });
    if (id !== undefined) this.kick();
    return id;
  }

  start(): void {
    this.#loop.start();
  }

  /** Runs due jobs soon (after an enqueue, or on the poll). */
  kick(): void {
    this.#loop.kick();
  }

  /** Claims and runs every due job once. */
  async runDue(): Promise<number> {
    let ran = 0;
    for (;;) {
      const jobs = await this.#store.claimJobs(this.#now(), 10, this.#lease);
      if (jobs.length === 0) return ran;
      for (const job of jobs) {
        ran += 1;
        await this.#run(job);
      }
    }
  }

  async #run(job: JobRecord): Promise<void> {
    const handler = this.#handlers[job.type];
    try {
      if (!handler) throw new PermanentJobError(`no handler for job type ${job.type}`);
      await handler(job.payload, job);
      await this.#store.completeJob(job.id, this.#now());
      this.stats.done += 1;
    } catch (err) {
      const attempt = job.attempts + 1;
      // A 4xx other than 429 (unknown person, bad request) will not pass by waiting.
      const refused = err instanceof HttpError && err.status >= 400 && err.status < 500 && err.status !== 429;
      const permanent = err instanceof PermanentJobError || refused || attempt >= job.maxAttempts;
      const retryAfter =
        err instanceof HttpError && err.retryAfter !== undefined ? err.retryAfter : undefined;
      const retryAt = permanent ? undefined : this.#now() + Math.max(retryAfter ?? 0, this.#backoff(attempt));
      await this.#store.failJob(job.id, (err as Error).message ?? String(err), retryAt, this.#now());
      if (permanent) this.stats.failed += 1;
      else this.stats.retried += 1;
      this.#onError?.(job, err, !permanent);
    }
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
  }
}
