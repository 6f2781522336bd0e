/**
 * The visit list's WHERE clause, shared by every SQL backend (placeholders are `?`; the
 * PostgreSQL store numbers them). Time-derived states are conditions on the clock, mirroring
 * domain/visit-state.ts.
 */
import type { VisitState } from '../domain/visit-state.js';
import type { VisitQuery } from './types.js';

/** A visit whose arrivals are observed, closed with somebody missing (domain `missingAt`). */
const NO_SHOW =
  "observed_by IS NOT NULL AND expires_at <= ? AND (status = 'pending' OR (status = 'live' AND first_guest_at IS NULL))";

const STATE_SQL: Record<VisitState, { sql: string; nows: number }> = {
  scheduled: {
    sql: "status = 'pending' AND not_before IS NOT NULL AND not_before > ? AND expires_at > ?",
    nows: 2,
  },
  open: {
    sql: "status = 'pending' AND waiting_since IS NULL AND (not_before IS NULL OR not_before <= ?) AND expires_at > ?",
    nows: 2,
  },
  waiting: {
    sql: "status = 'pending' AND waiting_since IS NOT NULL AND (not_before IS NULL OR not_before <= ?) AND expires_at > ?",
    nows: 2,
  },
  live: { sql: "status = 'live' AND expires_at > ?", nows: 1 },
  ended: {
    sql: "(status = 'ended' OR (status = 'live' AND expires_at <= ? AND (observed_by IS NULL OR first_guest_at IS NOT NULL)))",
    nows: 1,
  },
  no_show: { sql: NO_SHOW, nows: 1 },
  expired: { sql: "status = 'pending' AND expires_at <= ? AND observed_by IS NULL", nows: 1 },
  cancelled: { sql: "status = 'cancelled'", nows: 0 },
};

export function visitWhere(orgId: string, query: VisitQuery): { sql: string; params: unknown[] } {
  const clauses = ['org_id = ?'];
  const params: unknown[] = [orgId];
  if (query.state) {
    const s = STATE_SQL[query.state];
    clauses.push(`(${s.sql})`);
    for (let i = 0; i < s.nows; i++) params.push(query.now);
  }
  if (query.states) {
    const any = query.states.map((state) => {
      const s = STATE_SQL[state];
      for (let i = 0; i < s.nows; i++) params.push(query.now);
      return `(${s.sql})`;
    });
    clauses.push(any.length > 0 ? `(${any.join(' OR ')})` : '0 = 1');
  }
  if (query.from !== undefined) {
    clauses.push('expires_at > ?');
    params.push(query.from);
  }
  if (query.to !== undefined) {
    clauses.push('COALESCE(not_before, created_at) < ?');
    params.push(query.to);
  }
  if (query.q) {
    clauses.push("LOWER(subject) LIKE ? ESCAPE '\\'");
    params.push(`%${query.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  return { sql: clauses.join(' AND '), params };
}

/** The visit list's ORDER BY (by the start of the window, ties by id). */
export function visitOrder(query: VisitQuery): string {
  const dir = query.order === 'asc' ? 'ASC' : 'DESC';
  return `COALESCE(not_before, created_at) ${dir}, id ${dir}`;
}

/**
 * Visits finished before a bound (two `?`, both the bound): cancelled or ended then, or whose window
 * closed then. A bound not later than now never matches an open, live or scheduled visit.
 */
export const PURGEABLE_SQL =
  "((status IN ('cancelled', 'ended') AND COALESCE(cancelled_at, ended_at, expires_at) < ?) OR (status IN ('pending', 'live') AND expires_at < ?))";

/** The counts of a dry run: one row (`?` twice, the bound), the same on every SQL backend. */
export const PURGE_COUNT_SQL = `WITH p AS (SELECT id, org_id, subject FROM visits WHERE ${PURGEABLE_SQL})
SELECT (SELECT COUNT(*) FROM p) AS visits,
  (SELECT COUNT(*) FROM visit_links WHERE visit_id IN (SELECT id FROM p)) AS links,
  (SELECT COUNT(*) FROM events WHERE visit_id IN (SELECT id FROM p)) AS events,
  (SELECT COUNT(*) FROM short_links WHERE code IN
    (SELECT short FROM visit_links WHERE visit_id IN (SELECT id FROM p) AND short IS NOT NULL)) AS short_links,
  (SELECT COUNT(*) FROM idempotency_keys WHERE visit_id IN (SELECT id FROM p)) AS idempotency_keys,
  (SELECT COUNT(*) FROM spaces s WHERE EXISTS (SELECT 1 FROM p WHERE p.org_id = s.org_id AND p.subject = s.subject)
    AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.org_id = s.org_id AND v.subject = s.subject
      AND v.id NOT IN (SELECT id FROM p))) AS spaces`;
