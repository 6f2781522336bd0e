/**
 * The error registry. Every error the project raises is an InstantConnectError with a stable `code`;
 * ERRORS gives each code its HTTP status, its retry semantics and, where it has one, its message
 * template. HTTP_STATUSES gives each error status its OpenAPI response and the code a bare status
 * means. Everything else is derived from these two tables: ERROR_STATUS, the server's answers and
 * `Retry-After`, the client's codes for a remote server's statuses, and the OpenAPI error responses
 * (modelled on panva/jose `util/errors.ts`, one class per failure with a stable code, and fastify's
 * `lib/errors.js`, a code registry).
 */

/**
 * - `never`: the same request fails the same way;
 * - `after`: retry after `retryAfter` seconds (the error carries it; HTTP sends it as `Retry-After`);
 * - `backoff`: a transient failure of a remote server or the network: retry with backoff.
 */
export type RetrySemantics = 'never' | 'after' | 'backoff';

interface ErrorSpec {
  status: number;
  retry: RetrySemantics;
  /** The message, `{name}` standing for a parameter; absent where every raise says its own words. */
  message?: string;
}

export const ERRORS = {
  ERR_VALIDATION: { status: 400, retry: 'never', message: 'The request is not valid' },
  ERR_BAD_JSON: { status: 400, retry: 'never' },
  ERR_UNAUTHORIZED: {
    status: 401,
    retry: 'never',
    message: 'A valid API key or token is required in the Authorization header (Bearer).',
  },
  ERR_FORBIDDEN: { status: 403, retry: 'never' },
  ERR_NOT_FOUND: { status: 404, retry: 'never' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, retry: 'never' },
  ERR_CONFLICT: { status: 409, retry: 'never' },
  ERR_CANCELLED: {
    status: 410,
    retry: 'never',
    message: 'This visit was cancelled: its links no longer work',
  },
  ERR_LINK_REVOKED: {
    status: 410,
    retry: 'never',
    message: 'This link was withdrawn: ask for a new link if you still need one',
  },
  ERR_ENDED: {
    status: 410,
    retry: 'never',
    message: 'This visit is over: ask for a new link if you still need one',
  },
  ERR_BODY_TOO_LARGE: { status: 413, retry: 'never' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, retry: 'never' },
  ERR_RATE_LIMITED: { status: 429, retry: 'after' },
  ERR_TOKEN_INVALID: { status: 400, retry: 'never' },
  ERR_TOKEN_EXPIRED: { status: 403, retry: 'never' },
  ERR_TOKEN_NOT_YET_VALID: { status: 403, retry: 'never' },
  ERR_BROKER_HTTP: { status: 502, retry: 'backoff' },
  ERR_BAD_RESPONSE: {
    status: 502,
    retry: 'never',
    message: "The broker's response was not understood: {detail}",
  },
  ERR_NETWORK: { status: 502, retry: 'backoff' },
  ERR_TIMEOUT: { status: 504, retry: 'backoff' },
  ERR_CHANNEL: { status: 502, retry: 'backoff' },
  ERR_ABORTED: { status: 499, retry: 'never', message: 'The request was aborted' },
  ERR_OVERLOADED: { status: 503, retry: 'after', message: 'The server is busy; retry in {retryAfter} s.' },
  ERR_INTERNAL: { status: 500, retry: 'never', message: 'Something went wrong on our side' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Each code's HTTP status (public: the SDK exports it). */
export const ERROR_STATUS = Object.fromEntries(
  Object.entries(ERRORS).map(([code, spec]) => [code, spec.status]),
) as { readonly [C in ErrorCode]: (typeof ERRORS)[C]['status'] };

interface StatusSpec {
  /** The OpenAPI component response of this status (absent: the API never answers it). */
  response?: string;
  /** The code a bare status means: a 4xx of fastify or a plugin, a client error before any route. */
  code: ErrorCode;
  /** A remote server's status that keeps its meaning here (the client's code); others are ERR_BROKER_HTTP. */
  remote?: true;
}

export const HTTP_STATUSES = {
  400: { response: 'BadRequest', code: 'ERR_VALIDATION' },
  401: { response: 'Unauthorized', code: 'ERR_UNAUTHORIZED', remote: true },
  403: { response: 'Forbidden', code: 'ERR_FORBIDDEN', remote: true },
  404: { response: 'NotFound', code: 'ERR_NOT_FOUND', remote: true },
  405: { response: 'MethodNotAllowed', code: 'ERR_METHOD_NOT_ALLOWED' },
  408: { code: 'ERR_TIMEOUT' },
  409: { response: 'Conflict', code: 'ERR_CONFLICT' },
  410: { response: 'Gone', code: 'ERR_CANCELLED' },
  413: { response: 'PayloadTooLarge', code: 'ERR_BODY_TOO_LARGE' },
  415: { response: 'UnsupportedMediaType', code: 'ERR_UNSUPPORTED_MEDIA_TYPE' },
  429: { response: 'TooManyRequests', code: 'ERR_RATE_LIMITED', remote: true },
  502: { response: 'BadGateway', code: 'ERR_BROKER_HTTP' },
  503: { response: 'ServiceUnavailable', code: 'ERR_OVERLOADED' },
  504: { response: 'GatewayTimeout', code: 'ERR_TIMEOUT' },
} as const satisfies Record<number, StatusSpec>;

type Statuses = typeof HTTP_STATUSES;
export type HttpErrorStatus = keyof Statuses;

/** The code of a bare 4xx status from fastify, a plugin or the HTTP parser (ERR_VALIDATION if unlisted). */
export function codeOfStatus(status: number): ErrorCode {
  return (HTTP_STATUSES as Partial<Record<number, StatusSpec>>)[status]?.code ?? 'ERR_VALIDATION';
}

/** The code of a remote server's (a broker's, Webex's) error status. */
export function codeOfRemoteStatus(status: number): ErrorCode {
  const spec = (HTTP_STATUSES as Partial<Record<number, StatusSpec>>)[status];
  return spec && 'remote' in spec ? spec.code : 'ERR_BROKER_HTTP';
}

/** Statuses answered with the error envelope, each an OpenAPI component response (its name). */
export const ERROR_RESPONSES = Object.fromEntries(
  Object.entries(HTTP_STATUSES).flatMap(([s, spec]) => ('response' in spec ? [[s, spec.response]] : [])),
) as {
  readonly [S in HttpErrorStatus as Statuses[S] extends { response: string }
    ? S
    : never]: Statuses[S] extends {
    response: infer N;
  }
    ? N
    : never;
};
export type ErrorStatus = keyof typeof ERROR_RESPONSES;
export type ErrorName = (typeof ERROR_RESPONSES)[ErrorStatus];

/** Whether an answer with this status carries `Retry-After`: one of its codes retries `after`. */
export const retriesAfter = (status: number): boolean =>
  Object.values(ERRORS).some((spec) => spec.status === status && spec.retry === 'after');

/** The codes a status answers with. */
export const codesOfStatus = (status: number): ErrorCode[] =>
  (Object.keys(ERRORS) as ErrorCode[]).filter((code) => ERRORS[code].status === status);

type Templated = { [C in ErrorCode]: (typeof ERRORS)[C] extends { message: string } ? C : never }[ErrorCode];

/** A code's message template with its `{name}` parameters filled in. */
export function messageOf(code: Templated, params: Record<string, string | number> = {}): string {
  return ERRORS[code].message.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

export interface ErrorOptions {
  cause?: unknown;
  /** Seconds after which a retry is likely to be served (codes whose retry is `after`). */
  retryAfter?: number;
}

export class InstantConnectError extends Error {
  readonly code: ErrorCode;
  /** Seconds to wait before retrying; the HTTP layer sends it as `Retry-After` (codes retried `after`). */
  declare readonly retryAfter?: number;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
  /** The HTTP status a server answers with for this error. */
  get httpStatus(): number {
    return ERRORS[this.code].status;
  }
  /** How a caller may retry this failure. */
  get retry(): RetrySemantics {
    return ERRORS[this.code].retry;
  }
}

// ---------------------------------------------------------------------------------------------
// Input

/** One problem in an input: where it is, which rule it breaks, and a sentence for people. */
export interface Issue {
  /** Dotted path of the field, e.g. `jwt.nbf`, `devices[1]`, `crypto.iterations`; `` for the whole input. */
  path: string;
  /** Stable name of the rule: `type`, `range`, `enum`, `required`, `unknown`, `milliseconds`, … */
  rule: string;
  message: string;
}

export class ValidationError extends InstantConnectError {
  readonly issues: Issue[];
  constructor(issues: Issue[], subject = 'Invalid request') {
    super('ERR_VALIDATION', `${subject}: ${issues.map((i) => i.message).join('; ')}`);
    this.issues = issues;
  }
}

/** Bad timestamps, unknown short codes and the like: one class per failure keeps `instanceof` useful. */
export class NotFoundError extends InstantConnectError {
  constructor(message: string) {
    super('ERR_NOT_FOUND', message);
  }
}

export class UnauthorizedError extends InstantConnectError {
  constructor(message = messageOf('ERR_UNAUTHORIZED')) {
    super('ERR_UNAUTHORIZED', message);
  }
}

// ---------------------------------------------------------------------------------------------
// Visits

/** The visit is over (ended by its host, or its time ran out): nothing more happens in it. */
export class EndedError extends InstantConnectError {
  constructor(message = messageOf('ERR_ENDED')) {
    super('ERR_ENDED', message);
  }
}

/** The visit of this link was cancelled: its links stop working at once. */
export class CancelledError extends InstantConnectError {
  constructor(message = messageOf('ERR_CANCELLED')) {
    super('ERR_CANCELLED', message);
  }
}

/** This one link was withdrawn (DELETE /api/visits/{id}/links/{role}/{index}); the visit goes on. */
export class LinkRevokedError extends InstantConnectError {
  constructor(message = messageOf('ERR_LINK_REVOKED')) {
    super('ERR_LINK_REVOKED', message);
  }
}

/** A change the visit's state does not allow (ending a cancelled visit, adding links to an ended one). */
export class VisitConflictError extends InstantConnectError {
  constructor(message: string) {
    super('ERR_CONFLICT', message);
  }
}

/** A trigger's Idempotency-Key is in use by another body, or still running. */
export class ConflictError extends InstantConnectError {
  constructor(message: string) {
    super('ERR_CONFLICT', message);
  }
}

/** A visit page's ticket is expired or not valid. */
export class TicketError extends InstantConnectError {
  constructor() {
    super('ERR_FORBIDDEN', 'This visit page has expired or is not valid: open your link again');
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens

export type TokenErrorCode = Extract<
  ErrorCode,
  'ERR_TOKEN_INVALID' | 'ERR_TOKEN_EXPIRED' | 'ERR_TOKEN_NOT_YET_VALID'
>;

/**
 * Why a token was refused, for logs and metrics (the HTTP answer only needs `code`):
 * - `malformed`: not five canonical base64url segments, or segment sizes impossible for its algorithms
 * - `header`: the protected header is not JSON, has unknown members, or values out of bounds
 * - `audience`: `aud` is not the expected audience, or the header and claims disagree
 * - `unknown-key`: the header's `kid` names no key we hold (or there are no keys)
 * - `decryption`: no key decrypts it (wrong key, or any tampering of the JWE)
 * - `signature`: the inner JWS is malformed, uses another algorithm, or its HMAC does not verify
 * - `claims`: the claims are missing, of the wrong type, or disagree with the header
 * - `expired`, `not-yet-valid`: outside `nbf`..`exp`
 */
export type TokenFailure =
  | 'malformed'
  | 'header'
  | 'audience'
  | 'unknown-key'
  | 'decryption'
  | 'signature'
  | 'claims'
  | 'expired'
  | 'not-yet-valid';

export class TokenError extends InstantConnectError {
  declare readonly code: TokenErrorCode;
  readonly reason: TokenFailure;
  /** With ERR_TOKEN_NOT_YET_VALID: when the link opens (epoch seconds), for a "come back at" page. */
  readonly notBefore?: number;
  /** With ERR_TOKEN_EXPIRED: when the link expired (epoch seconds). */
  readonly expiredAt?: number;
  /**
   * With ERR_TOKEN_NOT_YET_VALID: the link's `jti` (its signature was verified), so the broker can
   * tell a link of a cancelled visit from one that simply has not opened yet.
   */
  readonly jti?: string;
  constructor(
    code: TokenErrorCode,
    reason: TokenFailure,
    message: string,
    times: { notBefore?: number; expiredAt?: number; jti?: string } = {},
  ) {
    super(code, message);
    this.reason = reason;
    if (times.notBefore !== undefined) this.notBefore = times.notBefore;
    if (times.expiredAt !== undefined) this.expiredAt = times.expiredAt;
    if (times.jti !== undefined) this.jti = times.jti;
  }
}

// ---------------------------------------------------------------------------------------------
// Capacity: retried `after` the seconds the error carries

export class RateLimitedError extends InstantConnectError {
  declare readonly retryAfter: number;
  constructor(message: string, retryAfter: number) {
    super('ERR_RATE_LIMITED', message, { retryAfter });
  }
}

/** ERR_OVERLOADED (503): the crypto queue is full. */
export class OverloadedError extends InstantConnectError {
  /** Seconds after which a retry is likely to be served (1..60). */
  declare readonly retryAfter: number;
  constructor(retryAfter: number) {
    super('ERR_OVERLOADED', messageOf('ERR_OVERLOADED', { retryAfter }), { retryAfter });
  }
}

/** The database cannot be reached: 503 ERR_OVERLOADED (a restarting database is usually back in 2 s). */
export class DatabaseUnavailableError extends InstantConnectError {
  declare readonly retryAfter: number;
  constructor(cause: unknown) {
    super('ERR_OVERLOADED', 'The database is unavailable; try again shortly', { cause, retryAfter: 2 });
  }
}

// ---------------------------------------------------------------------------------------------
// Talking to a broker or the Webex API over HTTP. None of these ever holds a token.

export class BadResponseError extends InstantConnectError {
  constructor(message: string) {
    super('ERR_BAD_RESPONSE', messageOf('ERR_BAD_RESPONSE', { detail: message }));
  }
}

/**
 * A channel (email, SMS) could not hand a message over. `permanent` when retrying cannot help (the
 * server refused the address, 5xx SMTP reply); otherwise (connection refused, 4xx SMTP reply,
 * provider 429/5xx) a later attempt may pass. The message never holds a credential.
 */
export class ChannelError extends InstantConnectError {
  readonly permanent: boolean;
  constructor(message: string, options: { permanent: boolean; retryAfter?: number; cause?: unknown }) {
    super('ERR_CHANNEL', message, {
      ...(options.retryAfter !== undefined ? { retryAfter: options.retryAfter } : {}),
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
    });
    this.permanent = options.permanent;
  }
}

export interface HttpErrorDetails {
  status: number;
  /** Webex's `trackingId` (body) or `TrackingID` header, for Cisco support. */
  trackingId?: string;
  /** `errors[].description` of the Webex envelope. */
  descriptions: string[];
  /** Seconds the server asked us to wait (429). */
  retryAfter?: number;
  url: string;
}

/** The server answered with an error status. */
export class HttpError extends InstantConnectError {
  readonly status: number;
  readonly trackingId?: string;
  readonly descriptions: string[];
  readonly url: string;
  constructor(message: string, details: HttpErrorDetails) {
    super(
      codeOfRemoteStatus(details.status),
      message,
      details.retryAfter !== undefined ? { retryAfter: details.retryAfter } : undefined,
    );
    this.status = details.status;
    if (details.trackingId) this.trackingId = details.trackingId;
    this.descriptions = details.descriptions;
    this.url = details.url;
  }
}

/** No answer: DNS, refused connection, reset. */
export class NetworkError extends InstantConnectError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NETWORK', message, options);
  }
}

export class TimeoutError extends InstantConnectError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message);
  }
}

export class AbortError extends InstantConnectError {
  constructor(message = messageOf('ERR_ABORTED')) {
    super('ERR_ABORTED', message);
  }
}
