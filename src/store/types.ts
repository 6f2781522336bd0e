/**
 * One store interface for every backend (embedded SQLite by default, PostgreSQL to scale out).
 * Methods are async so both backends fit; each method is one transaction.
 */
import type { Role, Vertical } from '../domain/constants.js';
import type { VisitState, VisitStatus } from '../domain/visit-state.js';

export interface Org {
  /** UUID; the `iss` of every token the broker issues for this organisation. */
  id: string;
  name: string;
  createdAt: number;
}

export interface ApiKeyRecord {
  id: string;
  orgId: string;
  name: string;
  /** First characters of the key, to recognise it in a list; never enough to use it. */
  prefix: string;
  /** SHA-256 (hex) of the whole key: keys are 190-bit random strings, so a fast hash is enough. */
  hash: string;
  createdAt: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

export interface StoredBrokerKey {
  kid: string;
  /** JSON-safe serialised key material (see crypto/keys.ts); never logged. */
  material: string;
  createdAt: number;
  /** The key that signs new tokens; older keys only open tokens issued before a rotation. */
  active: boolean;
  /** Set when the key stops issuing: from then on (epoch seconds) it opens nothing. */
  retiresAt?: number;
}

export interface ShortLinkRecord {
  code: string;
  orgId: string;
  cipher: string;
  role: Role;
  vertical: Vertical;
  hostLogin: boolean;
  subject: string;
  /** Epoch seconds of the token's exp. */
  expiresAt: number;
  createdAt: number;
}

export interface SpaceRecord {
  id: string;
  orgId: string;
  subject: string;
  /** Small sequential number per store, shown as `visitId` by the space API. */
  seq: number;
  createdAt: number;
}

export type VisitSource = 'local' | 'commercial' | 'usgov' | 'custom';

export interface VisitRecord {
  id: string;
  orgId: string;
  subject: string;
  status: VisitStatus;
  notBefore?: number;
  expiresAt: number;
  vertical: Vertical;
  hostLogin: boolean;
  shortUrls: boolean;
  devices: string[];
  source: VisitSource;
  /** Who made it: `key:<id>`, `staff:<key id>`, `joseencrypt:<key id>`, `bot:<person>`, … */
  createdBy: string;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  cancelledAt?: number;
  hosts: number;
  guests: number;
  /** Its links are handed out as this service's gateway links (Cisco-brokered visits). */
  gateway?: boolean;
  /** When the first guest arrived (joined the lobby; later: opened a gateway link, joined at Cisco). */
  firstGuestAt?: number;
  /** Since when a guest waits and no host has joined; unset when nobody waits. */
  waitingSince?: number;
  /** Waits started so far (each wait has its own `visit.waiting` event and alert); 0 when absent. */
  waits?: number;
  /** What sees this visit's arrivals: `lobby` (local visits), later `gateway` or `telemetry`. */
  observedBy?: string;
  /** When the closing job found its window closed (set once, across instances). */
  closedAt?: number;
  /** Who hears that a guest is waiting: `email:<address>` or `person:<Webex person id>`. */
  alertTo?: string;
}

export interface VisitLinkRecord {
  visitId: string;
  role: Role;
  index: number;
  cipher: string;
  short?: string;
  shortUrl?: string;
  longUrl: string;
  forcedLoginUrl?: string;
  /** Token id, for tokens of the local broker (how a page finds the visit of a link). */
  jti?: string;
  /** The gateway's code (`PUBLIC_URL/visit/<code>`), for links of a visit with a gateway. */
  gatewayCode?: string;
  /** Epoch seconds: the first time the gateway sent someone on to the broker's URL. */
  openedAt?: number;
  /** Epoch seconds: withdrawn on its own. */
  revokedAt?: number;
}

/** What recording a gateway opening found (see Store.recordLinkOpening). */
export interface LinkOpening {
  /** `opened`: recorded, go on; otherwise nothing was written and the link must not open. */
  outcome: 'opened' | 'cancelled' | 'revoked' | 'missing';
  /** The link's first opening (its `openedAt` was set now). */
  first: boolean;
  /** The event was appended (at most one per link per `logEverySeconds`). */
  logged: boolean;
}

export interface EventRecord {
  id?: number;
  orgId: string;
  visitId?: string;
  at: number;
  /** Who: `key:<id>`, `staff:<key id>`, `host`, `guest`, `system`, … never a secret. */
  actor: string;
  type: string;
  data: Record<string, unknown>;
}

export interface VisitQuery {
  state?: VisitState;
  /** Any of these states (with `state`, both must hold). */
  states?: VisitState[];
  /** By the start of the window: newest first (`desc`, the default) or soonest first. */
  order?: 'asc' | 'desc';
  /** Windows that end after `from` (epoch s). */
  from?: number;
  /** Windows that start before `to` (epoch s). */
  to?: number;
  /** Case-insensitive search in the subject. */
  q?: string;
  limit: number;
  offset: number;
  /** The clock for time-derived states. */
  now: number;
}

export interface SessionRecord {
  /** SHA-256 of the cookie value. */
  hash: string;
  orgId: string;
  apiKeyId: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

/** A webhook trigger's identity: its secret signs requests to POST /hooks/visits. */
export interface HookRecord {
  id: string;
  orgId: string;
  name: string;
  /** The HMAC key itself (a signature check needs it); never logged, shown once. */
  secret: string;
  createdAt: number;
  revokedAt?: number;
  /** The secret before the last rotation, still accepted until `previousSecretUntil` (epoch s). */
  previousSecret?: string;
  previousSecretUntil?: number;
}

/** A subscriber to outbound visit events (issue 15 §4). */
export interface EventSubscriptionRecord {
  /** `sub_…` */
  id: string;
  orgId: string;
  url: string;
  /** `*` (every type) or the event types asked for. */
  types: string[] | '*';
  description?: string;
  /** `whsec_<base64>` (Standard Webhooks): signs every delivery; never logged, shown once. */
  secret: string;
  /** The secret before the last rotation: deliveries carry its signature too until then (epoch s). */
  previousSecret?: string;
  previousSecretUntil?: number;
  createdAt: number;
  disabledAt?: number;
  /** `unsubscribed`, or why it was disabled (it kept failing). */
  disabledReason?: string;
  consecutiveFailures: number;
  failingSince?: number;
}

export type EventDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface EventAttemptRecord {
  at: number;
  /** The receiver's HTTP status; absent when none came (refused, timed out, not allowed). */
  status?: number;
  latencyMs: number;
  error?: string;
}

export interface EventDeliveryRecord {
  id: number;
  subscriptionId: string;
  eventId: number;
  orgId: string;
  visitId?: string;
  type: string;
  status: EventDeliveryStatus;
  attempts: number;
  nextAt: number;
  firstAttemptAt?: number;
  createdAt: number;
  deliveredAt?: number;
  lastStatus?: number;
  lastError?: string;
  /** Standard Webhooks' `webhook-id`: the same for every retry and replay. */
  webhookId: string;
}

/** A claimed delivery with what sending it needs. */
export interface EventDeliveryJob {
  id: number;
  subscriptionId: string;
  webhookId: string;
  attempts: number;
  firstAttemptAt?: number;
  url: string;
  secret: string;
  previousSecret?: string;
  previousSecretUntil?: number;
  event: EventRecord & { id: number };
}

export interface EventDeliveryQuery {
  subscriptionId?: string;
  visitId?: string;
  status?: EventDeliveryStatus;
  limit: number;
}

/** An attempt's outcome, as the worker decided it. */
export interface EventAttemptOutcome {
  deliveryId: number;
  attempt: EventAttemptRecord;
  /** `retry` at `retryAt`; `failed`: given up. */
  outcome: 'delivered' | 'retry' | 'failed';
  retryAt?: number;
  /** Decides, from the subscription's failures in a row and since when, whether to disable it now. */
  disableWhen: (state: { consecutiveFailures: number; failingSince: number }) => boolean;
}

/** What a request claims when it reserves an Idempotency-Key (see Store.reserveIdempotencyKey). */
export interface IdempotencyClaim {
  /** The visit this request makes: kept by a retry that takes the key over, so one key, one visit. */
  visitId: string;
  /** Random per request: only the lease's holder may release the key. */
  owner: string;
  /** The lease ends then (epoch s): afterwards a retry with the same body takes the pending key over. */
  leaseUntil: number;
  /** Keys first used before this (epoch s) have expired: they count as never used. */
  expiredBefore: number;
  /** A replayed request: it may use a key that exists, never reserve a new one (`absent`). */
  existingOnly?: boolean;
}

export type IdempotencyReservation =
  /** Go ahead and make `visitId` (`takenOver`: after an earlier holder's lease ran out). */
  | { status: 'new'; visitId: string; takenOver: boolean }
  /** Only with `existingOnly`: no live key of that name. */
  | { status: 'absent' }
  /** Being served under a lease until `leaseUntil`, or (another request hash) not ours to take. */
  | { status: 'pending'; requestHash: string; leaseUntil: number }
  | { status: 'done'; requestHash: string; visitId: string };

/** A job to store (see Store.enqueueJob). */
export interface NewJob {
  type: string;
  payload: Record<string, unknown>;
  runAt: number;
  maxAttempts: number;
  /** Recorded with the job: a key seen before stores nothing. */
  dedupKey?: string;
}

export interface JobRecord {
  id: number;
  type: string;
  payload: Record<string, unknown>;
  attempts: number;
  maxAttempts: number;
  runAt: number;
  lastError?: string;
}

/** A job to store (Store.enqueueJob), or to store with a change that calls for it. */
export interface NewJob {
  type: string;
  payload: Record<string, unknown>;
  runAt: number;
  maxAttempts: number;
  dedupKey?: string;
}

/** Who a visit's link goes to (personal data: purged with the visit). */
export interface RecipientRecord {
  visitId: string;
  role: 'host' | 'guest';
  index: number;
  name?: string;
  email?: string;
  /** E.164. */
  phone?: string;
  channel?: 'email' | 'sms';
  language?: string;
  timeZone?: string;
}

/** One attempt to send a link to its recipient. */
export interface DeliveryLogRecord {
  id?: number;
  orgId: string;
  visitId: string;
  role: 'host' | 'guest';
  index: number;
  channel: 'email' | 'sms';
  /** The full address (the API shows it; logs mask it). */
  address: string;
  /** What made it: `visit.created`, `visit.cancelled`, … */
  trigger: string;
  /** Who did that: `key:<id>`, `staff:<id>`, `hook:<id>`, … */
  actor: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** `skipped`: a reminder that must not go out (cancelled, over, too late); `error` says why. */
  status: 'queued' | 'sent' | 'failed' | 'skipped';
  providerId?: string;
  error?: string;
  at: number;
}

/** A Cisco visit's Webex space and meeting (found by the space's title, then its meetingInfo). */
export interface MeetingLinkRecord {
  visitId: string;
  orgId: string;
  roomId: string;
  /** The meeting's series id (deliveries name instances, `<series>_I_<n>`). */
  meetingId: string;
  meetingNumber?: string;
  createdAt: number;
}

export interface MeetingParticipantRecord {
  visitId: string;
  /** Webex's participant id. */
  participantId: string;
  role: Role;
  joinedAt: number;
  leftAt?: number;
}

/** A participant of a visit's meeting joined or left (from a delivery or a poll). */
export interface MeetingParticipantChange {
  visitId: string;
  participantId: string;
  role: Role;
  state: 'joined' | 'left';
  at: number;
}

/** An unfinished visit with its meeting, as the telemetry poller works on it. */
export interface MappedVisit {
  visit: VisitRecord;
  meeting: MeetingLinkRecord;
}

/** A number that opted out of SMS (replied STOP or another opt-out keyword). */
export interface SmsOptOutRecord {
  /** E.164. */
  phone: string;
  /** The organisation whose message the reply answered, when known. */
  orgId?: string;
  /** The keyword, upper case (`STOP`, `UNSUBSCRIBE`…). */
  keyword: string;
  at: number;
}

/** Statuses of an SMS as providers report them (Twilio's words). */
export type SmsStatus =
  | 'accepted'
  | 'queued'
  | 'sending'
  | 'sent'
  | 'delivered'
  | 'undelivered'
  | 'failed'
  | 'canceled'
  | 'read';

/** An SMS a provider accepted, and the latest status its callbacks reported. */
export interface SmsMessageRecord {
  providerId: string;
  provider: string;
  phone: string;
  status: SmsStatus;
  /** The provider's error code of an undelivered or failed message (Twilio's `ErrorCode`). */
  errorCode?: string;
  createdAt: number;
  updatedAt: number;
}

/** What `purgeVisits` removed (or, with `dryRun`, would remove). */
export interface PurgeCounts {
  visits: number;
  links: number;
  events: number;
  shortLinks: number;
  idempotencyKeys: number;
  /** Spaces of subjects that no visit uses any more. */
  spaces: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * SQLite's group commit: commits of the hot writes and the writes they carried (writes ≥ commits;
   * the gap is what grouping saved). PostgreSQL groups its WAL flushes itself and has none.
   */
  readonly writeStats?: { readonly commits: number; readonly writes: number };
  /** Applies pending migrations; safe to call from several instances at once. */
  migrate(): Promise<void>;
  /** The schema version applied to the database, and the newest this code knows (migrates nothing). */
  schemaStatus(): Promise<{ applied: number; latest: number }>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;

