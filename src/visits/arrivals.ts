/**
 * Arrivals: the one way a visit learns that a guest or a host came. The live lobby calls it now
 * (`lobby`); a link gateway (`gateway`) and meeting telemetry (`telemetry`) will call it for
 * Cisco's visits. Each arrival is a fact on the visit the states are derived from
 * (domain/visit-state.ts):
 *   - a guest: the first guest's time, and a wait when the visit is open and nobody waits yet
 *     (`visit.waiting`, once per wait; whoever listens, the "patient is waiting" alert, is told);
 *   - a host: the visit goes live (`visit.live`, once), which ends any wait;
 *   - the last waiting guest leaving: the wait ends (a later arrival is a new wait).
 */
import type { Role } from '../domain/constants.js';
import { nowSeconds } from '../domain/time.js';
import type { EventRecord, NewJob, Store, VisitRecord } from '../store/types.js';

/** What saw the arrival. */
export type ArrivalVia = 'lobby' | 'gateway' | 'telemetry';

/**
 * Told when a wait starts: the job to store with it (the alert's message, due later), in the same
 * transaction as the wait, so a crash cannot keep the one without the other.
 */
export interface WaitListener {
  jobFor(visit: VisitRecord): NewJob | undefined;
}

export interface ArrivalOutcome {
  /** The visit after the arrival (undefined: no such visit). */
  visit: VisitRecord | undefined;
  /** A guest's arrival started a wait. */
  waitStarted: boolean;
  /** A host's arrival made the visit live (the first host). */
  wentLive: boolean;
}

export interface ArrivalsOptions {
  store: Store;
  /** Epoch seconds. */
  now?: () => number;
  onWait?: WaitListener;
}

export class Arrivals {
  readonly #store: Store;
  readonly #now: () => number;
  #onWait: WaitListener | undefined;

  constructor(options: ArrivalsOptions) {
    this.#store = options.store;
    this.#now = options.now ?? nowSeconds;
    this.#onWait = options.onWait;
  }

  /** Who hears that a wait started (set by the container once the alert exists). */
  listen(listener: WaitListener): void {
    this.#onWait = listener;
  }

  #event(
    orgId: string,
    visitId: string,
    actor: string,
    type: string,
    data: Record<string, unknown>,
  ): EventRecord {
    return { orgId, visitId, at: this.#now(), actor, type, data };
  }

  /**
   * A guest or a host arrived at a visit, seen by `via`. Safe to call again for the same person
   * (nothing is recorded twice); `data` goes into the events (a participant id, never a secret).
   */
  async record(
    orgId: string,
    visitId: string,
    role: Role,
    via: ArrivalVia,
    data: Record<string, unknown> = {},
  ): Promise<ArrivalOutcome> {
    if (role === 'guest') {
      const result = await this.#store.recordGuestArrival(
        orgId,
        visitId,
        this.#now(),
        this.#event(orgId, visitId, 'guest', 'visit.waiting', { via, ...data }),
        (visit) => this.#onWait?.jobFor(visit),
      );
      if (!result) return { visit: undefined, waitStarted: false, wentLive: false };
      return { visit: result.visit, waitStarted: result.waitStarted, wentLive: false };
    }
    const live = await this.#store.transitionVisit(
      orgId,
      visitId,
      ['pending'],
      'live',
      this.#now(),
      this.#event(orgId, visitId, 'host', 'visit.live', { via, ...data }),
    );
    if (live) return { visit: live, waitStarted: false, wentLive: true };
    return { visit: await this.#store.getVisit(orgId, visitId), waitStarted: false, wentLive: false };
  }

  /** The last waiting guest left: the wait ends. True when one was going on. */
  async guestsGone(orgId: string, visitId: string): Promise<boolean> {
    return (await this.#store.stopWaiting(orgId, visitId)) !== undefined;
  }
}
