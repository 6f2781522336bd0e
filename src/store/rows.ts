/**
 * Rows of the store's tables to records, shared by the SQLite and PostgreSQL stores (same tables,
 * same columns; the drivers differ only in how booleans and big integers arrive).
 */
import { typesFromColumn } from '../domain/outbound-events.js';
import type {
  ApiKeyRecord,
  DeliveryLogRecord,
  EventAttemptRecord,
  EventDeliveryJob,
  EventDeliveryRecord,
  EventDeliveryStatus,
  EventRecord,
  EventSubscriptionRecord,
  HookRecord,
  IdempotencyReservation,
  JobRecord,
  LinkOpening,
  MappedVisit,
  MeetingLinkRecord,
  MeetingParticipantRecord,
  Org,
  PurgeCounts,
  RecipientRecord,
  SessionRecord,
  ShortLinkRecord,
  SmsMessageRecord,
  SmsOptOutRecord,
  SmsStatus,
  SpaceRecord,
  StoredBrokerKey,
  VisitLinkRecord,
  VisitRecord,
} from './types.js';

export type Row = Record<string, unknown>;

export const num = (v: unknown) => Number(v);
const opt = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
/** SQLite stores booleans as 0/1, PostgreSQL as booleans. */
const flag = (v: unknown) => v === true || v === 1 || v === '1';

export function orgFrom(r: Row): Org {
  return { id: String(r['id']), name: String(r['name']), createdAt: num(r['created_at']) };
}

export function apiKeyFrom(r: Row): ApiKeyRecord {
  const key: ApiKeyRecord = {
    id: String(r['id']),
    orgId: String(r['org_id']),
    name: String(r['name']),
    prefix: String(r['prefix']),
    hash: String(r['hash']),
    createdAt: num(r['created_at']),
  };
  const lastUsedAt = opt(r['last_used_at']);
  const revokedAt = opt(r['revoked_at']);
  if (lastUsedAt !== undefined) key.lastUsedAt = lastUsedAt;
  if (revokedAt !== undefined) key.revokedAt = revokedAt;
  return key;
}

export function brokerKeyFrom(r: Row): StoredBrokerKey {
  const key: StoredBrokerKey = {
    kid: String(r['kid']),
    material: String(r['material']),
    createdAt: num(r['created_at']),
    active: flag(r['active']),
  };
  const retiresAt = opt(r['retires_at']);
  if (retiresAt !== undefined) key.retiresAt = retiresAt;
  return key;
}

export function sessionFrom(r: Row): SessionRecord {
  return {
    hash: String(r['hash']),
    orgId: String(r['org_id']),
    apiKeyId: String(r['api_key_id']),
    csrf: String(r['csrf']),
    createdAt: num(r['created_at']),
    expiresAt: num(r['expires_at']),
  };
}

export function shortLinkFrom(r: Row): ShortLinkRecord {
  return {
    code: String(r['code']),
    orgId: String(r['org_id']),
    cipher: String(r['cipher']),
    role: r['role'] as ShortLinkRecord['role'],
    vertical: r['vertical'] as ShortLinkRecord['vertical'],
    hostLogin: flag(r['host_login']),
    subject: String(r['subject']),
    expiresAt: num(r['expires_at']),
    createdAt: num(r['created_at']),
  };
}

export function spaceFrom(r: Row): SpaceRecord {
  return {
    id: String(r['id']),
    orgId: String(r['org_id']),
    subject: String(r['subject']),
    seq: num(r['seq']),
    createdAt: num(r['created_at']),
  };
}

export function visitFrom(r: Row): VisitRecord {
  const v: VisitRecord = {
    id: String(r['id']),
    orgId: String(r['org_id']),
    subject: String(r['subject']),
    status: r['status'] as VisitRecord['status'],
    expiresAt: num(r['expires_at']),
    vertical: r['vertical'] as VisitRecord['vertical'],
    hostLogin: flag(r['host_login']),
    shortUrls: flag(r['short_urls']),
    devices: JSON.parse(String(r['devices'])) as string[],
    source: r['source'] as VisitRecord['source'],
    createdBy: String(r['created_by']),
    createdAt: num(r['created_at']),
    hosts: num(r['hosts']),
    guests: num(r['guests']),
  };
  for (const [key, column] of [
    ['notBefore', 'not_before'],
    ['startedAt', 'started_at'],
    ['endedAt', 'ended_at'],
    ['cancelledAt', 'cancelled_at'],
    ['firstGuestAt', 'first_guest_at'],
    ['waitingSince', 'waiting_since'],
    ['closedAt', 'closed_at'],
  ] as const) {
    const value = opt(r[column]);
    if (value !== undefined) v[key] = value;
  }
  if (flag(r['gateway'])) v.gateway = true;
  if (r['waits'] !== undefined && r['waits'] !== null) v.waits = num(r['waits']);
  if (typeof r['observed_by'] === 'string') v.observedBy = r['observed_by'];
  if (typeof r['alert_to'] === 'string') v.alertTo = r['alert_to'];
  return v;
}

