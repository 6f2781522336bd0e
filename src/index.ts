/** Public API of the `instant-connect` package: the SDK and the pure domain model. */

export type { HttpClientOptions, RetryPolicy, TokenSource } from './client/http.js';
export { DEFAULT_RETRY, HttpClient, parseRetryAfter } from './client/http.js';
export type {
  ApiVersion,
  CreateOptions,
  InstantConnectOptions,
  LinkResult,
} from './client/instant-connect.js';
export { InstantConnect } from './client/instant-connect.js';
export type { BatchCall } from './domain/batch.js';
export { planBatches } from './domain/batch.js';
export * from './domain/constants.js';
export type { ResolvedLinkRequest } from './domain/input.js';
export { resolveLinkInput, toJoseEncryptRequests } from './domain/input.js';
export type { Link, LinkSet } from './domain/links.js';
export { mergeLinkSets, normaliseResponse } from './domain/links.js';
export * from './domain/schema.js';
export { generateSubject } from './domain/subject.js';
export { parseDuration, parseInstant } from './domain/time.js';
export type { Environment, EnvironmentName } from './domain/urls.js';
export {
  ENVIRONMENTS,
  forcedLoginUrl,
  longUrl,
  parseLink,
  resolveEnvironment,
  shortUrl,
} from './domain/urls.js';
export { joseEncryptIssues, validateJoseEncryptRequest } from './domain/validate.js';
export type { ErrorCode, Issue } from './errors.js';
export {
  AbortError,
  BadResponseError,
  ERROR_STATUS,
  HttpError,
  InstantConnectError,
  NetworkError,
  TimeoutError,
  ValidationError,
} from './errors.js';
