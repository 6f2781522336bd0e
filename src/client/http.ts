/**
 * JSON over HTTP with the retry rules every Webex caller needs: 429 waits for Retry-After,
 * 502/503/504 and network failures back off exponentially with jitter, nothing else is retried.
 * A per-attempt timeout and the caller's AbortSignal bound every call. `fetch` is injectable
 * (octokit's pattern) and the bearer token never reaches an error, a log line or toString().
 */

import type { InstantConnectError } from '../errors.js';
import { AbortError, BadResponseError, HttpError, NetworkError, TimeoutError } from '../errors.js';
import { sleep } from '../util/concurrency.js';
import { redact } from '../util/redact.js';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this fails at once instead of stalling the caller. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 4,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  maxRetryAfterMs: 60_000,
};

export interface HttpClientOptions {
  fetch?: typeof fetch;
  /** Per attempt, default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /** Source of jitter in [0, 1); injectable for tests. */
  random?: () => number;
  /** Called before each retry (for progress output and metrics). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export type TokenSource = string | (() => string | Promise<string>);

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
  trackingId?: string;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

/** Seconds from a Retry-After header: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

class Retryable extends Error {
  constructor(
    readonly error: InstantConnectError,
    readonly delayMs?: number,
  ) {
    super(error.message);
  }
}

/** What a network failure was, in words, from fetch's opaque "fetch failed" and its cause. */
const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens there (is the server running, on that port?)',
  ENOTFOUND: 'no such host (DNS)',
  EAI_AGAIN: 'the host name could not be resolved right now (DNS)',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
};

export function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const code = cause?.code;
  if (code && NETWORK_CAUSES[code]) return `${NETWORK_CAUSES[code]} (${code})`;
  if (code) return cause?.message ? `${code}: ${cause.message}` : code;
  if (cause?.message === 'bad port')
    return 'fetch refuses to connect to that port (a "bad port"): use another';
  return cause?.message ?? (err as Error | undefined)?.message ?? 'unknown error';
}

export class HttpClient {
  readonly #token: TokenSource | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #userAgent: string;
  readonly #random: () => number;
  readonly #onRetry: HttpClientOptions['onRetry'];

  constructor(token: TokenSource | undefined, options: HttpClientOptions = {}) {
    this.#token = token;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#userAgent = options.userAgent ?? 'instant-connect';
    this.#random = options.random ?? Math.random;
    this.#onRetry = options.onRetry;
  }

  toString(): string {
    return '[HttpClient]';
  }

  toJSON(): Record<string, unknown> {
    return { timeoutMs: this.#timeoutMs, retry: this.#retry };
  }

  async #resolveToken(): Promise<string | undefined> {
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    return token || undefined;
  }

  #backoff(attempt: number): number {
    const cap = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** attempt);
    return Math.round(cap / 2 + (this.#random() * cap) / 2);
  }

  /** One JSON request with retries. Throws HttpError, NetworkError, TimeoutError, AbortError or BadResponseError. */
  async request<T = unknown>(
    method: string,
    url: string,
    options: { body?: unknown; signal?: AbortSignal | undefined; headers?: Record<string, string> } = {},
  ): Promise<JsonResponse<T>> {
    const token = await this.#resolveToken();
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw new AbortError();
      try {
        return await this.#attempt<T>(method, url, token, options);
      } catch (err) {
        if (!(err instanceof Retryable)) throw err;
        if (attempt >= this.#retry.retries) throw err.error;
        const delayMs = err.delayMs ?? this.#backoff(attempt);
        this.#onRetry?.({ attempt: attempt + 1, delayMs, reason: err.error.message });
        try {
          await sleep(delayMs, options.signal);
        } catch {
          throw new AbortError();
        }
      }
    }
  }

  async #attempt<T>(
    method: string,
    url: string,
    token: string | undefined,
    options: { body?: unknown; signal?: AbortSignal | undefined; headers?: Record<string, string> },
  ): Promise<JsonResponse<T>> {
    const secrets = [token];
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.#userAgent,
      ...options.headers,
    };
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const where = `${method} ${redact(url, secrets)}`;
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        signal,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      text = await response.text();
    } catch (err) {
      if (options.signal?.aborted) throw new AbortError();
      if (timeout.aborted)
        throw new Retryable(new TimeoutError(`${where} timed out after ${this.#timeoutMs} ms`));
      throw new Retryable(new NetworkError(`${where} failed: ${redact(networkCause(err), secrets)}`));
    }
    const trackingId = response.headers.get('trackingid') ?? undefined;
    let body: unknown;
    let parsed = true;
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = false;
    }
    if (response.ok) {
      if (!parsed)
        throw new BadResponseError(`${where} answered ${response.status} with a body that is not JSON`);
      return {
        status: response.status,
        body: body as T,
        headers: response.headers,
        ...(trackingId ? { trackingId } : {}),
      };
    }
    const error = this.#httpError(response, parsed ? body : undefined, trackingId, where, url, secrets);
    if (response.status === 429) {
      const waitMs = (error.retryAfter ?? 0) * 1000;
      if (waitMs > this.#retry.maxRetryAfterMs) throw error;
      throw new Retryable(error, error.retryAfter !== undefined ? waitMs : undefined);
    }
    if (RETRYABLE_STATUS.has(response.status)) throw new Retryable(error);
    throw error;
  }

  #httpError(
    response: Response,
    body: unknown,
    headerTrackingId: string | undefined,
    where: string,
    url: string,
    secrets: (string | undefined)[],
  ): HttpError {
    const envelope = (typeof body === 'object' && body !== null ? body : {}) as {
      message?: unknown;
      errors?: unknown;
      trackingId?: unknown;
      error_description?: unknown;
    };
    const descriptions = Array.isArray(envelope.errors)
      ? envelope.errors
          .map((e) => (typeof e?.description === 'string' ? redact(e.description, secrets) : undefined))
          .filter((d): d is string => !!d)
      : [];
    const said =
      typeof envelope.message === 'string'
        ? envelope.message
        : typeof envelope.error_description === 'string'
          ? envelope.error_description
          : descriptions[0];
    // Everything the server says is redacted: a broker may echo the Authorization header anywhere.
    const echoedTrackingId = typeof envelope.trackingId === 'string' ? envelope.trackingId : headerTrackingId;
    const trackingId = echoedTrackingId ? redact(echoedTrackingId, secrets) : undefined;
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    const reason = response.statusText ? ` ${redact(response.statusText, secrets)}` : '';
    let message = `${where} answered ${response.status}${reason}`;
    if (said) message += `: ${redact(said, secrets)}`;
    if (descriptions.length > 1) message += ` (${descriptions.join('; ')})`;
    if (trackingId) message += ` [trackingId ${trackingId}]`;
    return new HttpError(message, {
      status: response.status,
      descriptions,
      url: redact(url, secrets),
      ...(trackingId ? { trackingId } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }
}
