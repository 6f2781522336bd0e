/**
 * Live visit changes across instances that share one PostgreSQL database: LISTEN on one dedicated
 * connection, NOTIFY through the pool. Every instance (this one too) hears every message once, from
 * the database, so presence is counted the same way everywhere. No extra service is needed.
 *
 * When the listening connection drops (database restart, network), it reconnects by itself with
 * a growing delay; messages sent while it was away are not replayed, but `onListening` listeners
 * hear of each reconnection (LiveVisits then asks the other instances to repeat their presence,
 * and pages re-read the visit's status on their next message or reload).
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { LiveBus, LiveMessage } from '../visits/live.js';

export const LIVE_CHANNEL = 'ic_live';

export interface PostgresBusOptions {
  /** Publish through this pool (the store's); default a small pool of the bus's own, ended on close. */
  pool?: pg.Pool;
  /** The NOTIFY channel (default `ic_live`). */
  channel?: string;
  /** Reconnection delay: first, and most (ms). */
  retry?: { minMs?: number; maxMs?: number };
}

const KINDS = new Set(['state', 'presence', 'device', 'sync']);
/** A presence entry: role initial, participant id, streams open (see LiveMessage.present). */
const PRESENT_ENTRY = /^[hg]:[A-Za-z0-9_-]{1,32}:\d{1,4}$/;

/** A message from the channel, or undefined when it is not one of ours. */
export function parseLiveMessage(payload: string | undefined): LiveMessage | undefined {
  if (!payload || payload.length > 4000) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  if (typeof o['visitId'] !== 'string' || !KINDS.has(o['kind'] as string)) return undefined;
  const message: LiveMessage = { visitId: o['visitId'], kind: o['kind'] as LiveMessage['kind'] };
  if (o['role'] === 'host' || o['role'] === 'guest') message.role = o['role'];
  if (o['delta'] === 1 || o['delta'] === -1) message.delta = o['delta'];
  if (typeof o['origin'] === 'string') message.origin = o['origin'];
  const present = o['present'];
  if (Array.isArray(present) && present.length <= 200)
    message.present = present.filter((e): e is string => typeof e === 'string' && PRESENT_ENTRY.test(e));
  if (o['reset'] === true) message.reset = true;
  return message;
}

export class PostgresBus implements LiveBus {
  readonly #connectionString: string;
  readonly #channel: string;
  readonly #pool: pg.Pool;
  readonly #ownPool: boolean;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #emitter = new EventEmitter().setMaxListeners(0);
  readonly #listening = new Set<() => void>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delay: number;
  #closed = false;
  /** Listening sessions opened so far: 1 after connect(), one more for each reconnection. */
  connections = 0;

  constructor(connectionString: string, options: PostgresBusOptions = {}) {
    this.#connectionString = connectionString;
    this.#channel = options.channel ?? LIVE_CHANNEL;
    this.#ownPool = !options.pool;
    this.#pool =
      options.pool ??
      new pg.Pool({
        connectionString,
        max: 2,
        connectionTimeoutMillis: 5000,
        application_name: 'instant-connect',
      });
    if (this.#ownPool) this.#pool.on('error', () => {});
    this.#minMs = options.retry?.minMs ?? 250;
    this.#maxMs = options.retry?.maxMs ?? 5000;
    this.#delay = this.#minMs;
  }

  /** A bus listening already (rejects when the database cannot be reached). */
  static async connect(connectionString: string, options: PostgresBusOptions = {}): Promise<PostgresBus> {
    const bus = new PostgresBus(connectionString, options);
    try {
      await bus.connect();
    } catch (err) {
      await bus.close();
      throw err;
    }
    return bus;
  }

  /** True while the listening connection is up. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** Opens the listening connection; resolves once LISTEN is in force. */
  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the live bus is closed'));
    if (this.#client) return Promise.resolve();
    this.#connecting ??= this.#listen().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#connectionString,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
      application_name: 'instant-connect-live',
    });
    let dead = false;
    const lost = () => {
      dead = true;
      this.#lost(client);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel !== this.#channel) return;
      const message = parseLiveMessage(n.payload);
      if (message) this.#emitter.emit('message', message);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(this.#channel)}`);
      if (dead) throw new Error('the connection closed while listening');
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      // The driver's message, never the connection string.
      throw new Error(`live bus: cannot listen on PostgreSQL: ${(err as Error).message}`, { cause: err });
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#delay = this.#minMs;
    this.connections += 1;
    if (this.connections > 1) for (const listener of this.#listening) listener();
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners('notification');
    client.end().catch(() => {});
    this.#reconnectLater();
  }

  #reconnectLater(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.connect().catch(() => {
        this.#delay = Math.min(this.#delay * 2, this.#maxMs);
        this.#reconnectLater();
      });
    }, this.#delay);
  }

  async publish(message: LiveMessage): Promise<void> {
    await this.#pool.query('SELECT pg_notify($1, $2)', [this.#channel, JSON.stringify(message)]);
  }

  subscribe(listener: (message: LiveMessage) => void): () => void {
    this.#emitter.on('message', listener);
    return () => this.#emitter.off('message', listener);
  }

  onListening(listener: () => void): () => void {
    this.#listening.add(listener);
    return () => this.#listening.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#listening.clear();
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners('end');
      client.removeAllListeners('notification');
      await client.end().catch(() => {});
    }
    this.#emitter.removeAllListeners();
    if (this.#ownPool) await this.#pool.end();
  }
}
