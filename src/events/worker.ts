/**
 * The delivery worker: sends the pending deliveries the store queued with each outbound event,
 * at least once, signed as Standard Webhooks says. Deliveries are leased (another instance skips
 * them), one per (subscription, visit) at a time so order holds per visit; a failure is retried on
 * a schedule for up to `maxAgeSeconds` after the first attempt, then the delivery fails; every
 * attempt is recorded; a subscription whose attempts all fail for long is disabled.
 */
import {
  DEFAULT_DISABLE_RULE,
  type DisableRule,
  deliveryPayload,
  RETRY_SCHEDULE,
  retryDelay,
  shouldDisable,
} from '../domain/outbound-events.js';
import { nowSeconds } from '../domain/time.js';
import type { EventDeliveryJob, Store } from '../store/types.js';
import { PollLoop } from '../util/poll-loop.js';
import { postWebhook } from './sender.js';
import { webhookHeaders } from './signing.js';
import type { AddressPolicy } from './ssrf.js';

export interface EventWorkerTiming {
  /** How often due deliveries are looked for (ms). */
  pollMs: number;
  /** One attempt's deadline, redirects included (ms). */
  timeoutMs: number;
  /** Seconds after failed attempt n (1-based) before the next; the last repeats. */
  retrySchedule: readonly number[];
  /** After this long since the first attempt, a delivery that still fails is given up (s). */
  maxAgeSeconds: number;
  disable: DisableRule;
  /** Deliveries sent at once. */
  batch: number;
}

const DEFAULT_EVENT_TIMING: EventWorkerTiming = {
  pollMs: 1000,
  timeoutMs: 10_000,
  retrySchedule: RETRY_SCHEDULE,
  maxAgeSeconds: 86_400,
  disable: DEFAULT_DISABLE_RULE,
  batch: 10,
};

export interface EventWorkerOptions {
  store: Store;
  policy: AddressPolicy;
  timing?: Partial<EventWorkerTiming>;
  now?: () => number;
  /** Told of every failed attempt (never the secret): serve logs it. */
  onFailure?: (info: {
    deliveryId: number;
    subscriptionId: string;
    error: string;
    willRetry: boolean;
  }) => void;
}

export class EventDeliveryWorker {
  readonly #store: Store;
  readonly #policy: AddressPolicy;
  readonly timing: EventWorkerTiming;
  readonly #now: () => number;
  /** Told of every failed attempt (serve logs it); never given the secret or the URL's query. */
  onFailure: EventWorkerOptions['onFailure'];
  readonly #loop: PollLoop;
  readonly stats = { delivered: 0, failedAttempts: 0, disabled: 0 };

  constructor(options: EventWorkerOptions) {
    this.#store = options.store;
    this.#policy = options.policy;
    this.timing = { ...DEFAULT_EVENT_TIMING, ...options.timing };
    this.#now = options.now ?? nowSeconds;
    this.onFailure = options.onFailure;
    this.#loop = new PollLoop(() => this.runDue(), this.timing.pollMs);
  }

  start(): void {
    this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Looks for due deliveries soon (after an event, a replay, or on the poll). */
  kick(): void {
    this.#loop.kick();
  }

  /** Claims and sends due deliveries until none is due; returns how many were attempted. */
  async runDue(): Promise<number> {
    let sent = 0;
    // The lease outlives an attempt, so no other instance takes a delivery while it is in flight.
    const lease = Math.ceil(this.timing.timeoutMs / 1000) + 30;
    while (!this.#loop.stopped) {
      const jobs = await this.#store.claimEventDeliveries(this.#now(), this.timing.batch, lease);
      if (jobs.length === 0) break;
      await Promise.all(jobs.map((job) => this.#attempt(job)));
      sent += jobs.length;
    }
    return sent;
  }

  async #attempt(job: EventDeliveryJob): Promise<void> {
    const now = this.#now();
    const body = JSON.stringify(deliveryPayload(job.event));
    const secrets = [
      job.secret,
      ...(job.previousSecret && (job.previousSecretUntil ?? 0) > now ? [job.previousSecret] : []),
    ];
    const headers = webhookHeaders(job.webhookId, now, body, secrets);
    const started = performance.now();
    let status: number | undefined;
    let error: string | undefined;
    try {
      status = await postWebhook(job.url, headers, body, {
        policy: this.#policy,
        timeoutMs: this.timing.timeoutMs,
      });
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (err) {
      error = (err as Error).message;
    }
    const latencyMs = Math.round(performance.now() - started);
    const at = this.#now();
    const attempt = {
      at,
      latencyMs,
      ...(status !== undefined ? { status } : {}),
      ...(error ? { error } : {}),
    };
    if (!error) {
      await this.#store.recordEventAttempt({
        deliveryId: job.id,
        attempt,
        outcome: 'delivered',
        disableWhen: () => false,
      });
      this.stats.delivered += 1;
      return;
    }
    const retryAt = at + retryDelay(job.attempts + 1, this.timing.retrySchedule);
    const first = job.firstAttemptAt ?? at;
    const willRetry = retryAt - first <= this.timing.maxAgeSeconds;
    this.stats.failedAttempts += 1;
    this.onFailure?.({ deliveryId: job.id, subscriptionId: job.subscriptionId, error, willRetry });
    const { disabled } = await this.#store.recordEventAttempt({
      deliveryId: job.id,
      attempt,
      outcome: willRetry ? 'retry' : 'failed',
      ...(willRetry ? { retryAt } : {}),
      disableWhen: (state) => shouldDisable(state, at, this.timing.disable),
    });
    if (disabled) this.stats.disabled += 1;
  }
}
