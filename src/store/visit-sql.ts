/**
 * The visit list's WHERE clause, shared by every SQL backend (placeholders are `?`; the
 * PostgreSQL store numbers them). Time-derived states are conditions on the clock, mirroring
 * domain/visit-state.ts.
 */
import type { VisitState } from '../domain/visit-state.js';
import type { VisitQuery } from './types.js';

const STATE_SQL: Record<VisitState, { sql: string; nows: number }> = {
  scheduled: {
    sql: "status = 'pending' AND not_before IS NOT NULL AND not_before > ? AND expires_at > ?",
    nows: 2,
  },
  open: { sql: "status = 'pending' AND (not_before IS NULL OR not_before <= ?) AND expires_at > ?", nows: 2 },
  live: { sql: "status = 'live' AND expires_at > ?", nows: 1 },
  ended: { sql: "(status = 'ended' OR (status = 'live' AND expires_at <= ?))", nows: 1 },
  expired: { sql: "status = 'pending' AND expires_at <= ?", nows: 1 },
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
