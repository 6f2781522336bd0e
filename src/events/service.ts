/**
 * Outbound visit events (issue 15 §4): subscriptions (create with a secret shown once, list, read,
 * unsubscribe, rotate the secret with a grace), deliveries (list with their attempts, replay).
 * The API routes and the CLI both use it; the delivery worker (worker.ts) sends.
 */
import { randomBytes } from 'node:crypto';
import Type from 'typebox';
import { OUTBOUND_EVENT_TYPES, parseTypes } from '../domain/outbound-events.js';
import { isoSeconds, nowSeconds, parseDuration } from '../domain/time.js';
import { ConflictError, type Issue, NotFoundError, ValidationError } from '../errors.js';
import type {
  EventAttemptRecord,
  EventDeliveryRecord,
  EventDeliveryStatus,
  EventSubscriptionRecord,
  Org,
  Store,
} from '../store/types.js';
import { urlProblem } from './sender.js';
import { newSecret } from './signing.js';
import type { AddressPolicy } from './ssrf.js';

const Iso = (description: string) => Type.String({ format: 'date-time', description });
const SUBSCRIPTION_ID_PATTERN = '^sub_[A-Za-z0-9_-]{1,40}$';
export const SubscriptionId = Type.String({
  pattern: SUBSCRIPTION_ID_PATTERN,
  description: 'The subscription id.',
});
const EventType = Type.Enum([...OUTBOUND_EVENT_TYPES]);
const Types = Type.Union([Type.Array(EventType, { minItems: 1 }), Type.Literal('*')], {
  description: 'The event types sent to this subscriber, or `*` for all of them.',
});
const MAX_URL = 2048;
const MAX_DESCRIPTION = 200;
const MAX_GRACE = 30 * 86_400;

export const SubscriptionInput = Type.Object(
  {
    url: Type.String({
      maxLength: MAX_URL,
      description:
        'Where deliveries are POSTed (http or https). Loopback, private, link-local and metadata addresses are refused unless the server sets EVENTS_ALLOW_PRIVATE.',
    }),
    types: Types,
    description: Type.Optional(Type.String({ maxLength: MAX_DESCRIPTION })),
  },
  { additionalProperties: false },
);

export const SubscriptionSchema = Type.Object(
  {
    id: SubscriptionId,
    url: Type.String(),
    types: Types,
    description: Type.Optional(Type.String()),
    createdAt: Iso('When it was made.'),
    active: Type.Boolean({ description: 'False once unsubscribed or disabled.' }),
    disabledAt: Type.Optional(Iso('When it stopped.')),
    disabledReason: Type.Optional(
      Type.String({ description: '`unsubscribed`, or why it was disabled (every attempt failed for long).' }),
    ),
    previousSecretUntil: Type.Optional(Iso('Deliveries are signed with the previous secret too until then.')),
    consecutiveFailures: Type.Integer({ minimum: 0, description: 'Failed attempts in a row.' }),
    failingSince: Type.Optional(Iso('The first of those failures.')),
  },
  { $id: 'EventSubscription' },
);
export type SubscriptionView = Type.Static<typeof SubscriptionSchema>;

export const CreatedSubscriptionSchema = Type.Intersect(
  [
    SubscriptionSchema,
    Type.Object({
      secret: Type.String({
        description:
          'The signing secret (`whsec_…`, Standard Webhooks), shown this once: verify `webhook-signature` with it.',
      }),
    }),
  ],
  { $id: 'CreatedEventSubscription' },
);

export const SubscriptionListSchema = Type.Object(
  { items: Type.Array(SubscriptionSchema) },
  { $id: 'EventSubscriptionList' },
);