  getOrg(id: string): Promise<Org | undefined>;
  /** The first organisation, created on first start. */
  getDefaultOrg(): Promise<Org | undefined>;
  createOrg(org: Org): Promise<void>;
  /**
   * The default organisation, made with `make` when there is none: one winner when instances
   * start at once on an empty database (each then uses the same one).
   */
  ensureDefaultOrg(make: () => Org): Promise<{ org: Org; created: boolean }>;

  createApiKey(key: ApiKeyRecord): Promise<void>;
  listApiKeys(orgId: string): Promise<ApiKeyRecord[]>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  /** Records use; only writes when the last record is older than `coarseSeconds` (no write per request). */
  touchApiKey(id: string, at: number, coarseSeconds?: number): Promise<void>;
  /** Returns false when no such key (or already revoked). */
  revokeApiKey(orgId: string, id: string, at: number): Promise<boolean>;

  listBrokerKeys(): Promise<StoredBrokerKey[]>;
  /**
   * Adds a key and, when `active`, makes it the only active one. The keys it replaces retire at
   * the latest `expires_at` of every visit and short link stored so far, and not before
   * `retireNotBefore` (default the new key's `createdAt`), in the same transaction.
   */
  addBrokerKey(key: StoredBrokerKey, options?: { retireNotBefore?: number }): Promise<void>;
  /**
   * A number that changes whenever a key is added, by this or another process; cheap enough to
   * read before every issuing call (SQLite: no table read unless another connection wrote).
   */
  brokerKeysVersion(): Promise<number>;

