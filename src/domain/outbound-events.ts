/**
 * Outbound visit events (issue 15 §4): the catalogue of event types that subscribers may receive,
 * how a subscription's types are stored so SQL can match them, the payload sent, and the retry
 * schedule. Pure: no I/O.
 */

/** Every event type a subscription may ask for, in the order the docs list them. */
export const OUTBOUND_EVENT_TYPES = [
  'visit.created',
  'visit.cancelled',
  'visit.rescheduled',
  'link.opened',
  'link.delivered',
  'link.delivery_failed',
  'visit.waiting',
  'host.joined',
  'visit.live',
  'visit.ended',
  'visit.no_show',
  'subscription.disabled',
] as const;
type OutboundEventType = (typeof OUTBOUND_EVENT_TYPES)[number];

const OUTBOUND = new Set<string>(OUTBOUND_EVENT_TYPES);

/** True when events of this type (as the event log records it) go out to subscribers. */
export function isOutbound(type: string): boolean {
  return OUTBOUND.has(type);
}

/**
 * A subscription's types as one string SQL matches cheaply on both dialects: `*` for all, else
 * `,a,b,` (each type between commas, matched with `LIKE '%,<type>,%'`).
 */
export function typesColumn(types: readonly string[] | '*'): string {
  return types === '*' ? '*' : `,${[...new Set(types)].join(',')},`;
}

export function typesFromColumn(column: string): string[] | '*' {
  return column === '*' ? '*' : column.split(',').filter(Boolean);
}

/** The LIKE pattern that finds subscriptions of `type` in `typesColumn`'s form. */
export function typePattern(type: string): string {
  return `%,${type},%`;
}

export type TypesCheck = { ok: true; types: OutboundEventType[] | '*' } | { ok: false; message: string };

/** A list of types as a caller gives it (array or comma list); `*` means every type. */
export function parseTypes(input: unknown): TypesCheck {
  const raw =
    typeof input === 'string'
      ? input.split(',')
      : Array.isArray(input) && input.every((t) => typeof t === 'string')
        ? (input as string[])
        : undefined;
  const allowed = `allowed: ${OUTBOUND_EVENT_TYPES.join(', ')} (or * for all)`;
  if (!raw) return { ok: false, message: `types must be a list of event types; ${allowed}` };
  const types = raw.map((t) => t.trim()).filter((t) => t !== '');
  if (types.length === 0)
    return { ok: false, message: `types must name at least one event type; ${allowed}` };
  if (types.includes('*')) {
    return types.length === 1
      ? { ok: true, types: '*' }
      : { ok: false, message: `* stands alone; ${allowed}` };
  }
  const unknown = types.filter((t) => !OUTBOUND.has(t));
  if (unknown.length > 0) {
    const shown = unknown.map((t) => JSON.stringify(t.slice(0, 40))).join(', ');
    return { ok: false, message: `unknown event type ${shown}; ${allowed}` };
  }
  return { ok: true, types: [...new Set(types)] as OutboundEventType[] };
}

/**
 * The body of a delivery, Standard Webhooks' shape: `type`, `timestamp` (when it happened) and
 * `data`. The event's own data is included, but never a visit's subject: subjects often hold a
 * patient's name or record number, and a subscriber looks the visit up by `visitId` with an API
 * key when it needs more.
 */
export function deliveryPayload(event: {
  id: number;
  type: string;
  at: number;
  actor: string;
  visitId?: string;
  data: Record<string, unknown>;
}): { type: string; timestamp: string; data: Record<string, unknown> } {
  const { subject: _subject, ...data } = event.data;
  return {
    type: event.type,
    timestamp: new Date(event.at * 1000).toISOString(),
    data: {
      ...data,
      ...(event.visitId !== undefined ? { visitId: event.visitId } : {}),
      eventId: event.id,
      actor: event.actor,
    },
  };
}

/**
 * Seconds to wait after failed attempt `attempt` (1-based) before the next one, Svix's schedule
 * (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then every 10 h), until `maxAge` after the first attempt.
 */
export const RETRY_SCHEDULE: readonly number[] = [5, 300, 1800, 7200, 18_000, 36_000];

export function retryDelay(attempt: number, schedule: readonly number[] = RETRY_SCHEDULE): number {
  return schedule[Math.min(attempt, schedule.length) - 1] ?? 36_000;
}

/** When a subscription that keeps failing is disabled (both must hold). */
export interface DisableRule {
  /** Failed attempts in a row, without a success between them. */
  failures: number;
  /** Seconds since the first of those failures. */
  seconds: number;
}

export const DEFAULT_DISABLE_RULE: DisableRule = { failures: 20, seconds: 86_400 };

export function shouldDisable(
  state: { consecutiveFailures: number; failingSince: number },
  now: number,
  rule: DisableRule,
): boolean {
  return state.consecutiveFailures >= rule.failures && now - state.failingSince >= rule.seconds;
}
