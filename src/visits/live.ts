/**
 * The live side of a visit, as Instant Connect behaves: guests wait in a lobby until a host
 * joins; the first host to join starts the visit and every `sip-no-knock` device is dialled;
 * waiting guests are let in live (server-sent events); the host can end the visit for all; a guest
 * who leaves can rejoin while the link is valid.
 *
 * A page holds a signed ticket (visit, role, expiry), so join/leave/end and the event stream never
 * decrypt the token again (no PBKDF2 per call) and any instance can check it. Changes travel on a
 * LiveBus: in-process here, PostgreSQL LISTEN/NOTIFY when several instances share a database.
 *
 * Held under attack: event streams are bounded per participant (a link), per client address and
 * per instance, refused before any store read; a visit's streams share one throttled broadcast
 * (one store read per change, not one per stream); streams end at the visit's end, at its
 * cancellation and at the ticket's expiry; presence counts participants, not sockets, across
 * instances (each repeats its own every refresh, so a crashed one is forgotten); a repeated join
 * appends nothing, and joins and leaves are rate limited per participant.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import Type from 'typebox';
import type { Keyring } from '../broker/keyring.js';
import type { Role } from '../domain/constants.js';
import { RoleField } from '../domain/links.js';
import { SipUri, Subject } from '../domain/schema.js';
import { nowSeconds } from '../domain/time.js';
import { VISIT_STATES, visitState } from '../domain/visit-state.js';
import {
  CancelledError,
  EndedError,
  InstantConnectError,
  NotFoundError,
  OverloadedError,
  RateLimitedError,
  TicketError,
} from '../errors.js';
import { MemoryRateLimiter, type RateLimiter } from '../reliability/rate-limit.js';
import type { EventRecord, Store, VisitRecord } from '../store/types.js';
import { Arrivals } from './arrivals.js';

export interface LiveMessage {
  visitId: string;
  /**
   * `state` (the visit changed), `presence` (an instance's participants of the visit), `device`
   * (dial progress), `sync` (an instance (re)started listening: others resend their presence).
   */
  kind: 'state' | 'presence' | 'device' | 'sync';
  /** Older instances' presence messages (ignored: they counted sockets, not participants). */
  role?: Role;
  delta?: 1 | -1;
  /** The instance that sent it. */
  origin?: string;
  /**
   * Presence: the sender's participants of the visit now, each `h:<id>:<streams>` or
   * `g:<id>:<streams>`. With `reset` it replaces what the sender said before; without, it adds to
   * it (a long list comes in several messages, the first with `reset`).
   */
  present?: string[];
  reset?: boolean;
}

export interface LiveBus {
  publish(message: LiveMessage): void | Promise<void>;
  subscribe(listener: (message: LiveMessage) => void): () => void;
  /** Calls `listener` each time the bus listens again after a loss (messages may have been missed). */
  onListening?(listener: () => void): () => void;
  close(): Promise<void>;
}

class InProcessBus implements LiveBus {
  readonly #emitter = new EventEmitter().setMaxListeners(0);
  publish(message: LiveMessage): void {
    this.#emitter.emit('message', message);
  }
  subscribe(listener: (message: LiveMessage) => void): () => void {
    this.#emitter.on('message', listener);
    return () => this.#emitter.off('message', listener);
  }
  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}

/** Dials a room device into a visit. The default only records: this broker carries no media. */
export interface Dialler {
  dial(uri: string, visit: VisitRecord): Promise<{ ok: boolean; detail?: string }>;
}

const recordingDialler: Dialler = {
  async dial() {
    return { ok: true, detail: 'recorded only: the project broker carries no media' };
  },
};

export interface Ticket {
  visitId: string;
  orgId: string;
  role: Role;
  /** Epoch seconds: the token's exp. */
  exp: number;
  /**
   * Who this page is, for presence and the limits: the link (a hash of its jti), so every page
   * opened with one link is one participant. Tickets of older versions carry a random one per page.
   */
  participant: string;
}

const DeviceStatusSchema = Type.Object(
  {
    uri: SipUri,
    status: Type.Enum(['waiting', 'dialling', 'connected', 'failed']),
  },
  { $id: 'DeviceStatus' },
);
type DeviceStatus = Type.Static<typeof DeviceStatusSchema>;

/** What a visit page shows, from the live API and its event stream. */
export const LiveStatusSchema = Type.Object(
  {
    visitId: Type.String(),
    subject: Subject,
    role: RoleField,
    state: Type.Enum([...VISIT_STATES]),
    admitted: Type.Boolean({
      description:
        'Guests: let in (the visit is live; the page shows the lobby again while no host is present). Hosts: always.',
    }),
    hostsPresent: Type.Integer({
      minimum: 0,
      description:
        'Hosts present now: host links with a page open (one per link, however many pages), counting a host who just joined or whose page is reloading (LIVE_HOST_GRACE_SECONDS).',
    }),
    guestsPresent: Type.Integer({
      minimum: 0,
      description: 'Guests present now: guest links with a page open (one per link, however many pages).',
    }),
    devices: Type.Array(DeviceStatusSchema),
    end: Type.Integer({ minimum: 0, description: 'When the visit ends, epoch seconds.' }),
  },
  { $id: 'LiveStatus' },
);
export type LiveStatus = Type.Static<typeof LiveStatusSchema>;