export function visitLinkFrom(r: Row): VisitLinkRecord {
  const l: VisitLinkRecord = {
    visitId: String(r['visit_id']),
    role: r['role'] as VisitLinkRecord['role'],
    index: num(r['idx']),
    cipher: String(r['cipher']),
    longUrl: String(r['long_url']),
  };
  for (const [key, column] of [
    ['short', 'short'],
    ['shortUrl', 'short_url'],
    ['forcedLoginUrl', 'forced_login_url'],
    ['jti', 'jti'],
    ['gatewayCode', 'gateway_code'],
  ] as const) {
    if (r[column] !== null && r[column] !== undefined) l[key] = String(r[column]);
  }
  for (const [key, column] of [
    ['openedAt', 'opened_at'],
    ['revokedAt', 'revoked_at'],
  ] as const) {
    const value = opt(r[column]);
    if (value !== undefined) l[key] = value;
  }
  return l;
}

/**
 * What an opening of a link finds (both stores), from the locked `lockVisitLink` row: refused, or
 * opened, with the `logged_open_at` to write (`at` when its event is appended now, because no
 * opening was logged within `logEverySeconds`; else the last logged time, kept).
 */
export function linkOpening(
  r: Row | undefined,
  at: number,
  logEverySeconds: number,
): { opening: LinkOpening; loggedAt: number } {
  const refused = (outcome: LinkOpening['outcome']) => ({
    opening: { outcome, first: false, logged: false },
    loggedAt: at,
  });
  if (!r) return refused('missing');
  if (r['status'] === 'cancelled') return refused('cancelled');
  if (opt(r['revoked_at']) !== undefined) return refused('revoked');
  const first = opt(r['opened_at']) === undefined;
  const last = opt(r['logged_open_at']);
  // A clock set back (at < last) logs again rather than never.
  const logged = last === undefined || at >= last + logEverySeconds || at < last;
  return { opening: { outcome: 'opened', first, logged }, loggedAt: logged ? at : (last ?? at) };
}

export function eventFrom(r: Row): EventRecord {
  const e: EventRecord = {
    id: num(r['id']),
    orgId: String(r['org_id']),
    at: num(r['at']),
    actor: String(r['actor']),
    type: String(r['type']),
    data: JSON.parse(String(r['data'])) as Record<string, unknown>,
  };
  if (r['visit_id'] !== null) e.visitId = String(r['visit_id']);
  return e;
}

export function hookFrom(r: Row): HookRecord {
  const h: HookRecord = {
    id: String(r['id']),
    orgId: String(r['org_id']),
    name: String(r['name']),
    secret: String(r['secret']),
    createdAt: num(r['created_at']),
  };
  const revokedAt = opt(r['revoked_at']);
  if (revokedAt !== undefined) h.revokedAt = revokedAt;
  const previousUntil = opt(r['previous_secret_until']);
  if (typeof r['previous_secret'] === 'string' && previousUntil !== undefined) {
    h.previousSecret = r['previous_secret'];
    h.previousSecretUntil = previousUntil;
  }
  return h;
}

/**
 * What an existing idempotency_keys row means for a request with `requestHash` at `at` (both
 * stores): an answer, or `takeover` when it is pending with the same body and its lease ran out
 * (rows from before leases have none: taken over at once). Expiry is the caller's to check first.
 */
export function idempotencyOf(
  r: Row,
  requestHash: string,
  at: number,
): IdempotencyReservation | { status: 'takeover'; visitId: string | undefined } {
  const hash = String(r['request_hash']);
  if (opt(r['completed_at']) !== undefined) {
    return { status: 'done', requestHash: hash, visitId: String(r['visit_id']) };
  }
  const leaseUntil = opt(r['lease_until']) ?? 0;
  if (hash !== requestHash || leaseUntil > at) return { status: 'pending', requestHash: hash, leaseUntil };
  return { status: 'takeover', visitId: typeof r['visit_id'] === 'string' ? r['visit_id'] : undefined };
}

