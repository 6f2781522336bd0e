/**
 * Helpers of the visit tests: the visits API with the test key, the visit pages (and the ticket
 * they hold), the live API, and a small reader of server-sent events over a real fetch.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertEnvelope, assertHtml, call, HTML, type HttpAnswer } from '../broker/helpers.js';
import { eventually as poll } from '../support/eventually.js';
import type { TestServer } from '../support/server.js';

export { assertEnvelope, assertHtml, call, type HttpAnswer, sleep };

/** PBKDF2 at its minimum so visits are quick to make. */
export const FAST = { crypto: { iterations: 1000 } } as const;

export interface LinkView {
  role: 'host' | 'guest';
  index: number;
  cipher: string;
  short?: string;
  shortUrl?: string;
  longUrl: string;
  forcedLoginUrl?: string;
}

export interface Visit {
  id: string;
  subject: string;
  state: string;
  start: string;
  end: string;
  notBefore?: number;
  expiresAt: number;
  vertical: 'gen' | 'hc';
  hostLogin: boolean;
  shortUrls: boolean;
  devices: string[];
  source: string;
  createdBy: string;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  cancelledAt?: string;
  firstGuestAt?: string;
  waitingSince?: string;
  missing?: ('host' | 'guest')[];
  counts: { hosts: number; guests: number };
  hosts: LinkView[];
  guests: LinkView[];
  recipients?: Record<string, unknown>[];
}

export interface VisitEvent {
  orgId: string;
  visitId: string;
  at: number;
  actor: string;
  type: string;
  data: Record<string, unknown>;
}

/** A request to the visits API with the server's key (or `key`, or no key when null). */
export function api(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
  options: { key?: string | null } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  const key = options.key === undefined ? server.key : options.key;
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return call(`${server.url}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** POST /api/visits with fast crypto; fails the test unless it is a 201. */
export async function createVisit(
  server: TestServer,
  input: Record<string, unknown> = {},
  key?: string,
): Promise<Visit> {
  const answer = await api(server, 'POST', '/api/visits', { ...FAST, ...input }, key ? { key } : {});
  assert.equal(answer.status, 201, answer.text);
  return answer.body as Visit;
}

export async function getVisit(server: TestServer, id: string): Promise<Visit> {
  const answer = await api(server, 'GET', `/api/visits/${id}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body as Visit;
}

export async function listVisits(
  server: TestServer,
  query: Record<string, string | number> = {},
): Promise<{ items: Visit[]; total: number; limit: number; offset: number }> {
  const qs = new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
  const answer = await api(server, 'GET', `/api/visits${qs ? `?${qs}` : ''}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body;
}

export async function eventsOf(server: TestServer, id: string): Promise<VisitEvent[]> {
  const answer = await api(server, 'GET', `/api/visits/${id}/events`);
  assert.equal(answer.status, 200, answer.text);
  assert.ok(Array.isArray(answer.body.items), answer.text);
  return answer.body.items;
}

/** A name unique to this run, for subjects that `q` can find again. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The ticket a visit page holds in `data-ticket`. */
export function ticketOf(html: string): string {
  const match = /data-ticket="([^"]+)"/.exec(html);
  assert.ok(match, `no data-ticket in the page:\n${html.slice(0, 500)}`);
  return match[1]!;
}

/** GET a page as a browser asks for it (HTML), without following redirects. */
export function getPage(url: string): Promise<HttpAnswer> {
  return call(url, { headers: HTML });
}

/** Opens a link's visit page (a short link is followed once, as a browser would) and returns the HTML. */
export async function openPage(url: string, status = 200): Promise<string> {
  let answer = await getPage(url);
  if (answer.status === 302) {
    const location = answer.headers.get('location');
    assert.ok(location, 'a redirect without Location');
    answer = await getPage(new URL(location, url).toString());
  }
  return assertHtml(answer, status);
}

/** The ticket of the page a link opens. */
export async function ticketFor(link: LinkView): Promise<string> {
  return ticketOf(await openPage(link.longUrl));
}

/** POST /live/{join|leave|end} with a ticket. */
export function live(
  server: TestServer,
  action: 'join' | 'leave' | 'end',
  body: unknown,
): Promise<HttpAnswer> {
  return call(`${server.url}/live/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

export async function liveStatus(server: TestServer, ticket: string): Promise<LiveStatusView> {
  const answer = await call(`${server.url}/live/status?ticket=${encodeURIComponent(ticket)}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body;
}

export interface LiveStatusView {
  visitId: string;
  subject: string;
  role: 'host' | 'guest';
  state: string;
  admitted: boolean;
  hostsPresent: number;
  guestsPresent: number;
  devices: { uri: string; status: string }[];
  end: number;
}

/** Polls `read` until `ok` holds of its value (bounded: 5000 ms unless told). */
export const eventually = <T>(
  read: () => T | Promise<T>,
  ok: (value: T) => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<T> => poll(read, ok, what, timeoutMs);

export interface SseFrame {
  event: string;
  data: string;
  /** `data` parsed as JSON (undefined when it is not JSON). */
  json: any;
}

/**
 * A server-sent event stream read from a fetch body. `next` waits for the next frame (after the
 * ones already taken) that matches; `close` cancels the reader, which closes the connection.
 */
export class SseReader {
  readonly frames: SseFrame[] = [];
  #taken = 0;
  #ended = false;
  #error: unknown;
  readonly #wake = new Set<() => void>();
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #pump: Promise<void>;

  private constructor(
    readonly response: Response,
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ) {
    this.#reader = reader;
    this.#pump = this.#read();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
    assert.equal(
      response.status,
      200,
      `event stream answered ${response.status}: ${await errorText(response)}`,
    );
    return SseReader.of(response);
  }

  /** The reader of a response already known to be a 200 event stream. */
  static of(response: Response): SseReader {
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(response.body, 'an event stream without a body');
    return new SseReader(response, response.body.getReader());
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let cut = buffer.indexOf('\n\n');
        while (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const frame = parseFrame(block);
          if (frame) this.frames.push(frame);
          cut = buffer.indexOf('\n\n');
        }
        this.#notify();
      }
    } catch (err) {
      this.#error = err;
    } finally {
      this.#ended = true;
      this.#notify();
    }
  }

  #notify() {
    for (const wake of [...this.#wake]) wake();
  }

  /** Whether the server ended the stream. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The next frame matching `predicate`; frames before it are passed over. */
  async next(predicate: (frame: SseFrame) => boolean, what: string, timeoutMs = 5000): Promise<SseFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#taken < this.frames.length) {
        const frame = this.frames[this.#taken++]!;
        if (predicate(frame)) return frame;
      }
      if (this.#ended) {
        assert.fail(
          `the stream ended before ${what}${this.#error ? ` (${String(this.#error)})` : ''}; ${this.#seen()}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}; ${this.#seen()}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#wake.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#wake.add(wake);
      });
    }
  }

  /** The next `status` frame whose data satisfies `ok`. */
  async status(
    ok: (status: LiveStatusView) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<LiveStatusView> {
    const frame = await this.next(
      (f) => f.event === 'status' && f.json !== undefined && ok(f.json),
      what,
      timeoutMs,
    );
    return frame.json;
  }

  /** Waits until the server ends the stream. */
  async waitEnded(timeoutMs = 5000): Promise<void> {
    await Promise.race([
      this.#pump,
      sleep(timeoutMs).then(() => assert.fail(`the server did not end the stream; ${this.#seen()}`)),
    ]);
  }

  #seen(): string {
    return `frames so far: ${JSON.stringify(this.frames.map((f) => `${f.event}: ${f.data}`))}`;
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
    await this.#pump;
  }
}

function parseFrame(block: string): SseFrame | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  const text = data.join('\n');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {}
  return { event, data: text, json };
}

