/**
 * The pruning job: rows that only grow (webhook deliveries and job dedup keys, outbound event
 * deliveries that are done with, expired short
 * links, expired staff sessions, expired Idempotency-Keys) are deleted once at start and then every interval. Deletes go
 * in batches with a yield between them, so a large prune never holds SQLite's write lock (or a
 * PostgreSQL row lock) for long and requests keep being served meanwhile. Several instances may
 * prune at once: each delete is by a condition, so a row goes once, whoever takes it.
 *
 * With a retention for visits (RETENTION_DAYS), finished visits older than it go too, with their
 * links, events, short links, Idempotency-Keys and unused spaces (the `purge` command's work).
 *
 * Each table is one task of a list: another table is one more line in `pruneTasks`.
 */
import { setImmediate as yieldToRequests } from 'node:timers/promises';
import { IDEMPOTENCY_KEY_TTL_SECONDS } from '../domain/constants.js';
import { nowSeconds } from '../domain/time.js';
import type { Store } from '../store/types.js';

const DAY = 24 * 60 * 60;

export interface PruneRetention {
  /** Seconds a webhook delivery (replay guard, job dedup key) is remembered. Default 7 days. */
  deliveriesSeconds?: number;
  /**
   * Seconds a short link is kept after its token expired, so a late click still gets the
   * "expired" page rather than "unknown". Default 30 days.
   */
  shortLinkGraceSeconds?: number;
  /**
   * Seconds a finished visit (ended, expired, cancelled) is kept, counted from when it finished;
   * unset: visits are kept until `purge` removes them.
   */
  visitsSeconds?: number;
}

/** Time between pruning runs when not set. */
export const DEFAULT_PRUNE_INTERVAL_SECONDS = 3600;

export const DEFAULT_RETENTION: Required<Omit<PruneRetention, 'visitsSeconds'>> = {
  deliveriesSeconds: 7 * DAY,
  shortLinkGraceSeconds: 30 * DAY,
};

/**
 * One table's pruning: deletes at most `limit` rows due at `now` and returns how many; a task that
 * returns anything but a number (a store method without a limit) runs once per run.
 */
export interface PruneTask {
  name: string;
  prune(now: number, limit: number): Promise<unknown>;
}

export function pruneTasks(store: Store, retention: PruneRetention = {}): PruneTask[] {
  const keep = { ...DEFAULT_RETENTION, ...retention };
  return [
    { name: 'deliveries', prune: (now, limit) => store.pruneDeliveries(now - keep.deliveriesSeconds, limit) },
    // Outbound event deliveries that are done, with their attempts (a pending one is never pruned).
    {
      name: 'event_deliveries',
      prune: (now, limit) => store.pruneEventDeliveries(now - keep.deliveriesSeconds, limit),
    },
    {
      name: 'short_links',
      prune: (now, limit) => store.pruneShortLinks(now - keep.shortLinkGraceSeconds, limit),
    },
    { name: 'sessions', prune: (now, limit) => store.pruneSessions(now, limit) },
    // Keys count as new 24 h after first use (IDEMPOTENCY_KEY_TTL_SECONDS): after that they only take room.
    {
      name: 'idempotency_keys',
      prune: (now, limit) => store.pruneIdempotencyKeys(now - IDEMPOTENCY_KEY_TTL_SECONDS, limit),
    },
    ...(retention.visitsSeconds !== undefined
      ? [
          {
            name: 'visits',
            prune: async (now: number, limit: number) =>
              (await store.purgeVisits(now - retention.visitsSeconds!, { limit })).visits,
          },
        ]
      : []),
  ];
}

export interface PrunerOptions {
  tasks: PruneTask[];
  /** Seconds between runs (default an hour); 0: only `runOnce()`, no timer. */
  intervalSeconds?: number;
  /** Rows per delete (default 500). */
  batch?: number;
  /** Epoch seconds. */
  now?: () => number;
  /** A task that failed (the database is down): tried again at the next run. */
  onError?: (task: string, error: unknown) => void;
}

export class Pruner {
  readonly #tasks: PruneTask[];
  readonly #intervalMs: number;
  readonly #batch: number;
  readonly #now: () => number;
  readonly #onError: PrunerOptions['onError'];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  /** Set by stop(): a run in progress ends after its current batch. */
  #halt = false;
  /** Rows deleted so far, by task (metrics and tests); `runs`: completed runs. */
  readonly stats: { runs: number; pruned: Record<string, number> } = { runs: 0, pruned: {} };

  constructor(options: PrunerOptions) {
    this.#tasks = options.tasks;
    this.#intervalMs = (options.intervalSeconds ?? DEFAULT_PRUNE_INTERVAL_SECONDS) * 1000;
    this.#batch = options.batch ?? 500;
    this.#now = options.now ?? nowSeconds;
    this.#onError = options.onError;
    for (const task of this.#tasks) this.stats.pruned[task.name] = 0;
  }

  /** Prunes once now, then every interval. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#halt = false;
    this.#tick();
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#running = this.runOnce().finally(() => {
      this.#running = undefined;
      if (!this.#stopped && this.#intervalMs > 0)
        this.#timer = setTimeout(() => this.#tick(), this.#intervalMs).unref();
    });
  }

  /** Runs every task to the end (batch after batch); a failing task does not stop the others. */
  async runOnce(): Promise<void> {
    const now = this.#now();
    for (const task of this.#tasks) {
      try {
        for (;;) {
          if (this.#halt) return; // stopping: the next start finishes the job
          const result = await task.prune(now, this.#batch);
          const n = typeof result === 'number' ? result : 0;
          this.stats.pruned[task.name] = (this.stats.pruned[task.name] ?? 0) + n;
          if (typeof result !== 'number' || n < this.#batch) break;
          await yieldToRequests();
        }
      } catch (err) {
        this.#onError?.(task.name, err);
      }
    }
    this.stats.runs += 1;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#halt = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