export function jobFrom(r: Row): JobRecord & { status: string } {
  const job: JobRecord & { status: string } = {
    id: num(r['id']),
    type: String(r['type']),
    payload: JSON.parse(String(r['payload'])) as Record<string, unknown>,
    attempts: num(r['attempts']),
    maxAttempts: num(r['max_attempts']),
    runAt: num(r['run_at']),
    status: String(r['status']),
  };
  if (r['last_error'] !== null) job.lastError = String(r['last_error']);
  return job;
}

/** The column that records when a visit entered a status. */
export const STATUS_COLUMN: Partial<Record<VisitRecord['status'], string>> = {
  live: 'started_at',
  ended: 'ended_at',
  cancelled: 'cancelled_at',
};

/** The counts of a purge dry run (PURGE_COUNT_SQL's row; PostgreSQL's COUNT is a bigint string). */
export function purgeCounts(r: Row): PurgeCounts {
  return {
    visits: Number(r['visits']),
    links: Number(r['links']),
    events: Number(r['events']),
    shortLinks: Number(r['short_links']),
    idempotencyKeys: Number(r['idempotency_keys']),
    spaces: Number(r['spaces']),
  };
}

export function eventSubscriptionFrom(r: Row): EventSubscriptionRecord {
  const s: EventSubscriptionRecord = {
    id: String(r['id']),
    orgId: String(r['org_id']),
    url: String(r['url']),
    types: typesFromColumn(String(r['types'])),
    secret: String(r['secret']),
    createdAt: num(r['created_at']),
    consecutiveFailures: num(r['consecutive_failures']),
  };
  if (typeof r['description'] === 'string') s.description = r['description'];
  const previousUntil = opt(r['previous_secret_until']);
  if (typeof r['previous_secret'] === 'string' && previousUntil !== undefined) {
    s.previousSecret = r['previous_secret'];
    s.previousSecretUntil = previousUntil;
  }
  const disabledAt = opt(r['disabled_at']);
  if (disabledAt !== undefined) s.disabledAt = disabledAt;
  if (typeof r['disabled_reason'] === 'string') s.disabledReason = r['disabled_reason'];
  const failingSince = opt(r['failing_since']);
  if (failingSince !== undefined) s.failingSince = failingSince;
  return s;
}

export function eventDeliveryFrom(r: Row): EventDeliveryRecord {
  const d: EventDeliveryRecord = {
    id: num(r['id']),
    subscriptionId: String(r['subscription_id']),
    eventId: num(r['event_id']),
    orgId: String(r['org_id']),
    type: String(r['type']),
    status: String(r['status']) as EventDeliveryStatus,
    attempts: num(r['attempts']),
    nextAt: num(r['next_at']),
    createdAt: num(r['created_at']),
    webhookId: String(r['webhook_id']),
  };
  if (typeof r['visit_id'] === 'string') d.visitId = r['visit_id'];
  const firstAttemptAt = opt(r['first_attempt_at']);
  if (firstAttemptAt !== undefined) d.firstAttemptAt = firstAttemptAt;
  const deliveredAt = opt(r['delivered_at']);
  if (deliveredAt !== undefined) d.deliveredAt = deliveredAt;
  const lastStatus = opt(r['last_status']);
  if (lastStatus !== undefined) d.lastStatus = lastStatus;
  if (typeof r['last_error'] === 'string') d.lastError = r['last_error'];
  return d;
}

export function eventAttemptFrom(r: Row): EventAttemptRecord {
  const a: EventAttemptRecord = { at: num(r['at']), latencyMs: num(r['latency_ms']) };
  const status = opt(r['status']);
  if (status !== undefined) a.status = status;
  if (typeof r['error'] === 'string') a.error = r['error'];
  return a;
}

/** A row of eventDeliveryToSend. */
export function eventDeliveryJobFrom(r: Row): EventDeliveryJob {
  const job: EventDeliveryJob = {
    id: num(r['id']),
    subscriptionId: String(r['subscription_id']),
    webhookId: String(r['webhook_id']),
    attempts: num(r['attempts']),
    url: String(r['url']),
    secret: String(r['secret']),
    event: {
      id: num(r['event_id']),
      orgId: String(r['org_id']),
      at: num(r['at'] ?? 0),
      actor: String(r['actor'] ?? 'system'),
      type: String(r['type']),
      data: typeof r['data'] === 'string' ? (JSON.parse(r['data']) as Record<string, unknown>) : {},
    },
  };
  if (typeof r['visit_id'] === 'string') job.event.visitId = r['visit_id'];
  const firstAttemptAt = opt(r['first_attempt_at']);
  if (firstAttemptAt !== undefined) job.firstAttemptAt = firstAttemptAt;
  const previousUntil = opt(r['previous_secret_until']);
  if (typeof r['previous_secret'] === 'string' && previousUntil !== undefined) {
    job.previousSecret = r['previous_secret'];
    job.previousSecretUntil = previousUntil;
  }
  return job;
}

