/**
 * A visit's state, derived from what was recorded and the clock, so no job has to flip states
 * at the right second:
 *   scheduled  → its window has not opened yet
 *   open       → links work, no host has joined, no guest is waiting
 *   waiting    → links work, a guest is waiting and no host has joined yet
 *   live       → a host has joined and the visit has not ended
 *   ended      → a host ended it for all (or it was live, with a guest, when its window closed)
 *   no_show    → the window closed with no guest, or with no host (visits whose arrivals are observed)
 *   expired    → the window closed without the visit ever going live (arrivals not observed)
 *   cancelled  → staff cancelled it; its links stop working
 *
 * Whether a visit's arrivals are observed (`observedBy`): the live lobby sees local visits; a link
 * gateway or meeting telemetry will see Cisco's. A visit nobody can see arrive cannot be called a
 * no-show: it stays `expired`.
 */
export const VISIT_STATES = [
  'scheduled',
  'open',
  'waiting',
  'live',
  'ended',
  'no_show',
  'expired',
  'cancelled',
] as const;
export type VisitState = (typeof VISIT_STATES)[number];

/** What is stored: the lifecycle facts, not the time-dependent state. */
export type VisitStatus = 'pending' | 'live' | 'ended' | 'cancelled';

/** Who did not come to a no-show. */
export type Missing = ('host' | 'guest')[];

export interface VisitTimes {
  status: VisitStatus;
  notBefore?: number;
  expiresAt: number;
  /** When the first host joined (the visit went live). */
  startedAt?: number;
  /** When the first guest arrived. */
  firstGuestAt?: number;
  /** Since when a guest waits with no host (unset: nobody waits). */
  waitingSince?: number;
  /** What sees this visit's arrivals (`lobby`, later `gateway`, `telemetry`); unset: nothing does. */
  observedBy?: string;
}

/**
 * Who was missing when the window closed: empty while the window is open, for visits whose
 * arrivals nobody observes, and for visits that ended or were cancelled before it closed.
 */
export function missingAt(visit: VisitTimes, now: number): Missing {
  if (visit.observedBy === undefined || now < visit.expiresAt) return [];
  if (visit.status === 'ended' || visit.status === 'cancelled') return [];
  const missing: Missing = [];
  if (visit.status === 'pending') missing.push('host');
  if (visit.firstGuestAt === undefined) missing.push('guest');
  return missing;
}

export function visitState(visit: VisitTimes, now: number): VisitState {
  if (visit.status === 'cancelled') return 'cancelled';
  if (visit.status === 'ended') return 'ended';
  if (now >= visit.expiresAt) {
    if (missingAt(visit, now).length > 0) return 'no_show';
    return visit.status === 'live' ? 'ended' : 'expired';
  }
  if (visit.status === 'live') return 'live';
  if (visit.notBefore !== undefined && now < visit.notBefore) return 'scheduled';
  return visit.waitingSince !== undefined ? 'waiting' : 'open';
}

/** States of a visit not over yet: it can still be cancelled, and the bot lists them as upcoming. */
export const UNFINISHED_STATES = [
  'scheduled',
  'open',
  'waiting',
  'live',
] as const satisfies readonly VisitState[];
export const UNFINISHED: ReadonlySet<VisitState> = new Set(UNFINISHED_STATES);

/** States of a visit that is over: its links work no more. */
export const FINISHED: ReadonlySet<VisitState> = new Set(['ended', 'no_show', 'expired', 'cancelled']);
