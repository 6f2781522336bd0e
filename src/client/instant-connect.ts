/**
 * The SDK: `new InstantConnect({ broker, token }).createLinks({ … })` validates the friendly
 * input, plans calls of at most 25 links with one subject and one window, sends them with
 * bounded concurrency and retries, and returns every link in every URL form.
 */
import { type ResolvedLinkRequest, resolveLinkInput, toJoseEncryptRequests } from '../domain/input.js';
import {
  type LinkResult,
  type LinkSet,
  linkResult,
  mergeLinkSets,
  normaliseResponse,
} from '../domain/links.js';
import type { JoseEncryptRequest, LinkRequestInput, V1Response, V2Response } from '../domain/schema.js';
import { type Environment, type EnvironmentName, resolveEnvironment } from '../domain/urls.js';
import { validateJoseEncryptRequest } from '../domain/validate.js';
import { mapWithConcurrency } from '../util/concurrency.js';
import { HttpClient, type HttpClientOptions, type TokenSource } from './http.js';

export type ApiVersion = 'v1' | 'v2';

export interface InstantConnectOptions extends HttpClientOptions {
  /** `commercial` (default), `usgov`, or the URL of another broker such as the project's own. */
  broker?: EnvironmentName | (string & {});
  /** Bot or personal access token (or an API key of the project's broker), or a function returning one. */
  token: TokenSource;
  /** Response shape to ask for: v2 (default) carries short links; v1 is the older string arrays. */
  apiVersion?: ApiVersion;
  /** Where long links point, when not the environment's default. */
  linkBaseUrl?: string;
  /** Broker calls in flight at once when a request needs several (default 4). */
  concurrency?: number;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
}

export interface CreateOptions {
  signal?: AbortSignal;
  /** Called after each broker call: done of total. */
  onProgress?: (done: number, total: number) => void;
}

export type { LinkResult } from '../domain/links.js';

export class InstantConnect {
  readonly environment: Environment;
  readonly apiVersion: ApiVersion;
  readonly #http: HttpClient;
  readonly #concurrency: number;
  readonly #now: () => number;

  constructor(options: InstantConnectOptions) {
    if (!options || (typeof options.token !== 'function' && !options.token)) {
      throw new TypeError(
        'InstantConnect needs a token: a Webex bot or personal access token, or a broker API key',
      );
    }
    this.environment = resolveEnvironment(options.broker ?? 'commercial', options.linkBaseUrl);
    this.apiVersion = options.apiVersion ?? 'v2';
    this.#http = new HttpClient(options.token, { userAgent: 'instant-connect-sdk', ...options });
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TypeError(`concurrency must be a whole number of at least 1 (got ${concurrency})`);
    }
    this.#concurrency = concurrency;
    this.#now = options.now ?? Date.now;
  }

  toString(): string {
    return `InstantConnect(${this.environment.brokerUrl})`;
  }

  toJSON(): Record<string, unknown> {
    return { environment: this.environment, apiVersion: this.apiVersion };
  }

  /** Validates and plans without calling anything: the resolved request and the wire bodies. */
  plan(input: LinkRequestInput): { request: ResolvedLinkRequest; bodies: JoseEncryptRequest[] } {
    const request = resolveLinkInput(input, { now: Math.floor(this.#now() / 1000) });
    return { request, bodies: toJoseEncryptRequests(request) };
  }

  /** Makes the links: any number of hosts and guests, batched past 25, one subject, one space. */
  async createLinks(input: LinkRequestInput, options: CreateOptions = {}): Promise<LinkResult> {
    const { request, bodies } = this.plan(input);
    // One failed batch stops the others: their links would be incomplete anyway.
    const controller = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
    let done = 0;
    let sets: LinkSet[];
    try {
      sets = await mapWithConcurrency(bodies, this.#concurrency, async (body) => {
        const response = await this.encrypt(body, { signal, validate: false });
        done += 1;
        options.onProgress?.(done, bodies.length);
        return normaliseResponse(response, {
          linkBaseUrl: this.environment.linkBaseUrl,
          vertical: request.vertical,
          hostLogin: request.hostLogin,
          expect: { hosts: body.numHost ?? 1, guests: body.numGuest ?? 1 },
        });
      });
    } catch (err) {
      controller.abort();
      throw err;
    }
    return linkResult(request, this.environment, bodies.length, mergeLinkSets(sets));
  }

  /**
   * One raw `POST /api/{v1|v2}/joseencrypt` with the wire body, validated first unless told not to
   * (Cisco's documented way to end a space early, exp 0, is not a valid window on purpose).
   */
  async encrypt(
    body: JoseEncryptRequest,
    options: { signal?: AbortSignal; validate?: boolean; version?: ApiVersion } = {},
  ): Promise<V2Response | V1Response> {
    if (options.validate !== false) validateJoseEncryptRequest(body, { now: Math.floor(this.#now() / 1000) });
    const version = options.version ?? this.apiVersion;
    const response = await this.#http.request<V2Response | V1Response>(
      'POST',
      `${this.environment.brokerUrl}/api/${version}/joseencrypt`,
      { body, signal: options.signal },
    );
    return response.body;
  }
}