/** The event a subscription that kept failing leaves when it is disabled (no visit). */
export function disabledEvent(
  orgId: string,
  subscriptionId: string,
  at: number,
  reason: string,
  run: { consecutiveFailures: number; failingSince: number },
): EventRecord {
  return {
    orgId,
    at,
    actor: 'system',
    type: 'subscription.disabled',
    data: {
      subscriptionId,
      reason,
      consecutiveFailures: run.consecutiveFailures,
      failingSince: new Date(run.failingSince * 1000).toISOString(),
    },
  };
}

export function meetingLinkFrom(r: Row): MeetingLinkRecord {
  const link: MeetingLinkRecord = {
    visitId: String(r['visit_id'] ?? r['id']),
    orgId: String(r['org_id']),
    roomId: String(r['room_id']),
    meetingId: String(r['meeting_id']),
    createdAt: num(r['created_at']),
  };
  if (r['meeting_number'] !== null && r['meeting_number'] !== undefined)
    link.meetingNumber = String(r['meeting_number']);
  return link;
}

export function meetingParticipantFrom(r: Row): MeetingParticipantRecord {
  const p: MeetingParticipantRecord = {
    visitId: String(r['visit_id']),
    participantId: String(r['participant_id']),
    role: r['role'] === 'host' ? 'host' : 'guest',
    joinedAt: num(r['joined_at']),
  };
  const leftAt = opt(r['left_at']);
  if (leftAt !== undefined) p.leftAt = leftAt;
  return p;
}

/** A row of a visit joined with its meeting's columns (`mapped_at`: when the meeting was found). */
export function mappedVisitFrom(r: Row): MappedVisit {
  const visit = visitFrom(r);
  return {
    visit,
    meeting: meetingLinkFrom({ ...r, visit_id: visit.id, created_at: r['mapped_at'] }),
  };
}

export function smsOptOutFrom(r: Row): SmsOptOutRecord {
  const optOut: SmsOptOutRecord = {
    phone: String(r['phone']),
    keyword: String(r['keyword']),
    at: num(r['at']),
  };
  if (r['org_id'] !== null && r['org_id'] !== undefined) optOut.orgId = String(r['org_id']);
  return optOut;
}

export function smsMessageFrom(r: Row): SmsMessageRecord {
  const message: SmsMessageRecord = {
    providerId: String(r['provider_id']),
    provider: String(r['provider']),
    phone: String(r['phone']),
    status: String(r['status']) as SmsStatus,
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  };
  if (r['error_code'] !== null && r['error_code'] !== undefined) message.errorCode = String(r['error_code']);
  return message;
}

export function recipientFrom(r: Row): RecipientRecord {
  const rec: RecipientRecord = {
    visitId: String(r['visit_id']),
    role: r['role'] === 'host' ? 'host' : 'guest',
    index: num(r['idx']),
  };
  for (const [key, column] of [
    ['name', 'name'],
    ['email', 'email'],
    ['phone', 'phone'],
    ['language', 'language'],
    ['timeZone', 'time_zone'],
  ] as const) {
    const v = r[column];
    if (typeof v === 'string') rec[key] = v;
  }
  if (r['channel'] === 'email' || r['channel'] === 'sms') rec.channel = r['channel'];
  return rec;
}

export function deliveryLogFrom(r: Row): DeliveryLogRecord {
  const d: DeliveryLogRecord = {
    id: num(r['id']),
    orgId: String(r['org_id']),
    visitId: String(r['visit_id']),
    role: r['role'] === 'host' ? 'host' : 'guest',
    index: num(r['idx']),
    channel: r['channel'] === 'sms' ? 'sms' : 'email',
    address: String(r['address']),
    trigger: String(r['cause']),
    actor: String(r['actor']),
    attempt: num(r['attempt']),
    status:
      r['status'] === 'sent' || r['status'] === 'queued' || r['status'] === 'skipped'
        ? r['status']
        : 'failed',
    at: num(r['at']),
  };
  if (typeof r['provider_id'] === 'string') d.providerId = r['provider_id'];
  if (typeof r['error'] === 'string') d.error = r['error'];
  return d;
}
