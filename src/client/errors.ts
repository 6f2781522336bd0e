/** Errors of talking to a broker or the Webex API over HTTP. None of them ever holds a token. */
import { type ErrorCode, InstantConnectError } from '../errors.js';

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

function codeFor(status: number): ErrorCode {
  if (status === 401) return 'ERR_UNAUTHORIZED';
  if (status === 403) return 'ERR_FORBIDDEN';
  if (status === 404) return 'ERR_NOT_FOUND';
  if (status === 429) return 'ERR_RATE_LIMITED';
  return 'ERR_BROKER_HTTP';
}

/** The server answered with an error status. */
export class HttpError extends InstantConnectError {
  readonly status: number;
  readonly trackingId?: string;
  readonly descriptions: string[];
  readonly retryAfter?: number;
  readonly url: string;
  constructor(message: string, details: HttpErrorDetails) {
    super(codeFor(details.status), message);
    this.status = details.status;
    if (details.trackingId) this.trackingId = details.trackingId;
    this.descriptions = details.descriptions;
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter;
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
  constructor(message = 'The request was aborted') {
    super('ERR_ABORTED', message);
  }
}
