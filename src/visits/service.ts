/**
 * Visits: what clinics and agencies manage. Each visit has a subject, a window, links, a state
 * and an append-only event log. Links come from a LinkSource (local broker or Cisco's).
 */
import { randomBytes } from 'node:crypto';
import Type from 'typebox';
import type { IssueResult } from '../broker/service.js';
import type { LinkResult } from '../client/instant-connect.js';
import type { Role } from '../domain/constants.js';
import { DEFAULTS } from '../domain/constants.js';
import { inviteSequence } from '../domain/invite.js';
import { type Link, LinkSchema, normaliseResponse, RoleField } from '../domain/links.js';
import { CHANNELS, channelOf } from '../domain/recipients.js';
import { SipUri, Subject, VerticalField } from '../domain/schema.js';
import { GATEWAY_CODE_LENGTH, generateShortCode } from '../domain/short-code.js';
import { isoSeconds, nowSeconds } from '../domain/time.js';
import { uaFamily } from '../domain/user-agent.js';
import { schemaIssues } from '../domain/validate.js';
import {
  AddLinksInput,
  listWindow,
  renameIssue,
  toLinkRequest,
  VISIT_FIELD_NAMES,
  type VisitInput,
  visitRecipients,
} from '../domain/visit-input.js';
import { FINISHED, missingAt, VISIT_STATES, visitState } from '../domain/visit-state.js';
import { NotFoundError, ValidationError, VisitConflictError } from '../errors.js';
import type {
  DeliveryLogRecord,
  EventRecord,
  Org,
  RecipientRecord,
  Store,
  VisitLinkRecord,
  VisitQuery,
  VisitRecord,
} from '../store/types.js';
import { alertTarget } from './alerts.js';
import { type ArrivalOutcome, Arrivals, type ArrivalVia } from './arrivals.js';
import type { LinkSource } from './link-source.js';
import type { NoticePlanner } from './notices.js';

const IsoInstant = (description: string) => Type.String({ format: 'date-time', description });

/** A visit's id: `vis_` and up to 32 base64url characters. */
const VISIT_ID_PATTERN = '^vis_[A-Za-z0-9_-]{1,32}$';
export const VisitId = Type.String({ pattern: VISIT_ID_PATTERN, description: 'The visit id.' });
const VISIT_ID = new RegExp(VISIT_ID_PATTERN);

/** A link of a visit: every URL form, and what happened to it. */
const VisitLinkSchema = Type.Object(
  {
    ...LinkSchema.properties,
    gatewayUrl: Type.Optional(
      Type.String({
        format: 'uri',
        description:
          "Visits with a gateway: the link to hand out, on this service's origin (`PUBLIC_URL/visit/<code>`). It redirects to the broker's URL while the visit is open, and stops at once when the visit is cancelled or the link withdrawn.",
      }),
    ),
    openedAt: Type.Optional(
      IsoInstant('Gateway links: when the gateway first sent someone on to the broker with it.'),
    ),
    revokedAt: Type.Optional(IsoInstant('When this link was withdrawn on its own.')),
  },
  { $id: 'VisitLink' },
);
export type VisitLink = Type.Static<typeof VisitLinkSchema>;

/** The URL to give a person: the gateway's, else the short one, else the long one. */
export const handedUrl = (l: { gatewayUrl?: string; shortUrl?: string; longUrl: string }): string =>
  l.gatewayUrl ?? l.shortUrl ?? l.longUrl;

/** Who a link goes to. */
const RecipientViewSchema = Type.Object(
  {
    role: RoleField,
    index: Type.Integer({ minimum: 0 }),
    name: Type.Optional(Type.String()),
    email: Type.Optional(Type.String()),
    phone: Type.Optional(Type.String({ description: 'E.164.' })),
    channel: Type.Optional(Type.Enum([...CHANNELS])),
    language: Type.Optional(Type.String()),
    timeZone: Type.Optional(Type.String()),
  },
  { $id: 'Recipient' },
);

/** One attempt to send a link to its recipient (GET /api/visits/{id}/deliveries). */
const DeliverySchema = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    role: RoleField,
    index: Type.Integer({ minimum: 0 }),
    channel: Type.Enum([...CHANNELS]),
    to: Type.String({ description: 'The address it was sent to (email, or E.164 phone).' }),
    trigger: Type.String({
      description: 'What made it: `visit.created`, `visit.cancelled`, `visit.reminder`, `resend`.',
    }),
    actor: Type.String({ description: 'Who did that: `key:<id>`, `staff:<key id>`, `hook:<id>`, …' }),
    attempt: Type.Integer({ minimum: 1 }),
    status: Type.Enum(['queued', 'sent', 'failed', 'skipped'], {
      description:
        '`sent`: the provider took it for delivery; `queued`: accepted, not yet sent; `failed`: see `error`; `skipped`: a reminder not sent (the visit was cancelled or is over, or its moment passed: a reminder is never sent late), `error` says why.',
    }),
    providerId: Type.Optional(Type.String({ description: "The provider's id (SMTP Message-ID)." })),
    error: Type.Optional(Type.String()),
    at: Type.String({ format: 'date-time' }),
  },
  { $id: 'LinkDelivery' },
);

/** GET /api/visits/{id}/deliveries. */
export const LinkDeliveryListSchema = Type.Object(
  { items: Type.Array(DeliverySchema) },
  { $id: 'LinkDeliveryList' },
);
export type LinkDeliveryList = Type.Static<typeof LinkDeliveryListSchema>;

/** POST /api/visits/{id}/links/{role}/{index}/resend: optional body. */
export const ResendInputSchema = Type.Object(
  {
    channel: Type.Optional(
      Type.Enum([...CHANNELS], { description: "The channel to send on (default the recipient's own)." }),
    ),
  },
  { $id: 'ResendInput', additionalProperties: false },
);

