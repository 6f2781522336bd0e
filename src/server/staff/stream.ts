/**
 * The staff pages' live updates: one server-sent event stream per open page, fed by the live bus
 * every visit change already travels on (a guest waiting, the wait ending, going live, ending, a
 * no-show, a cancel: on PostgreSQL, from every instance). Each stream reads a changed visit through
 * the visits service in its session's organisation (a visit of another organisation is not found
 * and not sent), at most once per change and interval, and sends its state.
 *
 * Bounded: streams per session and per instance, refused before any read; a stream ends when its
 * session expires, and all end when the server stops.
 */
import { OverloadedError, RateLimitedError } from '../../errors.js';
import type { LiveBus } from '../../visits/live.js';
import type { VisitService } from '../../visits/service.js';
import type { StaffSession } from './sessions.js';
import { stateLabel } from './views.js';

interface StaffVisitUpdate {
  id: string;
  state: string;
  label: string;
  missing?: ('host' | 'guest')[];
}

export interface StaffSink {
  send(update: StaffVisitUpdate): void;
  end(): void;
}

interface Stream {
  session: StaffSession;
  key: string;
  sink: StaffSink;
  pending: Set<string>;
  timer: NodeJS.Timeout | undefined;
  expiry: NodeJS.Timeout;
  closed: boolean;
}

export interface StaffStreamsOptions {
  bus: LiveBus;
  visits: VisitService;
  /** Streams one session holds at once (default 4: a list and a few visit pages). */
  perSession?: number;
  /** Streams on this instance (default 200). */
  max?: number;
  /** Least time between two reads for one stream (default 250 ms). */
  intervalMs?: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class StaffStreams {
  readonly #o: Required<StaffStreamsOptions>;
  readonly #streams = new Set<Stream>();
  #unsubscribe: (() => void) | undefined;

  constructor(options: StaffStreamsOptions) {
    this.#o = { perSession: 4, max: 200, intervalMs: 250, ...options };
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Opens a stream for a signed-in session; 429 past the session's streams, 503 past the instance's. */
  open(session: StaffSession, sink: StaffSink): { close(): void } {
    const key = `${session.apiKeyId}:${session.csrf}`;
    const mine = [...this.#streams].filter((s) => s.key === key).length;
    if (mine >= this.#o.perSession)
      throw new RateLimitedError(`At most ${this.#o.perSession} live staff pages per session: close one`, 10);
    if (this.#streams.size >= this.#o.max) throw new OverloadedError(10);
    const stream: Stream = {
      session,
      key,
      sink,
      pending: new Set(),
      timer: undefined,
      expiry: setTimeout(
        () => this.#close(stream, true),
        Math.max(0, Math.min(session.expiresAt * 1000 - Date.now(), MAX_TIMER_MS)),
      ),
      closed: false,
    };
    stream.expiry.unref();
    this.#streams.add(stream);
    this.#unsubscribe ??= this.#o.bus.subscribe((message) => {
      if (message.kind !== 'state' || !message.visitId) return;
      for (const s of this.#streams) this.#changed(s, message.visitId);
    });
    return { close: () => this.#close(stream, false) };
  }

  #changed(stream: Stream, visitId: string): void {
    if (stream.pending.size >= 1000) return; // a flood: the page shows what it can, a reload the rest
    stream.pending.add(visitId);
    stream.timer ??= setTimeout(() => void this.#flush(stream), this.#o.intervalMs);
  }

  async #flush(stream: Stream): Promise<void> {
    const ids = [...stream.pending];
    stream.pending.clear();
    for (const id of ids) {
      if (stream.closed) return;
      try {
        const visit = await this.#o.visits.get(stream.session.org, id);
        const update: StaffVisitUpdate = {
          id: visit.id,
          state: visit.state,
          label: stateLabel(visit.state, visit.missing),
        };
        if (visit.missing) update.missing = visit.missing;
        if (!stream.closed) stream.sink.send(update);
      } catch {
        // Another organisation's visit (not found), one purged meanwhile, or the store down: skip it.
      }
    }
    stream.timer = undefined;
    if (stream.pending.size > 0 && !stream.closed) this.#changed(stream, [...stream.pending][0]!);
  }

  #close(stream: Stream, end: boolean): void {
    if (stream.closed) return;
    stream.closed = true;
    clearTimeout(stream.timer);
    clearTimeout(stream.expiry);
    this.#streams.delete(stream);
    if (end) {
      try {
        stream.sink.end();
      } catch {}
    }
    if (this.#streams.size === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

  /** Ends every stream (the server is stopping). */
  closeAll(): void {
    for (const stream of [...this.#streams]) this.#close(stream, true);
  }
}