export const RotateInput = Type.Object(
  {
    grace: Type.Optional(
      Type.String({
        description:
          'How long the previous secret still signs (`24h` by default, `0` for none, at most 30 days).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const RotatedSchema = Type.Object(
  {
    id: SubscriptionId,
    secret: Type.String({ description: 'The new secret, shown this once.' }),
    previousSecretUntil: Iso('The previous secret signs too until then.'),
  },
  { $id: 'RotatedEventSubscription' },
);

const AttemptSchema = Type.Object({
  at: Iso('When it was made.'),
  status: Type.Optional(Type.Integer({ description: "The receiver's HTTP status, when it answered." })),
  latencyMs: Type.Integer({ minimum: 0 }),
  error: Type.Optional(Type.String()),
});

const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export const DeliverySchema = Type.Object(
  {
    id: Type.Integer({ description: 'The delivery id (replay it by this).' }),
    subscriptionId: SubscriptionId,
    eventId: Type.Integer(),
    visitId: Type.Optional(Type.String()),
    type: Type.String(),
    status: Type.Enum([...DELIVERY_STATUSES]),
    attempts: Type.Integer({ minimum: 0 }),
    nextAttemptAt: Type.Optional(Iso('When a pending delivery is tried next.')),
    createdAt: Iso('When the event happened and the delivery was queued.'),
    deliveredAt: Type.Optional(Iso('When a receiver answered 2xx.')),
    lastStatus: Type.Optional(Type.Integer()),
    lastError: Type.Optional(Type.String()),
    webhookId: Type.String({ description: 'The `webhook-id` header: the same for every retry and replay.' }),
    attemptLog: Type.Array(AttemptSchema),
  },
  { $id: 'EventDelivery' },
);
export type DeliveryView = Type.Static<typeof DeliverySchema>;

export const DeliveryListSchema = Type.Object(
  { items: Type.Array(DeliverySchema) },
  { $id: 'EventDeliveryList' },
);

export const DeliveryListQuery = Type.Object({
  subscription: Type.Optional(SubscriptionId),
  visit: Type.Optional(Type.String({ maxLength: 64 })),
  status: Type.Optional(Type.Enum([...DELIVERY_STATUSES])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});

export interface EventsServiceOptions {
  store: Store;
  /** Where subscribers may be (EVENTS_ALLOW_PRIVATE), shared with the worker. */
  policy: AddressPolicy;
  now?: () => number;
  /** Told when something is queued (a replay), to send it soon. */
  onQueued?: () => void;
}

const newSubscriptionId = () => `sub_${randomBytes(12).toString('base64url')}`;

function subscriptionView(s: EventSubscriptionRecord): SubscriptionView {
  const view: SubscriptionView = {
    id: s.id,
    url: s.url,
    types: s.types as SubscriptionView['types'],
    createdAt: isoSeconds(s.createdAt),
    active: s.disabledAt === undefined,
    consecutiveFailures: s.consecutiveFailures,
  };
  if (s.description !== undefined) view.description = s.description;
  if (s.disabledAt !== undefined) view.disabledAt = isoSeconds(s.disabledAt);
  if (s.disabledReason !== undefined) view.disabledReason = s.disabledReason;
  if (s.previousSecretUntil !== undefined) view.previousSecretUntil = isoSeconds(s.previousSecretUntil);
  if (s.failingSince !== undefined) view.failingSince = isoSeconds(s.failingSince);
  return view;
}

function attemptView(a: EventAttemptRecord) {
  return {
    at: isoSeconds(a.at),
    ...(a.status !== undefined ? { status: a.status } : {}),
    latencyMs: a.latencyMs,
    ...(a.error !== undefined ? { error: a.error } : {}),
  };
}

function deliveryView(d: EventDeliveryRecord & { attemptLog: EventAttemptRecord[] }): DeliveryView {
  return {
    id: d.id,
    subscriptionId: d.subscriptionId,
    eventId: d.eventId,
    ...(d.visitId !== undefined ? { visitId: d.visitId } : {}),
    type: d.type,
    status: d.status,
    attempts: d.attempts,
    ...(d.status === 'pending' ? { nextAttemptAt: isoSeconds(d.nextAt) } : {}),
    createdAt: isoSeconds(d.createdAt),
    ...(d.deliveredAt !== undefined ? { deliveredAt: isoSeconds(d.deliveredAt) } : {}),
    ...(d.lastStatus !== undefined ? { lastStatus: d.lastStatus } : {}),
    ...(d.lastError !== undefined ? { lastError: d.lastError } : {}),
    webhookId: d.webhookId,
    attemptLog: d.attemptLog.map(attemptView),
  };
}

export class EventsService {
  readonly #store: Store;
  readonly #now: () => number;
  readonly policy: AddressPolicy;
  readonly #onQueued: (() => void) | undefined;

  constructor(options: EventsServiceOptions) {
    this.#store = options.store;
    this.#now = options.now ?? nowSeconds;
    this.policy = options.policy;
    this.#onQueued = options.onQueued;
  }

  /** A new subscription and its secret (shown this once). */
  async subscribe(org: Org, input: unknown): Promise<SubscriptionView & { secret: string }> {
    const issues: Issue[] = [];
    const body = (input ?? undefined) as Record<string, unknown> | undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new ValidationError([{ path: '', rule: 'type', message: 'the body must be a JSON object' }]);
    for (const key of Object.keys(body))
      if (!['url', 'types', 'description'].includes(key))
        issues.push({
          path: key,
          rule: 'unknown',
          message: `${key} is not a field (url, types, description)`,
        });
    const url = body['url'];
    if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL)
      issues.push({
        path: 'url',
        rule: 'format',
        message: `url must be an http(s) URL of at most ${MAX_URL} characters`,
      });
    else {
      const problem = urlProblem(url, this.policy);
      if (problem) issues.push({ path: 'url', rule: 'address', message: `url: ${problem}` });
    }
    const types = parseTypes(body['types']);
    if (!types.ok) issues.push({ path: 'types', rule: 'enum', message: types.message });
    const description = body['description'];
    if (
      description !== undefined &&
      (typeof description !== 'string' || description.length > MAX_DESCRIPTION)
    )
      issues.push({
        path: 'description',
        rule: 'length',
        message: `description must be a string of at most ${MAX_DESCRIPTION} characters`,
      });
    if (issues.length > 0 || !types.ok) throw new ValidationError(issues);
    const record: EventSubscriptionRecord = {
      id: newSubscriptionId(),
      orgId: org.id,
      url: url as string,
      types: types.types,
      ...(typeof description === 'string' && description !== '' ? { description } : {}),
      secret: newSecret(),
      createdAt: this.#now(),
      consecutiveFailures: 0,
    };
    await this.#store.createEventSubscription(record);
    return { ...subscriptionView(record), secret: record.secret };
  }

  async list(org: Org): Promise<SubscriptionView[]> {
    return (await this.#store.listEventSubscriptions(org.id)).map(subscriptionView);
  }

  async get(org: Org, id: string): Promise<SubscriptionView> {
    const s = await this.#store.getEventSubscription(org.id, id);
    if (!s) throw new NotFoundError(`No subscription ${id}`);
    return subscriptionView(s);
  }

  /** Stops a subscription: nothing more is sent to it, its pending deliveries fail. */
  async unsubscribe(org: Org, id: string): Promise<SubscriptionView> {
    if (!(await this.#store.deleteEventSubscription(org.id, id, this.#now())))
      throw new NotFoundError(`No active subscription ${id}`);
    return this.get(org, id);
  }

  /** A new secret; the previous one signs too for `grace` (`24h` by default, `0`: none). */
  async rotate(
    org: Org,
    id: string,
    input: unknown,
  ): Promise<{ id: string; secret: string; previousSecretUntil: string }> {
    const body = (input ?? {}) as Record<string, unknown>;
    const issues: Issue[] = [];
    if (typeof body !== 'object' || Array.isArray(body))
      throw new ValidationError([{ path: '', rule: 'type', message: 'the body must be a JSON object' }]);
    for (const key of Object.keys(body))
      if (key !== 'grace')
        issues.push({ path: key, rule: 'unknown', message: `${key} is not a field (grace)` });
    const grace = graceSeconds(body['grace']);
    if (typeof grace === 'string') issues.push({ path: 'grace', rule: 'duration', message: grace });
    if (issues.length > 0 || typeof grace === 'string') throw new ValidationError(issues);
    const secret = newSecret();
    const until = this.#now() + grace;
    if (!(await this.#store.rotateEventSubscriptionSecret(org.id, id, secret, until)))
      throw new NotFoundError(`No active subscription ${id}`);
    return { id, secret, previousSecretUntil: isoSeconds(until) };
  }

  async deliveries(
    org: Org,
    query: { subscription?: string; visit?: string; status?: EventDeliveryStatus; limit?: number },
  ): Promise<DeliveryView[]> {
    const rows = await this.#store.listEventDeliveries(org.id, {
      ...(query.subscription ? { subscriptionId: query.subscription } : {}),
      ...(query.visit ? { visitId: query.visit } : {}),
      ...(query.status ? { status: query.status } : {}),
      limit: query.limit ?? 50,
    });
    return rows.map(deliveryView);
  }

  /** Queues a delivered or failed delivery again, with the same webhook-id (receivers deduplicate). */
  async replay(org: Org, id: number): Promise<DeliveryView> {
    const found = await this.#store.getEventDelivery(org.id, id);
    if (!found) throw new NotFoundError(`No delivery ${id}`);
    if (!(await this.#store.replayEventDelivery(org.id, id, this.#now()))) {
      throw new ConflictError(
        found.status === 'pending'
          ? `Delivery ${id} is still pending: it will be tried again anyway`
          : `Delivery ${id} belongs to a subscription that is no longer active`,
      );
    }
    this.#onQueued?.();
    const [view] = (
      await this.#store.listEventDeliveries(org.id, { subscriptionId: found.subscriptionId, limit: 200 })
    )
      .filter((d) => d.id === id)
      .map(deliveryView);
    return view ?? deliveryView({ ...found, status: 'pending', attemptLog: [] });
  }
}

/** Seconds of grace, or why the value is not one. */
export function graceSeconds(value: unknown): number | string {
  if (value === undefined) return 86_400;
  if (value === '0' || value === 0) return 0;
  if (typeof value !== 'string' && typeof value !== 'number')
    return 'grace must be a duration like 24h, or 0';
  const parsed = parseDuration(typeof value === 'string' ? value.trim() : value);
  if (!parsed.ok) return `grace ${parsed.message}`;
  if (parsed.value > MAX_GRACE) return 'grace must be at most 30 days';
  return parsed.value;
}