  /** Inserts all or none; returns the codes that already existed (caller draws new ones). */
  insertShortLinks(links: ShortLinkRecord[]): Promise<string[]>;
  getShortLink(code: string): Promise<ShortLinkRecord | undefined>;

  /** The space of (org, subject), created on first use. Same subject, same space. */
  getOrCreateSpace(
    orgId: string,
    subject: string,
    make: () => { id: string; createdAt: number },
  ): Promise<SpaceRecord>;

  /**
   * A visit, its links and its first event, in one transaction; with its recipients and the jobs
   * its creation calls for (notices), so that a crash cannot keep one without the other.
   */
  createVisit(
    visit: VisitRecord,
    links: VisitLinkRecord[],
    event: EventRecord,
    more?: { recipients?: RecipientRecord[]; jobs?: NewJob[] },
  ): Promise<void>;
  /** A visit's recipients, by role and index. */
  listRecipients(visitId: string): Promise<RecipientRecord[]>;
  /** Records a delivery attempt, with its event (`link.delivered`, …) in the same transaction. */
  recordDelivery(record: DeliveryLogRecord, event?: EventRecord): Promise<number>;
  /** A visit's delivery records, oldest first. */
  listDeliveries(visitId: string): Promise<DeliveryLogRecord[]>;
  /** More links for a visit (and the new counts), with their event. */
  addVisitLinks(orgId: string, visitId: string, links: VisitLinkRecord[], event: EventRecord): Promise<void>;
  getVisit(orgId: string, id: string): Promise<VisitRecord | undefined>;
  /** The newest visit of a subject that is not cancelled. */
  findVisitBySubject(orgId: string, subject: string): Promise<VisitRecord | undefined>;
  listVisits(orgId: string, query: VisitQuery): Promise<{ items: VisitRecord[]; total: number }>;
  getVisitLinks(visitId: string): Promise<VisitLinkRecord[]>;
  findVisitLinkByJti(jti: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined>;
  /** The link with this gateway code, and its visit. */
  findGatewayLink(code: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined>;
  /**
   * One opening of a link, atomically with its visit's status: refused (nothing written) when the
   * visit is cancelled or the link withdrawn; else `openedAt` is set the first time, and `event` is
   * appended when no opening of this link was logged in the last `logEverySeconds` (so a loop that
   * opens a link over and over writes at most one event per link per interval). A cancel or a
   * withdrawal that runs at the same time comes entirely before or after it.
   */
  recordLinkOpening(
    visitId: string,
    role: VisitLinkRecord['role'],
    index: number,
    at: number,
    options: { logEverySeconds: number; event: EventRecord },
  ): Promise<LinkOpening>;
  /** Withdraws one link with its event; undefined when no such link or already withdrawn. */
  revokeVisitLink(
    visitId: string,
    role: VisitLinkRecord['role'],
    index: number,
    at: number,
    event: EventRecord,
  ): Promise<VisitLinkRecord | undefined>;
  /**
   * Moves a visit from one of `from` to `to` with its event, atomically; undefined when the visit
   * is missing or not in one of `from` (so two cancels, or cancel and start, cannot both win).
   */
  transitionVisit(
    orgId: string,
    id: string,
    from: VisitStatus[],
    to: VisitStatus,
    at: number,
    event: EventRecord,
    /** Stored with the change only when it happens (the cancel's notices). */
    jobs?: NewJob[],
  ): Promise<VisitRecord | undefined>;
  /**
   * A guest arrived: records the first guest's time, and starts a wait (`waitingSince`, `waits` + 1,
   * with `event`) when the visit is pending inside its window and nobody waits yet, in one
   * transaction. Undefined when there is no such visit.
   */
  recordGuestArrival(
    orgId: string,
    id: string,
    at: number,
    event: EventRecord,
    /** A job to store with a wait that starts (its alert), given the visit as the wait made it. */
    jobOf?: (visit: VisitRecord) => NewJob | undefined,
  ): Promise<{ visit: VisitRecord; waitStarted: boolean } | undefined>;
  /** Nobody waits any more (the last waiting guest left): the visit when a wait ended, else undefined. */
  stopWaiting(orgId: string, id: string): Promise<VisitRecord | undefined>;
  /**
   * Closes at most `limit` visits whose window closed by `now` and that were not closed before
   * (`closedAt` = now, once however many instances run this), each with the event `eventOf` gives
   * (none when undefined) in the same transaction. Returns the visits it closed.
   */
  closeVisits(
    now: number,
    limit: number,
    eventOf: (visit: VisitRecord) => EventRecord | undefined,
  ): Promise<VisitRecord[]>;
  appendEvent(event: EventRecord): Promise<void>;
  listEvents(orgId: string, visitId: string): Promise<EventRecord[]>;

  // —— outbound events: every method above that writes an event also queues, in its transaction,
  // one pending delivery per active subscription asking for its type (outbound types only) ——
  createEventSubscription(sub: EventSubscriptionRecord): Promise<void>;
  getEventSubscription(orgId: string, id: string): Promise<EventSubscriptionRecord | undefined>;
  listEventSubscriptions(orgId: string): Promise<EventSubscriptionRecord[]>;
  /** Stops a subscription (`unsubscribed`); its pending deliveries fail with that reason. False when none active. */
  deleteEventSubscription(orgId: string, id: string, at: number): Promise<boolean>;
  /** A new secret; the current one still signs until `previousUntil`. False when no such active subscription. */
  rotateEventSubscriptionSecret(
    orgId: string,
    id: string,
    secret: string,
    previousUntil: number,
  ): Promise<boolean>;
  /**
   * Leases up to `limit` due deliveries for `leaseSeconds` (another worker skips them): pending, due,
   * of an active subscription, and with no earlier pending delivery of the same subscription and
   * visit (order per visit). A crashed worker's deliveries come back when the lease ends.
   */
  claimEventDeliveries(now: number, limit: number, leaseSeconds: number): Promise<EventDeliveryJob[]>;
  /**
   * Records an attempt and its outcome, and the subscription's run of failures (reset by a success);
   * when `disableWhen` says so, disables it, fails its pending deliveries and records a
   * `subscription.disabled` event, all in one transaction. True when it was disabled now.
   */
  recordEventAttempt(outcome: EventAttemptOutcome): Promise<{ disabled: boolean }>;
  /** Newest first, each with its attempts (oldest first). */
  listEventDeliveries(
    orgId: string,
    query: EventDeliveryQuery,
  ): Promise<(EventDeliveryRecord & { attemptLog: EventAttemptRecord[] })[]>;
  getEventDelivery(orgId: string, id: number): Promise<EventDeliveryRecord | undefined>;
  /** Queues a delivered or failed delivery again, due at `at`, with the same webhook-id. False otherwise. */
  replayEventDelivery(orgId: string, id: number, at: number): Promise<boolean>;

  createSession(session: SessionRecord): Promise<void>;
  getSession(hash: string): Promise<SessionRecord | undefined>;
  deleteSession(hash: string): Promise<void>;

  createHook(hook: HookRecord): Promise<void>;
  getHook(id: string): Promise<HookRecord | undefined>;
  listHooks(orgId: string): Promise<HookRecord[]>;
  revokeHook(orgId: string, id: string, at: number): Promise<boolean>;
  /**
   * A new secret for an active hook; the current one becomes `previousSecret`, accepted until
   * `previousUntil` (a time not after now: no grace). False when no such active hook.
   */
  rotateHookSecret(orgId: string, id: string, secret: string, previousUntil: number): Promise<boolean>;

  /**
   * Claims an Idempotency-Key for a request, as Stripe does: `new` (go ahead and make the claimed
   * visit, or the visit of a holder whose lease ran out), `pending` (being served under a lease),
   * `done` (answer with that visit again) or, for `existingOnly`, `absent`. One winner, however
   * many race. A key first used before `claim.expiredBefore` counts as new.
   */
  reserveIdempotencyKey(
    orgId: string,
    key: string,
    requestHash: string,
    at: number,
    claim: IdempotencyClaim,
  ): Promise<IdempotencyReservation>;
  /** Marks the key done with its visit (whichever holder made it: they all make the same visit). */
  completeIdempotencyKey(orgId: string, key: string, visitId: string, at: number): Promise<void>;
  /** Frees a pending key whose request failed, so a retry can try again; only its lease's `owner`. */
  releaseIdempotencyKey(orgId: string, key: string, owner: string): Promise<void>;
  /** Forgets keys first used before `before` (they have expired); returns how many. */
  pruneIdempotencyKeys(before: number, limit?: number): Promise<number>;

  /** Records a delivery (webhook id, signature…) once: true the first time, false for a repeat. */
  markDelivery(key: string, at: number): Promise<boolean>;
  /**
   * Forgets deliveries (and job dedup keys) recorded before `before` (replay windows are short);
   * at most `limit` of them when given (the pruning job deletes in batches). Returns how many.
   */
  pruneDeliveries(before: number, limit?: number): Promise<number>;
  /** Deletes short links whose token expired before `before` (at most `limit`); returns how many. */
  pruneShortLinks(before: number, limit?: number): Promise<number>;
  /** Deletes staff sessions that expired at or before `now` (at most `limit`); returns how many. */
  pruneSessions(now: number, limit?: number): Promise<number>;
  /**
   * Deletes outbound deliveries that are done (delivered or failed) and were queued before `before`,
   * with their attempts, oldest first (at most `limit` deliveries); never a pending one. Returns how
   * many deliveries went.
   */
  pruneEventDeliveries(before: number, limit?: number): Promise<number>;
  /**
   * Deletes visits that finished before `before` (cancelled or ended then, or whose window closed
   * then: never an open, live or scheduled one; a bound later than now counts as now), with their
   * links, events, short links and Idempotency-Keys, and the spaces of subjects no visit uses any
   * more: at most `limit` visits per call, each call one transaction. `dryRun`: counts all that
   * would go and deletes nothing.
   */
  purgeVisits(before: number, options?: { limit?: number; dryRun?: boolean }): Promise<PurgeCounts>;

  /**
   * Stores a job. With `dedupKey`, the key is recorded in the same transaction, and a key seen
   * before stores nothing and returns undefined (a Webex retry, a job run twice).
   */
  enqueueJob(job: NewJob): Promise<number | undefined>;
  /** Takes up to `limit` due jobs for `leaseSeconds`; a crashed worker's jobs come back when the lease ends. */
  claimJobs(now: number, limit: number, leaseSeconds: number): Promise<JobRecord[]>;
  completeJob(id: number, at: number): Promise<void>;
  /** Records a failed attempt: retried at `retryAt`, or given up when undefined. */
  failJob(id: number, error: string, retryAt: number | undefined, at: number): Promise<void>;
  getJob(id: number): Promise<(JobRecord & { status: string }) | undefined>;

  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;

  /**
   * Adds `by` to a counter (creating it) and returns its value; expired counters are swept.
   * Rate limits use it when instances share the database.
   */
  incrementCounter(key: string, by: number, expiresAt: number): Promise<number>;
  /**
   * Keeps a visit's space and meeting; a visit already mapped keeps its first mapping. A visit
   * nothing observed is observed by `telemetry` from then on (its no-show can be told).
   */
  saveMeetingLink(link: MeetingLinkRecord): Promise<void>;
  getMeetingLink(visitId: string): Promise<MeetingLinkRecord | undefined>;
  /** The visits of a meeting series, newest first (a space is reused by every visit of its subject). */
  findMeetingLinks(meetingId: string): Promise<MeetingLinkRecord[]>;
  /**
   * Unfinished visits (pending or live) of these sources whose window is open at `now`, oldest end
   * first, at most `limit`: `unmapped` those without a meeting yet, otherwise those with one.
   */
  unmappedMeetingVisits(sources: VisitSource[], now: number, limit: number): Promise<VisitRecord[]>;
  mappedMeetingVisits(sources: VisitSource[], now: number, limit: number): Promise<MappedVisit[]>;
  /**
   * Records that a participant of a visit's meeting joined or left, with `event`, in one
   * transaction; a repeat (the same delivery again, a poll that sees the same people) records
   * nothing and returns false.
   */
  recordMeetingParticipant(change: MeetingParticipantChange, event: EventRecord): Promise<boolean>;
  listMeetingParticipants(visitId: string): Promise<MeetingParticipantRecord[]>;
  /** The recorded link with exactly this cipher (a cheap, indexed look-up before any PBKDF2). */
  findVisitLinkByCipher(cipher: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined>;

  /** Records that a number opted out of SMS (a repeat keeps the latest keyword and time). */
  recordSmsOptOut(optOut: SmsOptOutRecord): Promise<void>;
  /** The number may be sent SMS again (it replied START); false when it had not opted out. */
  removeSmsOptOut(phone: string): Promise<boolean>;
  getSmsOptOut(phone: string): Promise<SmsOptOutRecord | undefined>;
  /** Records an SMS a provider accepted; the same provider id again records nothing. */
  saveSmsMessage(message: SmsMessageRecord): Promise<void>;
  /**
   * Moves an SMS to a status its provider reported, unless it already reached a later one
   * (`rank`: callbacks arrive out of order). Answers the message as stored after, or undefined
   * for an id nothing recorded.
   */
  updateSmsStatus(update: {
    providerId: string;
    status: SmsStatus;
    rank: number;
    errorCode?: string;
    at: number;
  }): Promise<SmsMessageRecord | undefined>;
  getSmsMessage(providerId: string): Promise<SmsMessageRecord | undefined>;
}