/** A visit page's signed ticket: base64url payload, a dot, a base64url HMAC-SHA256. */
const TICKET_PATTERN = '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}$';
export const TicketString = Type.String({
  maxLength: 512,
  pattern: TICKET_PATTERN,
  description: 'The ticket the visit page holds (in its `data-ticket`), never the token itself.',
});
const TICKET = new RegExp(TICKET_PATTERN);

/** The body of POST /live/join, /live/leave and /live/end (the ticket may come in the query instead). */
export const LiveTicketInput = Type.Object({ ticket: TicketString }, { $id: 'LiveTicket' });

/** Bounds on the live channel of one instance (see DEFAULT_LIVE_LIMITS). */
export interface LiveLimits {
  /** Event streams one participant (one link, whatever its page loads) holds open at once. */
  streamsPerParticipant: number;
  /** Event streams open at once from one client address (a clinic's NAT holds many patients). */
  streamsPerAddress: number;
  /** Event streams open at once on this instance (keep well below the file-descriptor limit). */
  streams: number;
  /** Joins and leaves of one participant per minute; past it, 429. */
  joinsPerMinute: number;
  /**
   * Seconds a host stays present after their last stream closed (a reload, a dropped connection
   * that EventSource reopens) or after joining before their stream opens. Past it without a stream
   * on any instance, the host is gone: `host.left` is recorded once and guests wait again.
   */
  hostGraceSeconds: number;
}

const DEFAULT_LIVE_LIMITS: LiveLimits = {
  streamsPerParticipant: 2,
  streamsPerAddress: 50,
  streams: 500,
  joinsPerMinute: 30,
  hostGraceSeconds: 20,
};

/** Live limits from LIVE_* variables, defaults for the rest. */
export function liveLimitsFromEnv(env: Readonly<Record<string, string | undefined>>): LiveLimits {
  const read = (name: string, fallback: number) => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < 1)
      throw new InstantConnectError('ERR_VALIDATION', `${name} must be a whole number from 1`);
    return Number(raw);
  };
  return {
    streamsPerParticipant: read('LIVE_STREAMS_PER_LINK', DEFAULT_LIVE_LIMITS.streamsPerParticipant),
    streamsPerAddress: read('LIVE_STREAMS_PER_ADDRESS', DEFAULT_LIVE_LIMITS.streamsPerAddress),
    streams: read('LIVE_STREAMS', DEFAULT_LIVE_LIMITS.streams),
    joinsPerMinute: read('LIVE_JOINS_PER_MINUTE', DEFAULT_LIVE_LIMITS.joinsPerMinute),
    hostGraceSeconds: read('LIVE_HOST_GRACE_SECONDS', DEFAULT_LIVE_LIMITS.hostGraceSeconds),
  };
}

export interface LiveVisitsOptions {
  store: Store;
  keyring: Keyring;
  bus?: LiveBus;
  dialler?: Dialler;
  /** Epoch seconds. */
  now?: () => number;
  limits?: Partial<LiveLimits>;
  /** Counts joins and leaves (default in memory; shared through the store on PostgreSQL). */
  rateLimiter?: RateLimiter;
  /** Least time between two status broadcasts of one visit (default 250 ms). */
  statusIntervalMs?: number;
  /** How often an instance repeats its presence to the others (default 15 s); 3 misses forget it. */
  presenceRefreshMs?: number;
  /** Where guests' and hosts' arrivals are recorded (shared with the visits service); default one on `store`. */
  arrivals?: Arrivals;
}

/** Why the server ended a stream (the last status went before). */
export type StreamEnd = 'ended' | 'expired' | 'cancelled' | 'gone' | 'ticket-expired' | 'closing';

/** Where a stream's statuses go: the route writes them as server-sent events. */
export interface LiveSink {
  send(status: LiveStatus): void;
  /** The server ends the stream, after the final status. */
  end(reason: StreamEnd): void;
}

export interface LiveStream {
  /** The status at opening (sent by the caller). */
  first: LiveStatus;
  /** The client went away (idempotent). */
  close(): void;
}

const b64 = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');
const TICKET_SHAPE = /^[A-Za-z0-9_-]{1,460}\.[A-Za-z0-9_-]{43}$/;
/** One presence entry on the bus: role initial, participant id, streams open. */
const PRESENT_ENTRY = /^([hg]):([A-Za-z0-9_-]{1,32}):(\d{1,4})$/;
/** Entries per presence message (a NOTIFY payload stays well under 8000 bytes). */
const PRESENT_CHUNK = 120;
const TERMINAL = new Set(['ended', 'expired', 'no_show', 'cancelled']);
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The participant of a link: one per link (its jti), whatever the number of pages opened with it. */
function participantOf(linkId: string): string {
  return createHash('sha256').update(`participant.${linkId}`).digest('base64url').slice(0, 16);
}

interface Stream {
  ticket: Ticket;
  key: string;
  address: string;
  sink: LiveSink;
  timer: NodeJS.Timeout | undefined;
  closed: boolean;
}