async function errorText(response: Response): Promise<string> {
  if (response.status === 200) return '';
  return (await response.text()).slice(0, 300);
}

/** The live event stream of a page's ticket. */
export function liveEvents(server: TestServer, ticket: string): Promise<SseReader> {
  return SseReader.open(`${server.url}/live/events?ticket=${encodeURIComponent(ticket)}`);
}

/**
 * Asserts no secret appears in `text`: no cipher of the given links, no API key, and no broker
 * key secret (read from the store, in the encodings a leak would take).
 */
export async function assertNoSecret(server: TestServer, text: string, links: LinkView[], what: string) {
  for (const link of links) {
    assert.ok(!text.includes(link.cipher), `${what} contains a link's cipher`);
    assert.ok(
      !text.includes(encodeURIComponent(link.cipher)),
      `${what} contains a link's cipher (URL-encoded)`,
    );
    // Any long piece of the token (its encrypted key, IV, ciphertext or tag) would be a leak too.
    for (const part of link.cipher.split('.').filter((p) => p.length >= 16)) {
      assert.ok(!text.includes(part), `${what} contains a segment of a link's cipher`);
    }
  }
  assert.ok(!text.includes(server.key), `${what} contains the API key`);
  for (const stored of await server.server.context.store.listBrokerKeys()) {
    assert.ok(!text.includes(stored.material), `${what} contains a broker key's material`);
  }
  for (const key of server.server.context.keyring.candidates()) {
    for (const secret of [key.encryptionSecret, key.signingSecret]) {
      const bytes = Buffer.from(secret);
      for (const encoded of [bytes.toString('base64url'), bytes.toString('base64'), bytes.toString('hex')]) {
        assert.ok(!text.includes(encoded), `${what} contains a broker key secret`);
      }
    }
  }
}

/** Every `<script>` of a page loads a file under /assets/ and carries no inline code. */
export function assertScriptsFromAssets(html: string, what: string): void {
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)];
  const opening = html.match(/<script\b/gi) ?? [];
  assert.equal(scripts.length, opening.length, `${what}: a <script> without a closing tag`);
  for (const [, attrs, inline] of scripts) {
    const src = /\bsrc="([^"]*)"/.exec(attrs ?? '')?.[1];
    assert.ok(src, `${what}: a <script> without src`);
    assert.match(src, /^\/assets\/[A-Za-z0-9._/-]+$/, `${what}: a script from outside /assets/`);
    assert.ok(!src.includes('..'), `${what}: a script path climbs out of /assets/`);
    assert.equal((inline ?? '').trim(), '', `${what}: inline script code`);
  }
}
