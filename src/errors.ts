/**
 * Every error the project raises is an InstantConnectError with a stable `code`.
 * The registry maps each code to the HTTP status a server answers with, so routes,
 * the CLI and the SDK agree on one meaning per failure (modelled on fastify's lib/errors.js).
 */
export const ERROR_STATUS = {
  ERR_VALIDATION: 400,
  ERR_BAD_JSON: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_CONFLICT: 409,
  ERR_CANCELLED: 410,
  ERR_ENDED: 410,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_TOKEN_INVALID: 400,
  ERR_TOKEN_EXPIRED: 403,
  ERR_TOKEN_NOT_YET_VALID: 403,
  ERR_BROKER_HTTP: 502,
  ERR_BAD_RESPONSE: 502,
  ERR_NETWORK: 502,
  ERR_TIMEOUT: 504,
  ERR_ABORTED: 499,
  ERR_OVERLOADED: 503,
  ERR_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class InstantConnectError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
  /** The HTTP status a server answers with for this error. */
  get httpStatus(): number {
    return ERROR_STATUS[this.code];
  }
}

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
  constructor(message = 'A valid API key or token is required in the Authorization header (Bearer).') {
    super('ERR_UNAUTHORIZED', message);
  }
}

/** The visit is over (ended by its host, or its time ran out): nothing more happens in it. */
export class EndedError extends InstantConnectError {
  constructor(message = 'This visit is over: ask for a new link if you still need one') {
    super('ERR_ENDED', message);
  }
}

/** The visit of this link was cancelled: its links stop working at once. */
export class CancelledError extends InstantConnectError {
  constructor(message = 'This visit was cancelled: its links no longer work') {
    super('ERR_CANCELLED', message);
  }
}