/** What one store read of a visit gives every stream of it. */
interface Snapshot {
  visit: VisitRecord | undefined;
  events: EventRecord[];
}

/** A visit's open streams on this instance, and its one coalesced, throttled broadcast. */
interface Channel {
  visitId: string;
  streams: Set<Stream>;
  snapshot: Snapshot | undefined;
  /** The store changed since the snapshot (state or device message). */
  stale: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Fires at the visit's end, when no message will say so. */
  endTimer: NodeJS.Timeout | undefined;
  flushing: boolean;
  again: boolean;
  lastFlush: number;
  /** A read in progress, shared by streams opening meanwhile. */
  reading: Promise<Snapshot> | undefined;
}

/** What another instance said of a visit's participants, and when. */
interface Remote {
  seen: number;
  entries: Map<string, number>;
}

export class LiveVisits {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly bus: LiveBus;
  readonly #dialler: Dialler;
  readonly #arrivals: Arrivals;
  readonly #now: () => number;
  readonly limits: LiveLimits;
  readonly #rateLimiter: RateLimiter;
  readonly #intervalMs: number;
  readonly #refreshMs: number;
  readonly #instance = randomBytes(6).toString('hex');
  /** visitId → participant key (`h:id`/`g:id`) → streams open here. */
  readonly #local = new Map<string, Map<string, number>>();
  /** visitId → origin → what that instance last said. */
  readonly #remote = new Map<string, Map<string, Remote>>();
  readonly #channels = new Map<string, Channel>();
  readonly #byAddress = new Map<string, number>();
  #streams = 0;
  /** visitId → participant key → joined or left (so a repeated join appends nothing), and until when. */
  readonly #joined = new Map<string, Map<string, { joined: boolean; exp: number }>>();
  /**
   * visitId → host key (`h:id`) → a host with no stream here, still present until the timer fires
   * (their last stream closed, or they joined and their stream is not open yet).
   */
  readonly #grace = new Map<string, Map<string, { ticket: Ticket; timer: NodeJS.Timeout }>>();
  readonly #unsubscribe: () => void;
  readonly #unlisten: (() => void) | undefined;
  readonly #refresh: NodeJS.Timeout;
  #resyncAt = 0;
  #resyncTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Store reads made for event streams (metrics and tests). */
  streamReads = 0;

  constructor(options: LiveVisitsOptions) {
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.bus = options.bus ?? new InProcessBus();
    this.#dialler = options.dialler ?? recordingDialler;
    this.#now = options.now ?? nowSeconds;
    this.#arrivals = options.arrivals ?? new Arrivals({ store: options.store, now: this.#now });
    this.limits = { ...DEFAULT_LIVE_LIMITS, ...options.limits };
    this.#rateLimiter = options.rateLimiter ?? new MemoryRateLimiter(this.#now);
    this.#intervalMs = options.statusIntervalMs ?? 250;
    this.#refreshMs = options.presenceRefreshMs ?? 15_000;
    this.#unsubscribe = this.bus.subscribe((message) => this.#heard(message));
    this.#unlisten = this.bus.onListening?.(() => this.#publish({ visitId: '', kind: 'sync' }));
    // Repeat our presence (a crashed instance stops repeating, and is forgotten), forget the silent.
    this.#refresh = setInterval(() => this.#tick(), this.#refreshMs).unref();
    // A new instance asks the others for their presence.
    this.#publish({ visitId: '', kind: 'sync' });
  }

