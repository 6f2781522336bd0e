/**
 * The live side of a visit, as Instant Connect behaves: guests wait in a lobby until a host
 * joins; the first host to join starts the visit and every `sip-no-knock` device is dialled;
 * waiting guests are let in live (server-sent events); the host can end the visit for all; a guest
 * who leaves can rejoin while the link is valid.
 *
 * A page holds a signed ticket (visit, role, expiry), so join/leave/end and the event stream never
 * decrypt the token again (no PBKDF2 per call) and any instance can check it. Changes travel on a
 * LiveBus: in-process here, PostgreSQL LISTEN/NOTIFY when several instances share a database.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import Type from 'typebox';
import type { Keyring } from '../broker/keyring.js';
import type { Role } from '../domain/constants.js';
import { RoleField } from '../domain/links.js';
import { SipUri, Subject } from '../domain/schema.js';
import { VISIT_STATES, visitState } from '../domain/visit-state.js';
import { CancelledError, InstantConnectError, NotFoundError } from '../errors.js';
import type { EventRecord, Store, VisitRecord } from '../store/types.js';

export interface LiveMessage {
  visitId: string;
  /** `state` (the visit changed), `presence` (someone joined or left), `device` (dial progress). */
  kind: 'state' | 'presence' | 'device';
  role?: Role;
  delta?: 1 | -1;
  /** The instance that sent it (presence is counted once per instance). */
  origin?: string;
}

export interface LiveBus {
  publish(message: LiveMessage): void | Promise<void>;
  subscribe(listener: (message: LiveMessage) => void): () => void;
  close(): Promise<void>;
}

