/**
 * Fixed-window rate limits. In memory for one instance; through the store when instances share a
 * PostgreSQL database, so a limit holds across the whole deployment.
 */

import { nowSeconds } from '../domain/time.js';
import { InstantConnectError } from '../errors.js';
import type { Store } from '../store/types.js';

export interface RateDecision {
  allowed: boolean;
  count: number;
  /** Seconds until the window resets. */
  retryAfter: number;
}

export interface RateLimiter {
  /** Counts one hit of `key` and says whether it is within `limit` per `windowSeconds`. */
  hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision>;
  /** Whether `key` is still under `limit`, without counting. */
  peek(key: string, limit: number, windowSeconds: number): Promise<RateDecision>;
  /**
   * Counts one hit now, atomically, like `hit`, and hands back a way to take it back: a budget
   * reserved before expensive work and refunded when the work turns out legitimate. Concurrent
   * callers cannot all pass a check that only reads (see `peek`): at most `limit` are allowed.
   */
  reserve(key: string, limit: number, windowSeconds: number): Promise<RateReservation>;
}

export interface RateReservation extends RateDecision {
  /** Takes the hit back (in the window it was counted in; a no-op once that window is over). */
  refund(): Promise<void>;
}

const windowOf = (now: number, size: number) => Math.floor(now / size) * size;

export class MemoryRateLimiter implements RateLimiter {
  readonly #counts = new Map<string, { start: number; count: number }>();
  #sweepAt = 0;

  constructor(private readonly now: () => number = nowSeconds) {}

  #get(key: string, windowSeconds: number) {
    const now = this.now();
    const start = windowOf(now, windowSeconds);
    if (now >= this.#sweepAt) {
      // Forget finished windows now and then, so memory stays bounded by active keys.
      for (const [k, v] of this.#counts) if (v.start + 3600 < now) this.#counts.delete(k);
      this.#sweepAt = now + 60;
    }
    const id = `${key}|${windowSeconds}`;
    let entry = this.#counts.get(id);
    if (!entry || entry.start !== start) {
      entry = { start, count: 0 };
      this.#counts.set(id, entry);
    }
    return { entry, retryAfter: start + windowSeconds - now };
  }

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const { entry, retryAfter } = this.#get(key, windowSeconds);
    entry.count += 1;
    return { allowed: entry.count <= limit, count: entry.count, retryAfter: Math.max(1, retryAfter) };
  }

  async peek(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const { entry, retryAfter } = this.#get(key, windowSeconds);
    return { allowed: entry.count < limit, count: entry.count, retryAfter: Math.max(1, retryAfter) };
  }

  async reserve(key: string, limit: number, windowSeconds: number): Promise<RateReservation> {
    const { entry, retryAfter } = this.#get(key, windowSeconds);
    entry.count += 1;
    let refunded = false;
    return {
      allowed: entry.count <= limit,
      count: entry.count,
      retryAfter: Math.max(1, retryAfter),
      refund: async () => {
        // The same window's entry only: a hit of a finished window is already forgotten.
        if (refunded) return;
        refunded = true;
        if (this.#counts.get(`${key}|${windowSeconds}`) === entry && entry.count > 0) entry.count -= 1;
      },
    };
  }
}

/** Counters in the store (PostgreSQL), shared by every instance. */
export class StoreRateLimiter implements RateLimiter {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = nowSeconds,
  ) {}

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const now = this.now();
    const start = windowOf(now, windowSeconds);
    const count = await this.store.incrementCounter(
      `${key}|${windowSeconds}|${start}`,
      1,
      start + windowSeconds,
    );
    return { allowed: count <= limit, count, retryAfter: Math.max(1, start + windowSeconds - now) };
  }

  async peek(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const now = this.now();
    const start = windowOf(now, windowSeconds);
    const count = await this.store.incrementCounter(
      `${key}|${windowSeconds}|${start}`,
      0,
      start + windowSeconds,
    );
    return { allowed: count < limit, count, retryAfter: Math.max(1, start + windowSeconds - now) };
  }

  async reserve(key: string, limit: number, windowSeconds: number): Promise<RateReservation> {
    const now = this.now();
    const start = windowOf(now, windowSeconds);
    const id = `${key}|${windowSeconds}|${start}`;
    const count = await this.store.incrementCounter(id, 1, start + windowSeconds);
    let refunded = false;
    return {
      allowed: count <= limit,
      count,
      retryAfter: Math.max(1, start + windowSeconds - now),
      refund: async () => {
        if (refunded) return;
        refunded = true;
        await this.store.incrementCounter(id, -1, start + windowSeconds);
      },
    };
  }
}

export interface RateLimits {
  /** Issuing requests per API key per minute (joseencrypt, visits, hooks). */
  issuePerKey: number;
  /** Issuing requests per client address per minute. */
  issuePerAddress: number;
  /** Public page and space requests per client address per minute (a clinic's NAT holds many patients). */
  publicPerAddress: number;
  /** Token openings that fail, per address per minute (each can cost PBKDF2 work). */
  failedOpensPerAddress: number;
  /**
   * Short-link codes that match no link, per address per minute (default 60): past it, every
   * short link from that address answers 429 until the minute is over, so codes cannot be
   * enumerated. Codes that resolve never spend it.
   */
  shortCodeMissesPerAddress?: number;
  /** Visits the bot makes for one Webex person per HOUR (default DEFAULT_BOT_VISITS_PER_PERSON; 0: off). */
  botVisitsPerPerson?: number;
}

/** BOT_VISITS_PER_PERSON's default: a busy clinician's day, far from a flood. */
export const DEFAULT_BOT_VISITS_PER_PERSON = 20;

export const DEFAULT_RATE_LIMITS: RateLimits = {
  issuePerKey: 600,
  issuePerAddress: 600,
  publicPerAddress: 3000,
  failedOpensPerAddress: 30,
  shortCodeMissesPerAddress: 60,
};

/** Limits from RATE_LIMIT_* variables (per minute), defaults for the rest; 0 turns one off. */
export function rateLimitsFromEnv(env: Readonly<Record<string, string | undefined>>): RateLimits {
  const read = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw))
      throw new InstantConnectError(
        'ERR_VALIDATION',
        `${name} must be a whole number (0 turns the limit off)`,
      );
    return Number(raw);
  };
  return {
    issuePerKey: read('RATE_LIMIT_ISSUE_PER_KEY', DEFAULT_RATE_LIMITS.issuePerKey),
    issuePerAddress: read('RATE_LIMIT_ISSUE_PER_ADDRESS', DEFAULT_RATE_LIMITS.issuePerAddress),
    publicPerAddress: read('RATE_LIMIT_PUBLIC_PER_ADDRESS', DEFAULT_RATE_LIMITS.publicPerAddress),
    failedOpensPerAddress: read(
      'RATE_LIMIT_FAILED_OPENS_PER_ADDRESS',
      DEFAULT_RATE_LIMITS.failedOpensPerAddress,
    ),
    shortCodeMissesPerAddress: read(
      'RATE_LIMIT_SHORT_CODE_MISSES_PER_ADDRESS',
      DEFAULT_RATE_LIMITS.shortCodeMissesPerAddress ?? 60,
    ),
    // Per hour, not per minute: a person makes a few visits a day.
    botVisitsPerPerson: read('BOT_VISITS_PER_PERSON', DEFAULT_BOT_VISITS_PER_PERSON),
  };
}