/** What a resend queued (its attempts appear in the delivery records, trigger `resend`). */
export const QueuedResendSchema = Type.Object(
  {
    visitId: Type.String(),
    role: RoleField,
    index: Type.Integer({ minimum: 0 }),
    channel: Type.Enum([...CHANNELS]),
    to: Type.String({ description: 'The address it goes to (email, or E.164 phone).' }),
    trigger: Type.Literal('resend'),
    actor: Type.String({ description: 'Who asked: `key:<id>`, `staff:<key id>`.' }),
    status: Type.Literal('queued'),
  },
  { $id: 'QueuedResend' },
);
export type QueuedResend = Type.Static<typeof QueuedResendSchema>;

function deliveryView(d: DeliveryLogRecord): LinkDeliveryList['items'][number] {
  return {
    id: d.id ?? 0,
    role: d.role,
    index: d.index,
    channel: d.channel,
    to: d.address,
    trigger: d.trigger,
    actor: d.actor,
    attempt: d.attempt,
    status: d.status,
    ...(d.providerId ? { providerId: d.providerId } : {}),
    ...(d.error ? { error: d.error } : {}),
    at: isoSeconds(d.at),
  };
}

/** A visit as the API, the trigger and the bot show it. */
export const VisitViewSchema = Type.Object(
  {
    id: VisitId,
    subject: Subject,
    state: Type.Enum([...VISIT_STATES], {
      description:
        'Derived from the clock and what happened: scheduled, open, waiting (a guest waits, no host yet), live, ended, no_show (the window closed with no guest or no host: see `missing`), expired (the window closed and the service cannot see who came: Cisco visits), cancelled.',
    }),
    missing: Type.Optional(
      Type.Array(Type.Enum(['host', 'guest']), {
        description: 'With `no_show`: who did not come.',
      }),
    ),
    waitingSince: Type.Optional(IsoInstant('With `waiting`: since when a guest waits.')),
    firstGuestAt: Type.Optional(IsoInstant('When the first guest arrived.')),
    start: IsoInstant('When links open (the creation time when they opened at once).'),
    end: IsoInstant('When links stop working.'),
    notBefore: Type.Optional(
      Type.Integer({ minimum: 0, description: '`start` in epoch seconds, when set.' }),
    ),
    expiresAt: Type.Integer({ minimum: 0, description: '`end` in epoch seconds.' }),
    vertical: VerticalField,
    hostLogin: Type.Boolean({ description: 'Host links ask for a Webex login.' }),
    shortUrls: Type.Boolean(),
    devices: Type.Array(SipUri, { description: 'Room devices dialled when the first host joins.' }),
    source: Type.Enum(['local', 'commercial', 'usgov', 'custom'], {
      description: "Where the links came from: this broker (`local`), Cisco's brokers or another URL.",
    }),
    createdBy: Type.String({
      description: 'Who made it: `key:<id>`, `staff:<key id>`, `hook:<id>`, `bot:<person>`, …',
    }),
    createdAt: IsoInstant('When the visit was made.'),
    startedAt: Type.Optional(IsoInstant('When the first host joined.')),
    endedAt: Type.Optional(IsoInstant('When a host ended it.')),
    cancelledAt: Type.Optional(IsoInstant('When it was cancelled.')),
    gateway: Type.Boolean({
      description:
        "Its links are handed out through this service's gateway (`gatewayUrl` of each link): Cisco-brokered visits when `PUBLIC_URL` is set, unless made with `gateway: false`.",
    }),
    counts: Type.Object({ hosts: Type.Integer({ minimum: 0 }), guests: Type.Integer({ minimum: 0 }) }),
    hosts: Type.Array(VisitLinkSchema),
    guests: Type.Array(VisitLinkSchema),
    recipients: Type.Optional(
      Type.Array(RecipientViewSchema, {
        description:
          'Who each link goes to (personal data: purged with the visit). Absent when none was given.',
      }),
    ),
  },
  { $id: 'Visit' },
);
export type VisitView = Type.Static<typeof VisitViewSchema>;

/** GET /api/visits. */
export const VisitListSchema = Type.Object(
  {
    items: Type.Array(VisitViewSchema),
    total: Type.Integer({ minimum: 0, description: 'Visits matching the filters, all pages together.' }),
    limit: Type.Integer({ minimum: 1 }),
    offset: Type.Integer({ minimum: 0 }),
  },
  { $id: 'VisitList' },
);
export type VisitList = Type.Static<typeof VisitListSchema>;

/** A link named by role and index (what a cancel stopped). */
const LinkRefSchema = Type.Object({ role: RoleField, index: Type.Integer({ minimum: 0 }) });
/** … with when it was first opened through the gateway. */
const OpenedLinkRefSchema = Type.Object({
  ...LinkRefSchema.properties,
  openedAt: IsoInstant('When the gateway first sent someone on with it.'),
});

/** DELETE /api/visits/{id}/links/{role}/{index}: the visit, and what withdrawing the link did. */
export const RevokedLinkSchema = Type.Object(
  {
    ...VisitViewSchema.properties,
    revocation: Type.Object({
      role: Type.Enum(['host', 'guest']),
      index: Type.Integer({ minimum: 0 }),
      linkStopped: Type.Boolean({
        description:
          "True when the link no longer leads anywhere. False for a gateway link already opened: whoever opened it holds Cisco's URL, which may still work there until the window ends.",
      }),
      openedAt: Type.Optional(IsoInstant('When the gateway first sent someone on with it.')),
      detail: Type.String(),
    }),
  },
  { $id: 'RevokedLink' },
);
export type RevokedLink = Type.Static<typeof RevokedLinkSchema>;

/** DELETE /api/visits/{id}: the cancelled visit and what cancelling could guarantee. */
export const CancelledVisitSchema = Type.Object(
  {
    ...VisitViewSchema.properties,
    cancellation: Type.Object({
      linksStopped: Type.Boolean({
        description:
          "True when every link stopped at once: this broker's links, and gateway links none of which had been opened. False when a link may still open at Cisco until it expires (Cisco's own URLs were handed out, or a gateway link was already opened: see `opened`).",
      }),
      detail: Type.String(),
      opened: Type.Optional(
        Type.Array(OpenedLinkRefSchema, {
          description:
            "Gateway visits: the links someone had already opened. The gateway stops them too, but whoever opened one holds Cisco's URL, which may still work at Cisco until the window ends.",
        }),
      ),
      stopped: Type.Optional(
        Type.Array(LinkRefSchema, {
          description: 'Gateway visits: the links never opened, which no longer lead anywhere.',
        }),
      ),
    }),
  },
  { $id: 'CancelledVisit' },
);
export type CancelledVisit = Type.Static<typeof CancelledVisitSchema>;

