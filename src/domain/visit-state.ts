/**
 * A visit's state, derived from what was recorded and the clock, so no job has to flip states
 * at the right second:
 *   scheduled  → its window has not opened yet
 *   open       → links work, no host has joined
 *   live       → a host has joined and the visit has not ended
 *   ended      → a host ended it for all (or it was live when its window closed)
 *   expired    → the window closed without the visit ever going live
 *   cancelled  → staff cancelled it; its links stop working
 */
export const VISIT_STATES = ['scheduled', 'open', 'live', 'ended', 'expired', 'cancelled'] as const;
export type VisitState = (typeof VISIT_STATES)[number];

/** What is stored: the lifecycle facts, not the time-dependent state. */
export type VisitStatus = 'pending' | 'live' | 'ended' | 'cancelled';

export interface VisitTimes {
  status: VisitStatus;
  notBefore?: number;
  expiresAt: number;
}

export function visitState(visit: VisitTimes, now: number): VisitState {
  if (visit.status === 'cancelled') return 'cancelled';
  if (visit.status === 'ended') return 'ended';
  if (now >= visit.expiresAt) return visit.status === 'live' ? 'ended' : 'expired';
  if (visit.status === 'live') return 'live';
  if (visit.notBefore !== undefined && now < visit.notBefore) return 'scheduled';
  return 'open';
}

/** States of a visit not over yet: it can still be cancelled, and the bot lists them as upcoming. */
export const UNFINISHED_STATES = ['scheduled', 'open', 'live'] as const satisfies readonly VisitState[];
export const UNFINISHED: ReadonlySet<VisitState> = new Set(UNFINISHED_STATES);