export class InProcessBus implements LiveBus {
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

export const recordingDialler: Dialler = {
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
  /** Who this page is, for presence. */
  participant: string;
}

export class TicketError extends InstantConnectError {
  constructor() {
    super('ERR_FORBIDDEN', 'This visit page has expired or is not valid: open your link again');
  }
}

export const DeviceStatusSchema = Type.Object(
  {
    uri: SipUri,
    status: Type.Enum(['waiting', 'dialling', 'connected', 'failed']),
  },
  { $id: 'DeviceStatus' },
);
export type DeviceStatus = Type.Static<typeof DeviceStatusSchema>;

/** What a visit page shows, from the live API and its event stream. */
export const LiveStatusSchema = Type.Object(
  {
    visitId: Type.String(),
    subject: Subject,
    role: RoleField,
    state: Type.Enum([...VISIT_STATES]),
    admitted: Type.Boolean({ description: 'Guests: let in (the visit is live). Hosts: always.' }),
    hostsPresent: Type.Integer({ minimum: 0, description: 'Pages of hosts open now.' }),
    guestsPresent: Type.Integer({ minimum: 0, description: 'Pages of guests open now.' }),
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

export interface LiveVisitsOptions {
  store: Store;
  keyring: Keyring;
  bus?: LiveBus;
  dialler?: Dialler;
  /** Epoch seconds. */
  now?: () => number;
}

const b64 = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');
const TICKET_SHAPE = /^[A-Za-z0-9_-]{1,460}\.[A-Za-z0-9_-]{43}$/;

export class LiveVisits {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly bus: LiveBus;
  readonly #dialler: Dialler;
  readonly #now: () => number;
  readonly #instance = randomBytes(6).toString('hex');
  /** visitId → role → participants present (as counted by every instance's messages). */
  readonly #presence = new Map<string, { host: number; guest: number }>();
  readonly #listeners = new Set<(message: LiveMessage) => void>();
  readonly #unsubscribe: () => void;

  constructor(options: LiveVisitsOptions) {
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.bus = options.bus ?? new InProcessBus();
    this.#dialler = options.dialler ?? recordingDialler;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#unsubscribe = this.bus.subscribe((message) => {
      if (message.kind === 'presence' && message.role && message.delta) {
        const counts = this.#presence.get(message.visitId) ?? { host: 0, guest: 0 };
        counts[message.role] = Math.max(0, counts[message.role] + message.delta);
        this.#presence.set(message.visitId, counts);
      }
      for (const listener of this.#listeners) listener(message);
    });
  }

  #mac(key: Uint8Array, payload: string): Buffer {
    return createHmac('sha256', key).update(`visit-ticket.${payload}`).digest();
  }

  /** A ticket for a page opened with a valid link of this visit. */
  issueTicket(visit: VisitRecord, role: Role, exp: number): string {
    const payload = b64(
      JSON.stringify({
        v: visit.id,
        o: visit.orgId,
        r: role,
        x: exp,
        p: randomBytes(9).toString('base64url'),
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
    return {
      visitId: String(t['v']),
      orgId: String(t['o']),
      role: t['r'] === 'host' ? 'host' : 'guest',
      exp: t['x'],
      participant: String(t['p']),
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

  async status(ticket: Ticket): Promise<LiveStatus> {
    const visit = await this.#store.getVisit(ticket.orgId, ticket.visitId);
    if (!visit) throw new NotFoundError('This visit no longer exists');
    const state = visitState(visit, this.#now());
    const events = visit.devices.length > 0 ? await this.#store.listEvents(visit.orgId, visit.id) : [];
    const devices = visit.devices.map((uri): DeviceStatus => {
      const last = events.filter((e) => e.type.startsWith('device.') && e.data['uri'] === uri).at(-1);
      const status = last ? (last.type.slice('device.'.length) as DeviceStatus['status']) : 'waiting';
      return { uri, status };
    });
    const counts = this.#presence.get(visit.id) ?? { host: 0, guest: 0 };
    return {
      visitId: visit.id,
      subject: visit.subject,
      role: ticket.role,
      state,
      admitted: ticket.role === 'host' || state === 'live',
      hostsPresent: counts.host,
      guestsPresent: counts.guest,
      devices,
      end: visit.expiresAt,
    };
  }

  /** A participant arrives. The first host starts the visit and dials its devices. */
  async join(ticket: Ticket): Promise<LiveStatus> {
    const visit = await this.#visit(ticket);
    const state = visitState(visit, this.#now());
    if (state === 'ended' || state === 'expired') return this.status(ticket);
    await this.#store.appendEvent(
      this.#event(visit, ticket.role, `${ticket.role}.joined`, { participant: ticket.participant }),
    );
    if (ticket.role === 'host' && visit.status === 'pending') {
      const live = await this.#store.transitionVisit(
        visit.orgId,
        visit.id,
        ['pending'],
        'live',
        this.#now(),
        this.#event(visit, 'host', 'visit.started'),
      );
      if (live) {
        await this.bus.publish({ visitId: visit.id, kind: 'state' });
        await this.#dialDevices(live);
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
    const visit = await this.#store.getVisit(ticket.orgId, ticket.visitId);
    if (!visit) return;
    await this.#store.appendEvent(
      this.#event(visit, ticket.role, `${ticket.role}.left`, { participant: ticket.participant }),
    );
  }

  /**
   * Counts a page as present while its event stream is open (a closed tab leaves no ghost).
   * Returns the function that ends the presence.
   */
  async present(ticket: Ticket): Promise<() => void> {
    const message = {
      visitId: ticket.visitId,
      kind: 'presence' as const,
      role: ticket.role,
      origin: this.#instance,
    };
    await this.bus.publish({ ...message, delta: 1 });
    let gone = false;
    return () => {
      if (gone) return;
      gone = true;
      // Nobody awaits this: a bus that cannot publish (database down) must not end the process.
      Promise.resolve(this.bus.publish({ ...message, delta: -1 })).catch(() => {});
    };
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

  /** Calls `listener` for every message about `visitId` until the returned function is called. */
  watch(visitId: string, listener: () => void): () => void {
    const wrapped = (message: LiveMessage) => {
      if (message.visitId === visitId) listener();
    };
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }

  get watchers(): number {
    return this.#listeners.size;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#unsubscribe();
    await this.bus.close();
  }
}