/** One entry of a visit's append-only event log. */
const VisitEventSchema = Type.Object(
  {
    id: Type.Optional(Type.Integer()),
    orgId: Type.String(),
    visitId: Type.Optional(Type.String()),
    at: Type.Integer({ minimum: 0, description: 'Epoch seconds.' }),
    actor: Type.String({
      description: 'Who: `key:<id>`, `staff:<key id>`, `host`, `guest`, `system`, … never a secret.',
    }),
    type: Type.String({
      description:
        '`visit.created`, `visit.cancelled`, `guest.joined`, `visit.waiting`, `host.joined`, `visit.live` (`visit.started` before schema 12), `device.connected`, `visit.ended`, `visit.no_show` (with `missing`), `alert.sent`, …',
    }),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'VisitEvent' },
);

/** GET /api/visits/{id}/events. */
export const VisitEventListSchema = Type.Object(
  { items: Type.Array(VisitEventSchema) },
  { $id: 'VisitEventList' },
);

/** What opening a gateway link comes to (see VisitService.openGatewayLink). */
export type GatewayOpening =
  /** Send the person on to the broker's URL (Cisco's short URL, else its long URL). */
  | { kind: 'redirect'; location: string; visit: VisitRecord; link: VisitLinkRecord; first: boolean }
  /** The window has not opened: come back at `notBefore`. */
  | { kind: 'not-yet'; notBefore: number }
  /** The window closed, or a host ended the visit. */
  | { kind: 'expired' }
  | { kind: 'cancelled' }
  /** This one link was withdrawn. */
  | { kind: 'revoked' };

/** At most one `link.opened` event per link per this many seconds after the first (see docs). */
const LINK_OPENED_LOG_SECONDS = 60;

export interface VisitServiceOptions {
  store: Store;
  source: LinkSource;
  /**
   * The service's public origin when it was set explicitly (PUBLIC_URL): visits whose links come
   * from another broker then get gateway links on it (`<gatewayUrl>/visit/<code>`).
   */
  gatewayUrl?: string;
  /**
   * This service's origin as links use it (the broker's public URL): the origin of the gateway
   * links of visits made with a gateway if PUBLIC_URL is no longer set, so that their URLs are
   * still shown (never the broker's own URLs in their place).
   */
  linkOrigin?: () => string;
  /** Epoch seconds. */
  now?: () => number;
  /** Zone for local times without one (default UTC). */
  timeZone?: string;
  /** Told of every change (the live lobby listens). */
  onChange?: (visit: VisitRecord, type: string) => void;
  /** Where arrivals are recorded (shared with the live lobby); default one on `store`. */
  arrivals?: Arrivals;
  /** The notices recipients get (email when SMTP_URL is set): stored as jobs with each change. */
  notices?: NoticePlanner;
}

/** What Webex said about a Cisco visit's meeting (meeting telemetry: webhooks, or polling). */
export type MeetingFact =
  | {
      kind: 'participant';
      /** Webex's participant id (never their email or name: the event log keeps no more). */
      participantId: string;
      role: 'host' | 'guest';
      state: 'joined' | 'left';
      at: number;
      via: 'webhook' | 'poll';
    }
  | { kind: 'started' | 'ended'; meetingId: string; at: number; via: 'webhook' | 'poll' };

const newVisitId = () => `vis_${randomBytes(9).toString('base64url')}`;

function toLink(l: VisitLinkRecord, gatewayUrl: string | undefined): VisitLink {
  const link: VisitLink = { role: l.role, index: l.index, cipher: l.cipher, longUrl: l.longUrl };
  if (l.short) link.short = l.short;
  if (l.shortUrl) link.shortUrl = l.shortUrl;
  if (l.forcedLoginUrl) link.forcedLoginUrl = l.forcedLoginUrl;
  if (l.gatewayCode && gatewayUrl) link.gatewayUrl = `${gatewayUrl}/visit/${l.gatewayCode}`;
  if (l.openedAt !== undefined) link.openedAt = isoSeconds(l.openedAt);
  if (l.revokedAt !== undefined) link.revokedAt = isoSeconds(l.revokedAt);
  return link;
}

function linkRecords(
  visitId: string,
  links: Link[],
  jtis: Map<string, string>,
  offset: { host: number; guest: number },
  gatewayCodes?: string[],
) {
  return links.map((l, i): VisitLinkRecord => {
    const record: VisitLinkRecord = {
      visitId,
      role: l.role,
      index: l.index + offset[l.role],
      cipher: l.cipher,
      longUrl: l.longUrl,
    };
    if (l.short) record.short = l.short;
    if (l.shortUrl) record.shortUrl = l.shortUrl;
    if (l.forcedLoginUrl) record.forcedLoginUrl = l.forcedLoginUrl;
    const jti = jtis.get(l.cipher);
    if (jti) record.jti = jti;
    const code = gatewayCodes?.[i];
    if (code) record.gatewayCode = code;
    return record;
  });
}

export class VisitService {
  readonly #store: Store;
  readonly source: LinkSource;
  readonly #now: () => number;
  readonly #timeZone: string;
  readonly #onChange: VisitServiceOptions['onChange'];
  readonly #gatewayUrl: string | undefined;
  readonly #linkOrigin: (() => string) | undefined;
  readonly #notices: NoticePlanner | undefined;
  /** Per subject: the recording in progress (see recordIssued). */
  readonly #recording = new Map<string, Promise<void>>();
  readonly arrivals: Arrivals;