  #mac(key: Uint8Array, payload: string): Buffer {
    return createHmac('sha256', key).update(`visit-ticket.${payload}`).digest();
  }

  /**
   * A ticket for a page opened with a valid link of this visit. `linkId` (the link's jti) names the
   * participant, bound by the MAC: every page of one link is one participant.
   */
  issueTicket(visit: VisitRecord, role: Role, exp: number, linkId?: string): string {
    const payload = b64(
      JSON.stringify({
        v: visit.id,
        o: visit.orgId,
        r: role,
        x: exp,
        p: linkId === undefined ? randomBytes(9).toString('base64url') : participantOf(linkId),
      }),
    );
    return `${payload}.${b64(this.#mac(this.#keyring.active().signingSecret, payload))}`;
  }

  /**
   * readTicket, reloading the keys once when none verifies a well-formed ticket: another instance
   * may have rotated the broker key and signed this ticket with the new one.
   */
  async verifyTicket(ticket: unknown): Promise<Ticket> {
    try {
      return this.readTicket(ticket);
    } catch (err) {
      if (!(err instanceof TicketError) || typeof ticket !== 'string' || !TICKET_SHAPE.test(ticket))
        throw err;
      await this.#keyring.load();
      return this.readTicket(ticket);
    }
  }

  readTicket(ticket: unknown): Ticket {
    if (typeof ticket !== 'string' || ticket.length > 512 || !TICKET.test(ticket)) {
      throw new TicketError();
    }
    const [payload, mac] = ticket.split('.') as [string, string];
    const given = Buffer.from(mac, 'base64url');
    const ok = this.#keyring
      .candidates()
      .some((key) => timingSafeEqual(this.#mac(key.signingSecret, payload), given));
    if (!ok) throw new TicketError();
    const t = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof t['x'] !== 'number' || t['x'] <= this.#now()) throw new TicketError();
    const participant = String(t['p']);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(participant)) throw new TicketError();
    return {
      visitId: String(t['v']),
      orgId: String(t['o']),
      role: t['r'] === 'host' ? 'host' : 'guest',
      exp: t['x'],
      participant,
    };
  }

  async #visit(ticket: Ticket): Promise<VisitRecord> {
    const visit = await this.#store.getVisit(ticket.orgId, ticket.visitId);
    if (!visit) throw new NotFoundError('This visit no longer exists');
    if (visit.status === 'cancelled') throw new CancelledError();
    return visit;
  }

  #event(visit: VisitRecord, actor: string, type: string, data: Record<string, unknown> = {}): EventRecord {
    return { orgId: visit.orgId, visitId: visit.id, at: this.#now(), actor, type, data };
  }

  async #read(orgId: string, visitId: string): Promise<Snapshot> {
    const visit = await this.#store.getVisit(orgId, visitId);
    const events = visit && visit.devices.length > 0 ? await this.#store.listEvents(orgId, visitId) : [];
    return { visit, events };
  }

  #statusOf(visit: VisitRecord, events: EventRecord[], role: Role): LiveStatus {
    // To a visitor, a no-show's link has simply expired: pages keep their words.
    const derived = visitState(visit, this.#now());
    const state = derived === 'no_show' ? 'expired' : derived;
    const devices = visit.devices.map((uri): DeviceStatus => {
      const last = events.filter((e) => e.type.startsWith('device.') && e.data['uri'] === uri).at(-1);
      const status = last ? (last.type.slice('device.'.length) as DeviceStatus['status']) : 'waiting';
      return { uri, status };
    });
    const counts = this.presence(visit.id);
    return {
      visitId: visit.id,
      subject: visit.subject,
      role,
      state,
      admitted: role === 'host' || state === 'live',
      hostsPresent: counts.host,
      guestsPresent: counts.guest,
      devices,
      end: visit.expiresAt,
    };
  }

  async status(ticket: Ticket): Promise<LiveStatus> {
    const { visit, events } = await this.#read(ticket.orgId, ticket.visitId);
    if (!visit) throw new NotFoundError('This visit no longer exists');
    return this.#statusOf(visit, events, ticket.role);
  }

  // —— presence ——

  /**
   * Participants present now (a participant is a link with at least one event stream open, on
   * any instance that spoke within the last three refreshes).
   */
  presence(visitId: string): { host: number; guest: number } {
    const here = new Set([
      ...(this.#local.get(visitId)?.keys() ?? []),
      ...(this.#grace.get(visitId)?.keys() ?? []),
    ]);
    const horizon = Date.now() - 3 * this.#refreshMs;
    for (const remote of this.#remote.get(visitId)?.values() ?? []) {
      if (remote.seen < horizon) continue;
      for (const key of remote.entries.keys()) here.add(key);
    }
    let host = 0;
    let guest = 0;
    for (const key of here) {
      if (key.startsWith('h:')) host += 1;
      else guest += 1;
    }
    return { host, guest };
  }

  /** Streams of one participant open now, on every instance. */
  #streamsOf(visitId: string, key: string): number {
    let n = this.#local.get(visitId)?.get(key) ?? 0;
    const horizon = Date.now() - 3 * this.#refreshMs;
    for (const remote of this.#remote.get(visitId)?.values() ?? []) {
      if (remote.seen >= horizon) n += remote.entries.get(key) ?? 0;
    }
    return n;
  }

  #publish(message: LiveMessage): void {
    if (this.#closed) return;
    // Nobody awaits this: a bus that cannot publish (database down) must not end the process;
    // the next refresh repeats presence.
    try {
      Promise.resolve(this.bus.publish({ ...message, origin: this.#instance })).catch(() => {});
    } catch {}
  }

  /** Tells the other instances this one's participants of a visit (all of them: a lost message heals). */
  #publishPresence(visitId: string): void {
    const local = this.#local.get(visitId) ?? new Map<string, number>();
    const entries = [...local].map(([key, n]) => `${key}:${Math.min(n, 9999)}`);
    // Hosts in their grace period: present with no stream (`:0`), so other instances count them.
    for (const key of this.#grace.get(visitId)?.keys() ?? []) if (!local.has(key)) entries.push(`${key}:0`);
    let first = true;
    do {
      this.#publish({
        visitId,
        kind: 'presence',
        present: entries.splice(0, PRESENT_CHUNK),
        ...(first ? { reset: true } : {}),
      });
      first = false;
    } while (entries.length > 0);
  }

  #heard(message: LiveMessage): void {
    if (message.kind === 'sync') {
      if (message.origin === this.#instance) return;
      // At most once a second, however many ask (a later ask is answered at the end of the second).
      if (this.#resyncTimer) return;
      const resync = () => {
        this.#resyncTimer = undefined;
        this.#resyncAt = Date.now() + 1000;
        for (const visitId of new Set([...this.#local.keys(), ...this.#grace.keys()]))
          this.#publishPresence(visitId);
      };
      const wait = this.#resyncAt - Date.now();
      if (wait <= 0) resync();
      else this.#resyncTimer = setTimeout(resync, wait).unref();
      return;
    }
    if (message.kind === 'presence') {
      // Ours are counted from our own streams; older instances' socket counts are ignored.
      if (!message.present || !message.origin || message.origin === this.#instance) return;
      const before = this.presence(message.visitId);
      const origins = this.#remote.get(message.visitId) ?? new Map<string, Remote>();
      const remote = (message.reset ? undefined : origins.get(message.origin)) ?? {
        seen: 0,
        entries: new Map<string, number>(),
      };
      remote.seen = Date.now();
      for (const entry of message.present) {
        const m = PRESENT_ENTRY.exec(entry);
        if (m) remote.entries.set(`${m[1]}:${m[2]}`, Number(m[3]));
      }
      if (remote.entries.size === 0) origins.delete(message.origin);
      else origins.set(message.origin, remote);
      if (origins.size === 0) this.#remote.delete(message.visitId);
      else this.#remote.set(message.visitId, origins);
      const after = this.presence(message.visitId);
      if (before.host !== after.host || before.guest !== after.guest) this.#changed(message.visitId, false);
      return;
    }
    this.#changed(message.visitId, true);
  }

  /** The refresh: repeat our presence, forget silent instances and finished joins. */
  #tick(): void {
    for (const visitId of new Set([...this.#local.keys(), ...this.#grace.keys()]))
      this.#publishPresence(visitId);
    const horizon = Date.now() - 3 * this.#refreshMs;
    for (const [visitId, origins] of this.#remote) {
      let forgot = false;
      for (const [origin, remote] of origins) {
        if (remote.seen < horizon) {
          origins.delete(origin);
          forgot = true;
        }
      }
      if (origins.size === 0) this.#remote.delete(visitId);
      if (forgot) this.#changed(visitId, false);
    }
    const now = this.#now();
    for (const [visitId, joined] of this.#joined) {
      for (const [key, entry] of joined) if (entry.exp <= now) joined.delete(key);
      if (joined.size === 0) this.#joined.delete(visitId);
    }
  }

  // —— event streams ——

  /**
   * Opens an event stream for a page: refused (before any store read) past the limits per
   * participant (429), per address (429) and on this instance (503); refused with 410 when the
   * visit is cancelled or over. The stream then gets every change of the visit, coalesced, and
   * ends after the final status at the visit's end, at its cancellation and at the ticket's expiry.
   */
  async openStream(ticket: Ticket, address: string, sink: LiveSink): Promise<LiveStream> {
    const key = `${ticket.role === 'host' ? 'h' : 'g'}:${ticket.participant}`;
    if (this.#closed) throw new OverloadedError(5);
    if (this.#streamsOf(ticket.visitId, key) >= this.limits.streamsPerParticipant) {
      throw new RateLimitedError(
        `This link already has ${this.limits.streamsPerParticipant} live pages open: close one first`,
        10,
      );
    }
    if ((this.#byAddress.get(address) ?? 0) >= this.limits.streamsPerAddress) {
      throw new RateLimitedError('Too many live pages are open from your address; try again later', 10);
    }
    if (this.#streams >= this.limits.streams) throw new OverloadedError(10);
    // Counted at once, before the read: streams opening together cannot pass the limits together.
    const stream: Stream = { ticket, key, address, sink, timer: undefined, closed: false };
    this.#streams += 1;
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1);
    const local = this.#local.get(ticket.visitId) ?? new Map<string, number>();
    this.#local.set(ticket.visitId, local);
    local.set(key, (local.get(key) ?? 0) + 1);
    // A host back within the grace period (a reload) never left.
    this.#endGrace(ticket.visitId, key);
    const channel = this.#channel(ticket.visitId);
    channel.streams.add(stream);
    let first: LiveStatus;
    let record: VisitRecord;
    try {
      const { visit, events } = await this.#snapshot(channel, ticket.orgId);
      if (!visit) throw new NotFoundError('This visit no longer exists');
      record = visit;
      if (visit.status === 'cancelled') throw new CancelledError();
      first = this.#statusOf(visit, events, ticket.role);
      if (first.state === 'ended') throw new EndedError('This visit has ended: the host ended it for all');
      if (first.state === 'expired') throw new EndedError("This visit's time is over: ask for a new link");
    } catch (err) {
      this.#drop(stream);
      throw err;
    }
    if (!stream.closed) {
      this.#armExpiry(stream);
      // A host recorded gone who comes back by their stream alone (EventSource reconnects without
      // a join): joined again.
      const mark = this.#joined.get(ticket.visitId)?.get(`${ticket.role}:${ticket.participant}`);
      if (ticket.role === 'host' && mark?.joined === false && this.#mark(ticket, true)) {
        await this.#store
          .appendEvent(this.#event(record, 'host', 'host.joined', { participant: ticket.participant }))
          .catch(() => {});
      }
      // One participant more (or one more page of one): the others hear it, at most once a broadcast.
      this.#publishPresence(ticket.visitId);
      this.#changed(ticket.visitId, false);
    }
    return { first, close: () => this.#drop(stream) };
  }

  #armExpiry(stream: Stream): void {
    const ms = stream.ticket.exp * 1000 - Date.now();
    stream.timer = setTimeout(
      () => {
        if (stream.closed) return;
        if (stream.ticket.exp > this.#now()) return this.#armExpiry(stream);
        const snapshot = this.#channels.get(stream.ticket.visitId)?.snapshot;
        if (snapshot?.visit)
          stream.sink.send(this.#statusOf(snapshot.visit, snapshot.events, stream.ticket.role));
        this.#drop(stream, 'ticket-expired');
      },
      Math.max(0, Math.min(ms, MAX_TIMER_MS)),
    );
    stream.timer.unref();
  }

  /** A stream is gone (the client left, or the server ended it with `reason`). */
  #drop(stream: Stream, reason?: StreamEnd): void {
    if (stream.closed) return;
    stream.closed = true;
    clearTimeout(stream.timer);
    const { visitId } = stream.ticket;
    this.#streams -= 1;
    const byAddress = (this.#byAddress.get(stream.address) ?? 1) - 1;
    if (byAddress > 0) this.#byAddress.set(stream.address, byAddress);
    else this.#byAddress.delete(stream.address);
    const local = this.#local.get(visitId);
    const n = (local?.get(stream.key) ?? 1) - 1;
    if (n > 0) local?.set(stream.key, n);
    else local?.delete(stream.key);
    if (local?.size === 0) this.#local.delete(visitId);
    // A host's last stream here closed by the client (a closed tab, a reload, a dropped connection):
    // still present for the grace period. A stream the server ended (the visit is over) has none.
    if (n <= 0 && reason === undefined && stream.ticket.role === 'host' && !this.#closed) {
      this.#startGrace(stream.ticket);
    }
    const channel = this.#channels.get(visitId);
    channel?.streams.delete(stream);
    if (reason) {
      try {
        stream.sink.end(reason);
      } catch {}
    }
    this.#publishPresence(visitId);
    if (channel && channel.streams.size === 0) this.#forget(channel);
    else this.#changed(visitId, false);
  }

  // —— hosts' grace period ——

  /** Counts a host with no stream here as present for `hostGraceSeconds`, then as gone. */
  #startGrace(ticket: Ticket): void {
    const key = `h:${ticket.participant}`;
    this.#endGrace(ticket.visitId, key);
    const byVisit =
      this.#grace.get(ticket.visitId) ?? new Map<string, { ticket: Ticket; timer: NodeJS.Timeout }>();
    this.#grace.set(ticket.visitId, byVisit);
    const timer = setTimeout(() => void this.#graceOver(ticket, key), this.limits.hostGraceSeconds * 1000);
    timer.unref();
    byVisit.set(key, { ticket, timer });
  }

  /** Ends a host's grace period (their stream is back, they left, or the visit is over): true if one ran. */
  #endGrace(visitId: string, key: string): boolean {
    const byVisit = this.#grace.get(visitId);
    const entry = byVisit?.get(key);
    if (!byVisit || !entry) return false;
    clearTimeout(entry.timer);
    byVisit.delete(key);
    if (byVisit.size === 0) this.#grace.delete(visitId);
    return true;
  }

  /**
   * The grace period ran out: a host with no stream here nor on another instance is gone
   * (`host.left`, once); guests hear that no host is present.
   */
  async #graceOver(ticket: Ticket, key: string): Promise<void> {
    if (!this.#endGrace(ticket.visitId, key) || this.#closed) return;
    this.#publishPresence(ticket.visitId);
    this.#changed(ticket.visitId, false);
    if ((this.#local.get(ticket.visitId)?.get(key) ?? 0) > 0) return;
    // Still present on another instance (its stream moved there, or its grace runs there): that one decides.
    const horizon = Date.now() - 3 * this.#refreshMs;
    for (const remote of this.#remote.get(ticket.visitId)?.values() ?? []) {
      if (remote.seen >= horizon && remote.entries.has(key)) return;
    }
    try {
      const visit = await this.#store.getVisit(ticket.orgId, ticket.visitId);
      if (!visit || TERMINAL.has(visitState(visit, this.#now()))) return;
      if (!this.#mark(ticket, false)) return;
      await this.#store.appendEvent(
        this.#event(visit, 'host', 'host.left', { participant: ticket.participant, reason: 'gone' }),
      );
    } catch {
      // The store is unreachable: the presence is right; the record misses this departure.
    }
  }

  #channel(visitId: string): Channel {
    let channel = this.#channels.get(visitId);
    if (!channel) {
      channel = {
        visitId,
        streams: new Set(),
        snapshot: undefined,
        stale: true,
        timer: undefined,
        endTimer: undefined,
        flushing: false,
        again: false,
        lastFlush: 0,
        reading: undefined,
      };
      this.#channels.set(visitId, channel);
    }
    return channel;
  }

  #forget(channel: Channel): void {
    clearTimeout(channel.timer);
    clearTimeout(channel.endTimer);
    if (this.#channels.get(channel.visitId) === channel) this.#channels.delete(channel.visitId);
  }

  /** The visit as the streams see it: the last read while nothing changed, or one read shared by all. */
  #snapshot(channel: Channel, orgId: string): Promise<Snapshot> {
    if (channel.snapshot && !channel.stale) return Promise.resolve(channel.snapshot);
    channel.reading ??= (async () => {
      try {
        channel.stale = false;
        this.streamReads += 1;
        const snapshot = await this.#read(orgId, channel.visitId);
        channel.snapshot = snapshot;
        return snapshot;
      } catch (err) {
        channel.stale = true;
        throw err;
      } finally {
        channel.reading = undefined;
      }
    })();
    return channel.reading;
  }

  /**
   * Something about a visit changed: its streams get one fresh status, at most once every
   * statusIntervalMs, read from the store once for all of them when the store changed (`stale`).
   */
  #changed(visitId: string, stale: boolean): void {
    const channel = this.#channels.get(visitId);
    if (!channel) return;
    if (stale) channel.stale = true;
    if (channel.flushing) {
      channel.again = true;
      return;
    }
    if (channel.timer) return;
    const wait = Math.max(0, channel.lastFlush + this.#intervalMs - Date.now());
    channel.timer = setTimeout(() => {
      channel.timer = undefined;
      void this.#flush(channel);
    }, wait);
  }

  async #flush(channel: Channel): Promise<void> {
    const first = channel.streams.values().next().value;
    if (!first || this.#closed) return;
    channel.flushing = true;
    channel.lastFlush = Date.now();
    let snapshot: Snapshot | undefined;
    try {
      snapshot = await this.#snapshot(channel, first.ticket.orgId);
    } catch {
      // The store is unreachable: try again at the next change (or refresh).
      channel.stale = true;
    }
    channel.flushing = false;
    if (snapshot) this.#broadcast(channel, snapshot);
    if (channel.again && this.#channels.get(channel.visitId) === channel) {
      channel.again = false;
      this.#changed(channel.visitId, false);
    }
  }

  #broadcast(channel: Channel, { visit, events }: Snapshot): void {
    const streams = [...channel.streams];
    if (!visit) {
      for (const stream of streams) this.#drop(stream, 'gone');
      return;
    }
    const byRole = new Map<Role, LiveStatus>();
    for (const stream of streams) {
      const { role } = stream.ticket;
      let status = byRole.get(role);
      if (!status) {
        status = this.#statusOf(visit, events, role);
        byRole.set(role, status);
      }
      try {
        stream.sink.send(status);
      } catch {}
    }
    const state = byRole.values().next().value?.state;
    if (state && TERMINAL.has(state)) {
      this.#joined.delete(visit.id);
      for (const key of [...(this.#grace.get(visit.id)?.keys() ?? [])]) this.#endGrace(visit.id, key);
      for (const stream of streams) this.#drop(stream, state as StreamEnd);
      return;
    }
    // The visit's end comes by the clock: wake then, with no message needed.
    clearTimeout(channel.endTimer);
    const ms = visit.expiresAt * 1000 - Date.now() + 50;
    channel.endTimer = setTimeout(
      () => this.#changed(channel.visitId, false),
      Math.max(0, Math.min(ms, MAX_TIMER_MS)),
    );
    channel.endTimer.unref();
  }

  /** Event streams open on this instance. */
  get streams(): number {
    return this.#streams;
  }

  // —— join, leave, end ——

  /** Counts one join or leave of a participant: past the limit a minute, 429 (before any store read). */
  async #limitJoins(ticket: Ticket): Promise<void> {
    const decision = await this.#rateLimiter.hit(
      `live-join:${ticket.visitId}:${ticket.role}:${ticket.participant}`,
      this.limits.joinsPerMinute,
      60,
    );
    if (!decision.allowed) {
      throw new RateLimitedError(
        `Too many joins and leaves from this link: at most ${this.limits.joinsPerMinute} a minute; try again in ${decision.retryAfter} s`,
        decision.retryAfter,
      );
    }
  }

  /** Records that a participant joined (true) or left; false when that was already so. */
  #mark(ticket: Ticket, joined: boolean): boolean {
    const byVisit = this.#joined.get(ticket.visitId) ?? new Map<string, { joined: boolean; exp: number }>();
    this.#joined.set(ticket.visitId, byVisit);
    const key = `${ticket.role}:${ticket.participant}`;
    const was = byVisit.get(key);
    byVisit.set(key, { joined, exp: ticket.exp });
    return was?.joined !== joined;
  }

  /** A participant arrives. The first host starts the visit and dials its devices. */
  async join(ticket: Ticket): Promise<LiveStatus> {
    await this.#limitJoins(ticket);
    const visit = await this.#visit(ticket);
    const state = visitState(visit, this.#now());
    if (state === 'ended' || state === 'expired' || state === 'no_show') return this.status(ticket);
    // A joining host is present at once (their page opens its stream next), for the grace period
    // at least: guests are let in by the host's arrival, not by their stream's.
    if (
      ticket.role === 'host' &&
      (this.#local.get(ticket.visitId)?.get(`h:${ticket.participant}`) ?? 0) === 0
    ) {
      const wasPresent = this.presence(ticket.visitId).host;
      this.#startGrace(ticket);
      this.#publishPresence(ticket.visitId);
      if (this.presence(ticket.visitId).host !== wasPresent) this.#changed(ticket.visitId, false);
    }
    // A participant already here (another page, a reload) joins once.
    if (this.#mark(ticket, true)) {
      await this.#store.appendEvent(
        this.#event(visit, ticket.role, `${ticket.role}.joined`, { participant: ticket.participant }),
      );
    }
    if (ticket.role === 'guest') {
      // Every join, not only the first: a guest back after the wait ended starts a new one.
      const arrival = await this.#arrivals.record(visit.orgId, visit.id, 'guest', 'lobby', {
        participant: ticket.participant,
      });
      if (arrival.waitStarted) await this.bus.publish({ visitId: visit.id, kind: 'state' });
    } else if (visit.status === 'pending') {
      const arrival = await this.#arrivals.record(visit.orgId, visit.id, 'host', 'lobby', {
        participant: ticket.participant,
      });
      if (arrival.wentLive && arrival.visit) {
        await this.bus.publish({ visitId: visit.id, kind: 'state' });
        await this.#dialDevices(arrival.visit);
      }
    }
    return this.status(ticket);
  }

  async #dialDevices(visit: VisitRecord): Promise<void> {
    for (const uri of visit.devices) {
      await this.#store.appendEvent(this.#event(visit, 'system', 'device.dialling', { uri }));
      await this.bus.publish({ visitId: visit.id, kind: 'device' });
      let result: { ok: boolean; detail?: string };
      try {
        result = await this.#dialler.dial(uri, visit);
      } catch (err) {
        result = { ok: false, detail: (err as Error).message };
      }
      await this.#store.appendEvent(
        this.#event(visit, 'system', result.ok ? 'device.connected' : 'device.failed', {
          uri,
          ...(result.detail ? { detail: result.detail } : {}),
        }),
      );
      await this.bus.publish({ visitId: visit.id, kind: 'device' });
    }
  }

  async leave(ticket: Ticket): Promise<void> {
    await this.#limitJoins(ticket);
    const visit = await this.#store.getVisit(ticket.orgId, ticket.visitId);
    if (!visit) return;
    // Who says they left is gone now, with no grace period.
    if (ticket.role === 'host' && this.#endGrace(ticket.visitId, `h:${ticket.participant}`)) {
      this.#publishPresence(ticket.visitId);
      this.#changed(ticket.visitId, false);
    }
    if (!this.#mark(ticket, false)) return;
    await this.#store.appendEvent(
      this.#event(visit, ticket.role, `${ticket.role}.left`, { participant: ticket.participant }),
    );
    // The last waiting guest left: nobody waits (a guest who comes back starts a new wait).
    if (ticket.role === 'guest' && visit.waitingSince !== undefined && !this.#otherGuests(ticket)) {
      if (await this.#arrivals.guestsGone(visit.orgId, visit.id))
        await this.bus.publish({ visitId: visit.id, kind: 'state' });
    }
  }

  /** Another guest than this ticket's is present (a page open here or on another instance) or joined here. */
  #otherGuests(ticket: Ticket): boolean {
    const self = `g:${ticket.participant}`;
    if ([...(this.#local.get(ticket.visitId)?.keys() ?? [])].some((k) => k.startsWith('g:') && k !== self))
      return true;
    const joined = this.#joined.get(ticket.visitId);
    for (const [key, entry] of joined ?? [])
      if (entry.joined && key.startsWith('guest:') && key !== `guest:${ticket.participant}`) return true;
    const horizon = Date.now() - 3 * this.#refreshMs;
    for (const remote of this.#remote.get(ticket.visitId)?.values() ?? []) {
      if (remote.seen < horizon) continue;
      for (const key of remote.entries.keys()) if (key.startsWith('g:') && key !== self) return true;
    }
    return false;
  }

  /** The host ends the visit for everyone. */
  async end(ticket: Ticket): Promise<LiveStatus> {
    if (ticket.role !== 'host')
      throw new InstantConnectError('ERR_FORBIDDEN', 'Only a host can end the visit for all');
    const visit = await this.#visit(ticket);
    const ended = await this.#store.transitionVisit(
      visit.orgId,
      visit.id,
      ['pending', 'live'],
      'ended',
      this.#now(),
      this.#event(visit, 'host', 'visit.ended'),
    );
    if (ended) await this.bus.publish({ visitId: visit.id, kind: 'state' });
    return this.status(ticket);
  }

  /** Tells the pages of a visit that changed elsewhere (cancelled by staff, …). */
  async changed(visitId: string): Promise<void> {
    await this.bus.publish({ visitId, kind: 'state' });
  }

  /** Ends every stream (a graceful shutdown must not wait for them; pages reconnect elsewhere). */
  endStreams(reason: StreamEnd = 'closing'): void {
    for (const channel of [...this.#channels.values()]) {
      for (const stream of [...channel.streams]) this.#drop(stream, reason);
    }
  }

  async close(): Promise<void> {
    this.endStreams();
    this.#closed = true;
    for (const [visitId, byVisit] of [...this.#grace])
      for (const key of [...byVisit.keys()]) this.#endGrace(visitId, key);
    clearInterval(this.#refresh);
    clearTimeout(this.#resyncTimer);
    this.#unsubscribe();
    this.#unlisten?.();
    await this.bus.close();
  }
}