  constructor(options: VisitServiceOptions) {
    this.#store = options.store;
    this.source = options.source;
    this.#now = options.now ?? nowSeconds;
    this.arrivals = options.arrivals ?? new Arrivals({ store: options.store, now: this.#now });
    this.#timeZone = options.timeZone ?? 'UTC';
    this.#onChange = options.onChange;
    this.#gatewayUrl = options.gatewayUrl?.replace(/\/+$/, '');
    this.#linkOrigin = options.linkOrigin;
    this.#notices = options.notices;
  }

  /** New visits can get gateway links: links from another broker, and PUBLIC_URL set. */
  get gatewayOffered(): boolean {
    return this.source.kind !== 'local' && this.#gatewayUrl !== undefined;
  }

  /** Whether a new visit gets gateway links: another broker's links, PUBLIC_URL set, not refused. */
  #useGateway(input: unknown): boolean {
    const asked = (input as { gateway?: unknown }).gateway;
    if (this.source.kind === 'local') return false; // already on this origin, and cancellable
    if (asked === false) return false;
    if (!this.#gatewayUrl) {
      if (asked === true) {
        throw new ValidationError([
          {
            path: 'gateway',
            rule: 'unavailable',
            message:
              'gateway links need the server to know its public address: set PUBLIC_URL (or --public-url) on the server',
          },
        ]);
      }
      return false;
    }
    return true;
  }

  /** Fresh gateway codes, none in use (the unique index catches a race, which 62^10 makes moot). */
  async #gatewayCodes(count: number): Promise<string[]> {
    const codes: string[] = [];
    while (codes.length < count) {
      const code = generateShortCode(undefined, GATEWAY_CODE_LENGTH);
      if (!codes.includes(code) && !(await this.#store.findGatewayLink(code))) codes.push(code);
    }
    return codes;
  }

  #event(
    org: Pick<Org, 'id'>,
    visitId: string,
    actor: string,
    type: string,
    data: Record<string, unknown> = {},
  ): EventRecord {
    return { orgId: org.id, visitId, at: this.#now(), actor, type, data };
  }

  /** The URL to give a person for a stored link: its gateway URL when it has one (see handedUrl). */
  handedUrlOf(link: VisitLinkRecord): string {
    return handedUrl(toLink(link, this.#gatewayUrl ?? this.#linkOrigin?.().replace(/\/+$/, '')));
  }

  async view(visit: VisitRecord): Promise<VisitView> {
    const links = await this.#store.getVisitLinks(visit.id);
    const iso = (s: number | undefined) => (s === undefined ? undefined : isoSeconds(s));
    const gatewayUrl = this.#gatewayUrl ?? this.#linkOrigin?.().replace(/\/+$/, '');
    const now = this.#now();
    const state = visitState(visit, now);
    const view: VisitView = {
      id: visit.id,
      subject: visit.subject,
      state,
      start: isoSeconds(visit.notBefore ?? visit.createdAt),
      end: isoSeconds(visit.expiresAt),
      expiresAt: visit.expiresAt,
      vertical: visit.vertical,
      hostLogin: visit.hostLogin,
      shortUrls: visit.shortUrls,
      devices: visit.devices,
      source: visit.source,
      createdBy: visit.createdBy,
      createdAt: isoSeconds(visit.createdAt),
      gateway: visit.gateway === true,
      counts: { hosts: visit.hosts, guests: visit.guests },
      hosts: links.filter((l) => l.role === 'host').map((l) => toLink(l, gatewayUrl)),
      guests: links.filter((l) => l.role === 'guest').map((l) => toLink(l, gatewayUrl)),
    };
    const recipients = await this.#store.listRecipients(visit.id);
    if (recipients.length > 0) view.recipients = recipients.map(({ visitId: _, ...r }) => r);
    if (visit.notBefore !== undefined) view.notBefore = visit.notBefore;
    if (state === 'no_show') view.missing = missingAt(visit, now);
    if (state === 'waiting' && visit.waitingSince !== undefined)
      view.waitingSince = isoSeconds(visit.waitingSince);
    for (const key of ['startedAt', 'endedAt', 'cancelledAt', 'firstGuestAt'] as const) {
      const at = iso(visit[key]);
      if (at) view[key] = at;
    }
    return view;
  }

  /**
   * Makes the links through the source and stores the visit with them. With `options.id`, a visit
   * that already has that id is returned as it is (a caller that runs again makes no second one).
   */
  async create(
    org: Org,
    actor: string,
    input: unknown,
    options: {
      signal?: AbortSignal;
      id?: string;
      /** Who hears that a guest waits when the input names nobody (`alertTo`): the bot's requester, the trigger's `notify.host`. */
      alertTo?: { email: string } | { personId: string };
    } = {},
  ): Promise<VisitView> {
    if (options.id) {
      const existing = await this.#store.getVisit(org.id, options.id);
      if (existing) return this.view(existing);
    }
    const signal = options.signal;
    const now = this.#now();
    let request: ReturnType<typeof toLinkRequest>;
    let created: Awaited<ReturnType<LinkSource['create']>>;
    let gateway: boolean;
    try {
      request = toLinkRequest(input, now, this.#timeZone);
      gateway = this.#useGateway(input);
      created = await this.source.create(org, request, signal);
    } catch (err) {
      if (err instanceof ValidationError) {
        throw new ValidationError(err.issues.map((i) => renameIssue(i, VISIT_FIELD_NAMES)));
      }
      throw err;
    }
    const { result, jtis } = created;
    const visit = this.#visitRecord(
      org,
      actor,
      result,
      request.devices ?? [],
      request.hostLogin ?? true,
      now,
    );
    if (options.id) visit.id = options.id;
    if (gateway) {
      visit.gateway = true;
      // What opens its links is seen here: a guest's opening is an arrival (README: the link gateway).
      visit.observedBy = 'gateway';
    }
    const asked = (input as { alertTo?: unknown }).alertTo;
    const alertTo = typeof asked === 'string' ? { email: asked } : options.alertTo;
    if (alertTo) visit.alertTo = alertTarget(alertTo);
    const all = [...result.hosts, ...result.guests];
    const codes = gateway ? await this.#gatewayCodes(all.length) : undefined;
    const links = linkRecords(visit.id, all, jtis, { host: 0, guest: 0 }, codes);
    const givenRecipients = (input as VisitInput).recipients;
    const recipients: RecipientRecord[] = givenRecipients
      ? visitRecipients(givenRecipients, { hosts: visit.hosts, guests: visit.guests }).recipients.map(
          (r) => ({
            visitId: visit.id,
            ...r,
          }),
        )
      : [];
    const jobs = this.#notices?.jobs(visit, recipients, 'visit.created', actor, 0) ?? [];
    await this.#saveNew(org, actor, visit, links, {}, { recipients, jobs });
    this.#onChange?.(visit, 'visit.created');
    return this.view(visit);
  }

  #visitRecord(
    org: Org,
    actor: string,
    r: LinkResult,
    devices: string[],
    hostLogin: boolean,
    now: number,
  ): VisitRecord {
    const visit: VisitRecord = {
      id: newVisitId(),
      orgId: org.id,
      subject: r.subject,
      status: 'pending',
      expiresAt: r.expiresAt,
      vertical: r.vertical,
      hostLogin,
      shortUrls: r.guests.some((l) => l.shortUrl) || r.hosts.some((l) => l.shortUrl),
      devices,
      source: this.source.kind,
      createdBy: actor,
      createdAt: now,
      hosts: r.hosts.length,
      guests: r.guests.length,
      waits: 0,
    };
    if (r.notBefore !== undefined) visit.notBefore = r.notBefore;
    // The live lobby sees who comes to the local broker's visits. A Cisco visit whose links a
    // gateway fronts (or whose meeting telemetry reports) is observed too: set `gateway` /
    // `telemetry` here for it, and its arrivals (recordArrival) make it waiting and no_show alike.
    if (visit.source === 'local') visit.observedBy = 'lobby';
    return visit;
  }

  async get(org: Org, id: string): Promise<VisitView> {
    return this.view(await this.#require(org, id));
  }

  async #require(org: Org, id: string): Promise<VisitRecord> {
    const visit = VISIT_ID.test(id) ? await this.#store.getVisit(org.id, id) : undefined;
    if (!visit) throw new NotFoundError(`No visit ${JSON.stringify(id.slice(0, 40))}`);
    return visit;
  }

  /** `from`/`to` of a list as people write them, read with this service's clock and zone. */
  listWindow(raw: { from?: string | undefined; to?: string | undefined; timeZone?: string | undefined }): {
    from?: number;
    to?: number;
  } {
    const given = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
    return listWindow(given, this.#now(), this.#timeZone);
  }

  async list(org: Org, query: Omit<VisitQuery, 'now'>): Promise<VisitList> {
    const { items, total } = await this.#store.listVisits(org.id, { ...query, now: this.#now() });
    return {
      items: await Promise.all(items.map((v) => this.view(v))),
      total,
      limit: query.limit,
      offset: query.offset,
    };
  }

  async events(org: Org, id: string): Promise<EventRecord[]> {
    await this.#require(org, id);
    return this.#store.listEvents(org.id, id);
  }

  /** Cancels: local links stop at once; at Cisco, what can be done is done and reported. */
  async cancel(org: Org, actor: string, id: string): Promise<CancelledVisit> {
    const visit = await this.#require(org, id);
    const state = visitState(visit, this.#now());
    if (state === 'cancelled') throw new VisitConflictError(`Visit ${id} is already cancelled`);
    if (FINISHED.has(state))
      throw new VisitConflictError(
        `Visit ${id} has already ${state === 'ended' ? 'ended' : state === 'no_show' ? 'closed (no-show)' : 'expired'}`,
      );
    const revoke = await this.source.revoke(org, visit.subject);
    const recipients = this.#notices ? await this.#store.listRecipients(id) : [];
    const sequence =
      recipients.length > 0
        ? inviteSequence(
            (await this.#store.listEvents(org.id, id)).map((e) => e.type),
            'CANCEL',
          )
        : 0;
    const cancelled = await this.#store.transitionVisit(
      org.id,
      id,
      ['pending', 'live'],
      'cancelled',
      this.#now(),
      this.#event(org, id, actor, 'visit.cancelled', {
        source: visit.source,
        revoke: revoke.detail,
        revokeOk: revoke.ok,
      }),
      this.#notices?.jobs(visit, recipients, 'visit.cancelled', actor, sequence) ?? [],
    );
    if (!cancelled) throw new VisitConflictError(`Visit ${id} changed while cancelling; try again`);
    this.#onChange?.(cancelled, 'visit.cancelled');
    const view = await this.view(cancelled);
    if (!visit.gateway) {
      return { ...view, cancellation: { linksStopped: visit.source === 'local', detail: revoke.detail } };
    }
    // Read after the cancel: an opening comes entirely before it (and is listed) or after it (and
    // was refused), so these lists are exact.
    const links = await this.#store.getVisitLinks(id);
    const opened = links
      .filter((l) => l.openedAt !== undefined)
      .map((l) => ({ role: l.role, index: l.index, openedAt: isoSeconds(l.openedAt!) }));
    const stopped = links
      .filter((l) => l.openedAt === undefined)
      .map((l) => ({ role: l.role, index: l.index }));
    const detail =
      opened.length === 0
        ? 'No gateway link had been opened: every link now leads to the cancelled page.'
        : `Every gateway link now leads to the cancelled page. ${opened.length} of them had already been opened (see opened): whoever opened one holds Cisco's URL, which may still work at Cisco until the window ends. ${revoke.detail}`;
    return { ...view, cancellation: { linksStopped: opened.length === 0, detail, opened, stopped } };
  }

  /**
   * Withdraws one link: a gateway link or a link of this broker stops at once (410); a link made
   * at Cisco and handed out as Cisco's own URL cannot be stopped (409 saying why).
   */
  async revokeLink(org: Org, actor: string, id: string, role: string, index: string): Promise<RevokedLink> {
    const issues = [];
    if (role !== 'host' && role !== 'guest')
      issues.push({ path: 'role', rule: 'enum', message: 'role must be host or guest' });
    if (!/^\d{1,6}$/.test(index))
      issues.push({ path: 'index', rule: 'integer', message: 'index must be a whole number from 0' });
    if (issues.length > 0) throw new ValidationError(issues);
    const visit = await this.#require(org, id);
    const n = Number(index);
    const link = (await this.#store.getVisitLinks(id)).find((l) => l.role === role && l.index === n);
    if (!link) throw new NotFoundError(`Visit ${id} has no ${role} link ${n}`);
    const state = visitState(visit, this.#now());
    if (FINISHED.has(state)) {
      throw new VisitConflictError(`Visit ${id} is ${state}: its links no longer open anyway`);
    }
    if (visit.source !== 'local' && !visit.gateway) {
      throw new VisitConflictError(
        `This link was handed out as the broker's own URL (the visit has no gateway): Cisco documents no way to revoke one link, only to re-issue the whole subject by cancelling the visit. Visits made with PUBLIC_URL set get gateway links, which can be withdrawn one by one.`,
      );
    }
    if (link.revokedAt !== undefined)
      throw new VisitConflictError(`The ${role} link ${n} is already withdrawn`);
    const revoked = await this.#store.revokeVisitLink(
      id,
      link.role,
      n,
      this.#now(),
      this.#event(org, id, actor, 'link.revoked', {
        role: link.role,
        index: n,
        opened: link.openedAt !== undefined,
      }),
    );
    if (!revoked) throw new VisitConflictError(`The ${role} link ${n} is already withdrawn`);
    this.#onChange?.(visit, 'link.revoked');
    const stopped = revoked.openedAt === undefined;
    const revocation: RevokedLink['revocation'] = {
      role: link.role,
      index: n,
      linkStopped: stopped,
      detail: visit.gateway
        ? stopped
          ? 'The gateway link now leads to a "withdrawn" page; it had never been opened.'
          : 'The gateway link now leads to a "withdrawn" page, but it had already been opened: whoever opened it holds Cisco\'s URL, which may still work at Cisco until the window ends.'
        : 'The link now opens a "withdrawn" page instead of the visit.',
    };
    if (revoked.openedAt !== undefined) revocation.openedAt = isoSeconds(revoked.openedAt);
    return { ...(await this.get(org, id)), revocation };
  }

  /** The link behind a gateway code, when it is one. */
  async gatewayLink(code: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    return /^[A-Za-z0-9]{1,16}$/.test(code) ? this.#store.findGatewayLink(code) : undefined;
  }

  /**
   * Someone opens a gateway link: where to send them, or why not. This is the one place an
   * opening is recorded (atomically with the visit's status: an opening and a cancel never
   * overlap): `openedAt` the first time, and a `link.opened` event (role, index, a coarse
   * user-agent family; no address) at most once per link per LINK_OPENED_LOG_SECONDS.
   * Only a redirect counts as an opening (the countdown and closed pages hand out nothing).
   */
  async openGatewayLink(
    found: { visit: VisitRecord; link: VisitLinkRecord },
    userAgent: string | undefined,
  ): Promise<GatewayOpening> {
    const { visit, link } = found;
    const now = this.#now();
    if (visit.status === 'cancelled') return { kind: 'cancelled' };
    if (link.revokedAt !== undefined) return { kind: 'revoked' };
    const state = visitState(visit, now);
    if (state === 'scheduled') return { kind: 'not-yet', notBefore: visit.notBefore! };
    if (FINISHED.has(state)) return { kind: 'expired' };
    const opening = await this.#store.recordLinkOpening(visit.id, link.role, link.index, now, {
      logEverySeconds: LINK_OPENED_LOG_SECONDS,
      event: this.#event({ id: visit.orgId }, visit.id, link.role, 'link.opened', {
        role: link.role,
        index: link.index,
        uaFamily: uaFamily(userAgent),
      }),
    });
    if (opening.outcome === 'cancelled') return { kind: 'cancelled' };
    if (opening.outcome === 'revoked') return { kind: 'revoked' };
    if (opening.outcome === 'missing') return { kind: 'expired' }; // purged meanwhile
    if (opening.logged) this.#onChange?.(visit, 'link.opened');
    // Someone came through the gateway: a guest starts a wait (and its alert), a host makes the
    // visit live. Repeated openings change nothing more.
    await this.recordArrival({ id: visit.orgId }, visit.id, link.role, 'gateway', { index: link.index });
    return { kind: 'redirect', location: link.shortUrl ?? link.longUrl, visit, link, first: opening.first };
  }

  /**
   * Applies what Webex said about a visit's meeting: a participant joined or left (once each,
   * however often it is told), the first host's join makes the visit live, and the meeting's end
   * ends a live visit. The same facts the lobby records for local visits.
   */
  async recordMeetingFact(visit: VisitRecord, fact: MeetingFact): Promise<void> {
    // At the time Webex gives, by `webex`.
    const event = (type: string, data: Record<string, unknown>): EventRecord => ({
      orgId: visit.orgId,
      visitId: visit.id,
      at: fact.at,
      actor: 'webex',
      type,
      data: { ...data, via: fact.via },
    });
    if (fact.kind === 'participant') {
      const { participantId, role, state, at } = fact;
      const changed = await this.#store.recordMeetingParticipant(
        { visitId: visit.id, participantId, role, state, at },
        event(`${role}.${state}`, { participant: participantId }),
      );
      // Tried even when the join was known: a crash may have come between the two writes. A host
      // makes the visit live; a guest starts a wait while no host has come.
      if (state === 'joined')
        await this.recordArrival({ id: visit.orgId }, visit.id, role, 'telemetry', {
          participant: participantId,
        });
      else if (role === 'guest') {
        const present = await this.#store.listMeetingParticipants(visit.id);
        if (!present.some((p) => p.role === 'guest' && p.leftAt === undefined))
          await this.arrivals.guestsGone(visit.orgId, visit.id);
      }
      if (changed) this.#onChange?.(visit, `${role}.${state}`);
      return;
    }
    if (fact.kind === 'ended') {
      const ended = await this.#store.transitionVisit(
        visit.orgId,
        visit.id,
        ['live'],
        'ended',
        fact.at,
        event('visit.ended', { meeting: fact.meetingId }),
      );
      if (ended) this.#onChange?.(ended, 'visit.ended');
      return;
    }
    await this.#store.appendEvent(event('meeting.started', { meeting: fact.meetingId }));
  }

  /** More hosts or guests for the same subject, window and space. */
  async addLinks(org: Org, actor: string, id: string, input: unknown): Promise<VisitView> {
    const issues = schemaIssues(AddLinksInput, input);
    if (issues.length > 0) throw new ValidationError(issues);
    const { hosts = 0, guests = 0 } = input as AddLinksInput;
    if (hosts + guests === 0) {
      throw new ValidationError([
        { path: 'hosts', rule: 'total', message: 'hosts and guests are both 0: ask for at least one link' },
      ]);
    }
    const visit = await this.#require(org, id);
    const state = visitState(visit, this.#now());
    if (FINISHED.has(state)) {
      throw new VisitConflictError(`Visit ${id} is ${state}: no more links can be added`);
    }
    const { result, jtis } = await this.source.create(org, {
      subject: visit.subject,
      hosts,
      guests,
      ...(visit.notBefore !== undefined ? { notBefore: visit.notBefore } : {}),
      expiresAt: visit.expiresAt,
      shortUrls: visit.shortUrls,
      vertical: visit.vertical,
      hostLogin: visit.hostLogin,
      ...(visit.devices.length > 0 ? { devices: visit.devices } : {}),
    });
    const all = [...result.hosts, ...result.guests];
    const codes = visit.gateway ? await this.#gatewayCodes(all.length) : undefined;
    const links = linkRecords(id, all, jtis, { host: visit.hosts, guest: visit.guests }, codes);
    await this.#store.addVisitLinks(
      org.id,
      id,
      links,
      this.#event(org, id, actor, 'visit.links_added', { hosts, guests }),
    );
    return this.get(org, id);
  }

  /**
   * Links made through /api/v2/joseencrypt (or the CLI) become visits too, grouped by subject,
   * so history is complete whichever API was used.
   */
  async recordIssued(org: Org, actor: string, issued: IssueResult, linkBaseUrl: string): Promise<void> {
    // Calls for one subject are recorded one after another, so they join one visit.
    const key = `${org.id}\u0000${issued.request.jwt.sub}`;
    const previous = this.#recording.get(key) ?? Promise.resolve();
    const current = previous.then(() => this.#recordIssued(org, actor, issued, linkBaseUrl));
    const settled = current.catch(() => {});
    this.#recording.set(key, settled);
    settled.then(() => {
      if (this.#recording.get(key) === settled) this.#recording.delete(key);
    });
    return current;
  }

  async #recordIssued(org: Org, actor: string, issued: IssueResult, linkBaseUrl: string): Promise<void> {
    const now = this.#now();
    const { request } = issued;
    const vertical = request.verticalType ?? DEFAULTS.verticalType;
    const hostLogin = request.loginUrlForHost ?? DEFAULTS.loginUrlForHost;
    const body = {
      host: issued.links
        .filter((l) => l.role === 'host')
        .map((l) => ({ cipher: l.cipher, ...(l.short ? { short: l.short } : {}) })),
      guest: issued.links
        .filter((l) => l.role === 'guest')
        .map((l) => ({ cipher: l.cipher, ...(l.short ? { short: l.short } : {}) })),
      ...(issued.links.some((l) => l.short) ? { baseUrl: `${linkBaseUrl}/visit/` } : {}),
    };
    const set = normaliseResponse(body, { linkBaseUrl, vertical, hostLogin });
    const jtis = new Map(issued.links.map((l) => [l.cipher, l.jti]));
    const existing = await this.#store.findVisitBySubject(org.id, request.jwt.sub);
    const existingState = existing && visitState(existing, now);
    if (existing && existingState !== undefined && !FINISHED.has(existingState)) {
      const links = linkRecords(existing.id, [...set.hosts, ...set.guests], jtis, {
        host: existing.hosts,
        guest: existing.guests,
      });
      await this.#store.addVisitLinks(
        org.id,
        existing.id,
        links,
        this.#event(org, existing.id, actor, 'visit.links_added', {
          hosts: set.hosts.length,
          guests: set.guests.length,
          via: 'joseencrypt',
        }),
      );
      return;
    }
    const result: LinkResult = {
      ...set,
      subject: request.jwt.sub,
      subjectGenerated: false,
      expiresAt: request.jwt.exp!,
      vertical,
      environment: 'custom',
      brokerUrl: linkBaseUrl,
      calls: 1,
      ...(request.jwt.nbf !== undefined ? { notBefore: request.jwt.nbf } : {}),
    };
    const devices = request.jwt.flow?.data.map((d) => d.uri) ?? [];
    const visit: VisitRecord = {
      ...this.#visitRecord(org, actor, result, devices, hostLogin, now),
      source: 'local' as const,
      observedBy: 'lobby',
    };
    const links = linkRecords(visit.id, [...set.hosts, ...set.guests], jtis, { host: 0, guest: 0 });
    await this.#saveNew(org, actor, visit, links, { via: 'joseencrypt' });
  }

  /**
   * A guest or a host arrived (the live lobby now; a link gateway and meeting telemetry later):
   * see Arrivals. Pages of the visit hear of a wait or of the visit going live.
   */
  async recordArrival(
    org: Pick<Org, 'id'>,
    visitId: string,
    role: Role,
    via: ArrivalVia,
    data: Record<string, unknown> = {},
  ): Promise<ArrivalOutcome> {
    const outcome = await this.arrivals.record(org.id, visitId, role, via, data);
    if (outcome.visit && (outcome.waitStarted || outcome.wentLive))
      this.#onChange?.(outcome.visit, outcome.wentLive ? 'visit.live' : 'visit.waiting');
    return outcome;
  }

  /**
   * The closing job's step: closes at most `limit` visits whose window closed (once, across
   * instances), recording `visit.no_show` with who was missing for the visits whose arrivals were
   * observed, and `visit.ended` for visits still live. Returns how many it closed.
   */
  async closeWindows(limit: number): Promise<number> {
    const now = this.#now();
    const closed = await this.#store.closeVisits(now, limit, (visit) => {
      const event = (type: string, data: Record<string, unknown>): EventRecord => ({
        orgId: visit.orgId,
        visitId: visit.id,
        at: now,
        actor: 'system',
        type,
        data,
      });
      const missing = missingAt(visit, now);
      if (missing.length > 0) return event('visit.no_show', { missing, via: visit.observedBy });
      // Live when its window closed: it ends then (a host who ends it records `visit.ended` at once).
      // Only visits of this version on (observed): older ones closed long ago get no late event.
      if (visit.status === 'live' && visit.observedBy !== undefined)
        return event('visit.ended', { reason: 'window closed' });
      return undefined;
    });
    for (const visit of closed) {
      if (missingAt(visit, now).length > 0) this.#onChange?.(visit, 'visit.no_show');
      else if (visit.status === 'live' && visit.observedBy !== undefined)
        this.#onChange?.(visit, 'visit.ended');
    }
    return closed.length;
  }

  /** Stores a new visit with its links and its `visit.created` event, in one transaction. */
  #saveNew(
    org: Org,
    actor: string,
    visit: VisitRecord,
    links: VisitLinkRecord[],
    extra: Record<string, unknown> = {},
    more: Parameters<Store['createVisit']>[3] = {},
  ) {
    return this.#store.createVisit(
      visit,
      links,
      this.#event(org, visit.id, actor, 'visit.created', {
        subject: visit.subject,
        hosts: visit.hosts,
        guests: visit.guests,
        start: isoSeconds(visit.notBefore ?? visit.createdAt),
        end: isoSeconds(visit.expiresAt),
        source: visit.source,
        devices: visit.devices.length,
        ...extra,
        ...(more.recipients?.length ? { recipients: more.recipients.length } : {}),
      }),
      more,
    );
  }

  /** A visit's delivery records (GET /api/visits/{id}/deliveries). */
  /**
   * Sends a link's notice again to its recipient, on its channel or `channel`: a stored job (trigger
   * `resend`, the actor recorded), run soon. 409 when the visit is over or cancelled; 400 naming the
   * field when the link has no recipient, the recipient has no address there, or the channel is off.
   */
  async resend(
    org: Org,
    actor: string,
    id: string,
    role: string,
    index: string,
    body: unknown,
  ): Promise<QueuedResend> {
    const issues = [];
    if (role !== 'host' && role !== 'guest')
      issues.push({ path: 'role', rule: 'enum', message: 'role must be host or guest' });
    if (!/^\d{1,6}$/.test(index))
      issues.push({ path: 'index', rule: 'integer', message: 'index must be a whole number from 0' });
    const input = body === undefined || body === null ? {} : body;
    if (typeof input !== 'object' || Array.isArray(input)) {
      issues.push({ path: '', rule: 'type', message: 'the body must be a JSON object' });
    } else {
      for (const key of Object.keys(input))
        if (key !== 'channel')
          issues.push({
            path: key,
            rule: 'additionalProperties',
            message: `${key} is not a field of a resend`,
          });
    }
    const asked =
      typeof input === 'object' && input !== null ? (input as { channel?: unknown }).channel : undefined;
    if (asked !== undefined && asked !== 'email' && asked !== 'sms')
      issues.push({ path: 'channel', rule: 'enum', message: 'channel must be email or sms' });
    if (issues.length > 0) throw new ValidationError(issues);
    const visit = await this.#require(org, id);
    const n = Number(index);
    const link = (await this.#store.getVisitLinks(id)).find((l) => l.role === role && l.index === n);
    if (!link) throw new NotFoundError(`Visit ${id} has no ${role} link ${n}`);
    const state = visitState(visit, this.#now());
    if (FINISHED.has(state))
      throw new VisitConflictError(
        `Visit ${id} is ${state === 'no_show' ? 'closed (no-show)' : state}: nothing is sent for it`,
      );
    const recipient = (await this.#store.listRecipients(id)).find((r) => r.role === role && r.index === n);
    if (!recipient)
      throw new ValidationError([
        {
          path: 'recipient',
          rule: 'required',
          message: `the ${role} link ${n} has no recipient to send it to`,
        },
      ]);
    const channel = (asked as 'email' | 'sms' | undefined) ?? channelOf(recipient);
    const to = channel === 'sms' ? recipient.phone : channel === 'email' ? recipient.email : undefined;
    if (!channel || !to)
      throw new ValidationError([
        {
          path: 'channel',
          rule: 'address',
          message: `the recipient of the ${role} link ${n} has no ${channel === 'sms' ? 'phone number' : 'email address'}`,
        },
      ]);
    if (!this.#notices?.isOn(channel))
      throw new ValidationError([
        {
          path: 'channel',
          rule: 'off',
          message: `${channel} is off on this server (${channel === 'sms' ? 'SMS_PROVIDER' : 'SMTP_URL and SMTP_FROM'})`,
        },
      ]);
    const sequence = inviteSequence(
      (await this.#store.listEvents(org.id, id)).map((e) => e.type),
      'REQUEST',
    );
    await this.#store.enqueueJob(this.#notices.resend(visit, recipient, channel, actor, sequence));
    this.#onChange?.(visit, 'link.resend');
    return {
      visitId: id,
      role: recipient.role,
      index: n,
      channel,
      to,
      trigger: 'resend',
      actor,
      status: 'queued',
    };
  }

  async deliveries(org: Org, id: string): Promise<LinkDeliveryList> {
    await this.#require(org, id);
    return { items: (await this.#store.listDeliveries(id)).map(deliveryView) };
  }
}
