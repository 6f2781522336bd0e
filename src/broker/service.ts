/**
 * The broker: issues links exactly as Cisco's joseencrypt does, stores short links, opens tokens
 * for the visit pages and the space API. Transport-free: the HTTP routes are thin over this.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import Type from 'typebox';
import type { WorkLimiter } from '../crypto/limiter.js';
import {
  type BrokerClaims,
  issueToken,
  type OpenedToken,
  openToken,
  readTokenHeader,
} from '../crypto/tokens.js';
import {
  AUDIENCE,
  DEFAULT_TTL_SECONDS,
  DEFAULTS,
  ITERATIONS,
  type Role,
  SALT_LENGTH,
} from '../domain/constants.js';
import type { JoseEncryptRequest, V1Response, V2Response } from '../domain/schema.js';
import { generateShortCode } from '../domain/short-code.js';
import { nowSeconds } from '../domain/time.js';
import { longUrl } from '../domain/urls.js';
import { joseEncryptIssues } from '../domain/validate.js';
import { type VisitState, visitState } from '../domain/visit-state.js';
import {
  CancelledError,
  LinkRevokedError,
  NotFoundError,
  RateLimitedError,
  TokenError,
  ValidationError,
} from '../errors.js';
import type { RateReservation } from '../reliability/rate-limit.js';
import type { Org, ShortLinkRecord, Store, VisitLinkRecord, VisitRecord } from '../store/types.js';
import { coerceJoseEncryptBody } from './coerce.js';
import type { Keyring } from './keyring.js';

export interface BrokerServiceOptions {
  store: Store;
  keyring: Keyring;
  limiter: WorkLimiter;
  /** Public origin of this server, e.g. http://127.0.0.1:8080 (short links and long links live here). */
  publicUrl: string;
  /** Clock, epoch seconds. */
  now?: () => number;
}

export interface IssuedLink {
  role: Role;
  cipher: string;
  short?: string;
  jti: string;
}

export interface IssueResult {
  /** The validated request with every default filled in. */
  request: JoseEncryptRequest & { numHost: number; numGuest: number };
  links: IssuedLink[];
  response: V2Response | V1Response;
}

/** The space API's answer (GET or POST /api/v1/space?data=…), in the shape of Cisco's. */
export const SpaceInfoSchema = Type.Object(
  {
    userIdentifier: Type.Enum(['Host', 'Guest']),
    isLoggedIn: Type.Boolean({ description: 'Always false: this broker signs nobody in to Webex.' }),
    isHost: Type.Boolean(),
    organizationId: Type.String({
      description: "The organisation that issued the link (the token's `iss`).",
    }),
    orgName: Type.String(),
    token: Type.String({
      description: 'An opaque per-session value: this broker has no Webex access token to hand out.',
    }),
    spaceId: Type.String({
      description: 'The space of the subject, as a base64 `ciscospark://us/ROOM/…` id.',
    }),
    visitId: Type.String({ description: 'A number per space, as a string.' }),
    integrationType: Type.Literal('jose'),
  },
  { $id: 'SpaceInfo' },
);
export type SpaceInfo = Type.Static<typeof SpaceInfoSchema>;

/**
 * An address's allowance of failed token openings (see BrokerService.open): one opening is
 * reserved before any work and refunded when the token proves genuine.
 */
export interface OpenBudget {
  reserve(): Promise<RateReservation>;
}

/** Opened tokens kept in memory (about 1 KiB each). */
const OPENED_CACHE_SIZE = 10_000;

export interface OpenedLink extends OpenedToken {
  org: Org;
  /** The visit this link belongs to, when it was recorded (every link of this broker is). */
  visit?: VisitRecord;
  link?: VisitLinkRecord;
}

/** What `inspect` tells of a link: its claims whatever its state, its validity, its visit's state. */
export interface InspectedLink extends OpenedToken {
  validity:
    | { kind: 'valid' }
    | { kind: 'expired'; expiredAt: number }
    | { kind: 'not-yet-valid'; notBefore: number };
  visit?: VisitRecord;
  link?: VisitLinkRecord;
  /** The recorded visit's state now (cancelled, ended, …). */
  state?: VisitState;
}

export class BrokerService {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #limiter: WorkLimiter;
  readonly #now: () => number;
  /** Links issued since start (metrics). */
  issuedLinks = 0;
  /** Tokens opened recently, by cipher, until they expire: a page reload costs no PBKDF2. */
  readonly #opened = new Map<string, OpenedLink>();
  /** Public origin; serve sets it after listening when it was not configured (port 0). */
  publicUrl: string;

  constructor(options: BrokerServiceOptions) {
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.#limiter = options.limiter;
    this.#now = options.now ?? nowSeconds;
    this.publicUrl = options.publicUrl.replace(/\/+$/, '');
  }

  /** `baseUrl` of v2 responses: short links are `baseUrl + short`. */
  get shortLinkBase(): string {
    return `${this.publicUrl}/visit/`;
  }

  /** POST /api/{v1|v2}/joseencrypt for an organisation. */
  async issue(org: Org, body: unknown, version: 'v1' | 'v2'): Promise<IssueResult> {
    const now = this.#now();
    const input = coerceJoseEncryptBody(body);
    // The audience is checked with everything else, so one answer names every bad field.
    const issues = joseEncryptIssues(input, { now });
    const aud = (input as { aud?: unknown } | null | undefined)?.aud;
    if (typeof aud === 'string' && aud !== AUDIENCE && !issues.some((i) => i.path === 'aud')) {
      issues.push({
        path: 'aud',
        rule: 'audience',
        message: `aud must be ${AUDIENCE}, the audience Cisco documents`,
      });
    }
    if (issues.length > 0) throw new ValidationError(issues);
    const request = input as JoseEncryptRequest;
    const numHost = request.numHost ?? DEFAULTS.numHost;
    const numGuest = request.numGuest ?? DEFAULTS.numGuest;
    const exp = request.jwt.exp ?? now + DEFAULT_TTL_SECONDS;
    const vertical = request.verticalType ?? DEFAULTS.verticalType;
    const hostLogin = request.loginUrlForHost ?? DEFAULTS.loginUrlForHost;
    // A rotation by another process (the CLI, another instance) counts from the next call on.
    await this.#keyring.refresh();
    const key = this.#keyring.active();
    const roles: Role[] = [...Array<Role>(numHost).fill('host'), ...Array<Role>(numGuest).fill('guest')];
    const links = await Promise.all(
      roles.map(async (role): Promise<IssuedLink> => {
        const claims: BrokerClaims = {
          sub: request.jwt.sub,
          aud: request.aud,
          iss: org.id,
          iat: now,
          ...(request.jwt.nbf !== undefined ? { nbf: request.jwt.nbf } : {}),
          exp,
          jti: randomUUID(),
          role,
          vrt: vertical,
          ...(role === 'host' ? { hl: hostLogin } : {}),
          ...(request.jwt.flow ? { flow: request.jwt.flow } : {}),
        };
        // Cisco draws salt length and iteration count per token when the request leaves them out.
        const params = {
          jweAlg: request.jweAlg ?? DEFAULTS.jweAlg,
          enc: request.enc ?? DEFAULTS.enc,
          jwsAlg: request.jwsAlg ?? DEFAULTS.jwsAlg,
          saltLength: request.saltLength ?? randomInt(SALT_LENGTH.min, SALT_LENGTH.max + 1),
          iterations: request.iterations ?? randomInt(ITERATIONS.min, ITERATIONS.max + 1),
        };
        const cipher = await this.#limiter.run(() => issueToken(claims, params, key), {
          weight: params.iterations / ITERATIONS.max,
        });
        return { role, cipher, jti: claims.jti };
      }),
    );
    this.issuedLinks += links.length;
    const short = version === 'v2' && request.provideShortUrls === true;
    if (short) await this.#storeShortLinks(org, request.jwt.sub, exp, vertical, hostLogin, links, now);
    const filled = { ...request, numHost, numGuest, jwt: { ...request.jwt, exp } };
    return { request: filled, links, response: this.#respond(links, version, short) };
  }

  #respond(links: IssuedLink[], version: 'v1' | 'v2', short: boolean): V2Response | V1Response {
    const of = (role: Role) => links.filter((l) => l.role === role);
    if (version === 'v1')
      return { host: of('host').map((l) => l.cipher), guest: of('guest').map((l) => l.cipher) };
    const entry = (l: IssuedLink) => (short ? { cipher: l.cipher, short: l.short! } : { cipher: l.cipher });
    const response: V2Response = { host: of('host').map(entry), guest: of('guest').map(entry) };
    if (short) response.baseUrl = this.shortLinkBase;
    return response;
  }

  async #storeShortLinks(
    org: Org,
    subject: string,
    expiresAt: number,
    vertical: ShortLinkRecord['vertical'],
    hostLogin: boolean,
    links: IssuedLink[],
    now: number,
  ): Promise<void> {
    for (const link of links) link.short = generateShortCode();
    // 62^7 codes make a collision rare; when one happens, draw those codes again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const taken = await this.#store.insertShortLinks(
        links.map((l) => ({
          code: l.short!,
          orgId: org.id,
          cipher: l.cipher,
          role: l.role,
          vertical,
          hostLogin: l.role === 'host' ? hostLogin : false,
          subject,
          expiresAt,
          createdAt: now,
        })),
      );
      if (taken.length === 0) return;
      for (const link of links) if (taken.includes(link.short!)) link.short = generateShortCode();
    }
    throw new Error('could not allocate unique short codes');
  }

  /** Where a short link goes: the long link on this server. */
  async resolveShortLink(code: string): Promise<{ location: string; link: ShortLinkRecord }> {
    const link = /^[A-Za-z0-9]{1,16}$/.test(code) ? await this.#store.getShortLink(code) : undefined;
    if (!link) throw new NotFoundError(`No visit link with the code ${JSON.stringify(code.slice(0, 16))}`);
    return {
      link,
      location: longUrl({
        linkBaseUrl: this.publicUrl,
        vertical: link.vertical,
        role: link.role,
        hostLogin: link.hostLogin,
        cipher: link.cipher,
      }),
    };
  }

  /**
   * Opens a link's token for a page or the space API.
   * - A cipher this broker recorded (every link it issued) is opened without touching the
   *   caller's failure budget, in the limiter's priority lane: patients behind one clinic's
   *   address never pay for a forger.
   * - Any other cipher first reserves one opening of the address's budget (atomically, so
   *   concurrent forgeries cannot all pass a check), and is refused (429) without any PBKDF2
   *   once that budget is gone; the reservation is refunded only when the token opens. Its PBKDF2 runs in the limiter's low lane, which holds little work in flight and a
   *   short queue, and answers 503 when full.
   * - A token is tried with one key at most: the one its `kid` names (a kid we do not hold,
   *   after a version-checked reload, or of a retired key, is refused without PBKDF2), or the
   *   active key for a token without a `kid` (all of ours carry one).
   * - Header checks come before PBKDF2; an opened token is cached until it expires (reloads
   *   cost no PBKDF2).
   */
  async open(cipher: string, options: { budget?: OpenBudget } = {}): Promise<OpenedLink> {
    const now = this.#now();
    const known = await this.#store.findVisitLinkByCipher(cipher);
    if (known?.visit.status === 'cancelled') throw new CancelledError();
    if (known?.link.revokedAt !== undefined) throw new LinkRevokedError();
    const cached = this.#opened.get(cipher);
    // A token whose key retired since it was cached opens no more.
    if (cached && this.#keyring.forToken(cached.kid, now).length === 0) this.#opened.delete(cipher);
    else if (
      cached &&
      now < cached.claims.exp &&
      (cached.claims.nbf === undefined || now >= cached.claims.nbf)
    ) {
      const recorded = known ?? (await this.#store.findVisitLinkByJti(cached.claims.jti));
      if (recorded?.visit.status === 'cancelled') throw new CancelledError();
      if (recorded?.link.revokedAt !== undefined) throw new LinkRevokedError();
      return { ...cached, ...(recorded ? { visit: recorded.visit, link: recorded.link } : {}) };
    }
    const budget = known ? undefined : options.budget;
    const reservation = budget ? await budget.reserve() : undefined;
    if (reservation && !reservation.allowed) {
      throw new RateLimitedError(
        `Too many links that could not be opened came from your address: try again in ${reservation.retryAfter} s`,
        reservation.retryAfter,
      );
    }
    let opened: OpenedToken;
    try {
      opened = await this.#openToken(cipher, now, now, known ? 'priority' : 'low');
    } catch (err) {
      // Any token that did not open keeps its reservation, even one the full low lane refused
      // (503) without crypto: an address past its budget gets 429, not another place in line.
      // A link of a cancelled visit that has not opened yet is cancelled, not "come back later".
      if (err instanceof TokenError && err.code === 'ERR_TOKEN_NOT_YET_VALID' && err.jti) {
        const recorded = await this.#store.findVisitLinkByJti(err.jti);
        if (recorded?.visit.status === 'cancelled') throw new CancelledError();
        if (recorded?.link.revokedAt !== undefined) throw new LinkRevokedError();
      }
      throw err;
    }
    await reservation?.refund();
    const org = await this.#store.getOrg(opened.claims.iss);
    if (!org) throw new NotFoundError('The organisation of this link no longer exists');
    const recorded = known ?? (await this.#store.findVisitLinkByJti(opened.claims.jti));
    if (recorded?.visit.status === 'cancelled') throw new CancelledError();
    if (recorded?.link.revokedAt !== undefined) throw new LinkRevokedError();
    this.#remember(cipher, { ...opened, org });
    return { ...opened, org, ...(recorded ? { visit: recorded.visit, link: recorded.link } : {}) };
  }

  /**
   * Opens a token with the key its `kid` names, as if it were `at` (epoch seconds; keys are
   * chosen as of `now`), through the work limiter.
   */
  async #openToken(cipher: string, now: number, at: number, lane: 'priority' | 'low'): Promise<OpenedToken> {
    const header = readTokenHeader(cipher);
    let keys = this.#keyring.forToken(header.kid, now);
    if (keys.length === 0 && header.kid !== undefined) {
      await this.#keyring.refresh(); // rotated elsewhere: reloaded only when the keys changed
      keys = this.#keyring.forToken(header.kid, now);
    }
    if (keys.length === 0)
      throw new TokenError(
        'ERR_TOKEN_INVALID',
        'unknown-key',
        'The token was not issued with a key we hold.',
      );
    return this.#limiter.run(() => openToken(cipher, keys, { now: at, audience: AUDIENCE }), {
      weight: header.p2c / ITERATIONS.max,
      lane,
    });
  }

  /**
   * What a link is, whatever its visit's state (for `decode`, never for opening a visit): its
   * claims, opened with the broker's keys and no cancel check; an expired or not-yet-valid token's
   * claims too (opened again as of its own window), with its validity; and the recorded visit's
   * state. Throws TokenError for a token that is not this broker's or was altered.
   */
  async inspect(cipher: string): Promise<InspectedLink> {
    const now = this.#now();
    let opened: OpenedToken;
    let validity: InspectedLink['validity'] = { kind: 'valid' };
    try {
      opened = await this.#openToken(cipher, now, now, 'priority');
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      if (err.code === 'ERR_TOKEN_EXPIRED' && err.expiredAt !== undefined) {
        validity = { kind: 'expired', expiredAt: err.expiredAt };
        opened = await this.#openToken(cipher, now, err.expiredAt - 1, 'priority');
      } else if (err.code === 'ERR_TOKEN_NOT_YET_VALID' && err.notBefore !== undefined) {
        validity = { kind: 'not-yet-valid', notBefore: err.notBefore };
        opened = await this.#openToken(cipher, now, err.notBefore, 'priority');
      } else throw err;
    }
    const recorded =
      (await this.#store.findVisitLinkByCipher(cipher)) ??
      (await this.#store.findVisitLinkByJti(opened.claims.jti));
    return {
      ...opened,
      validity,
      ...(recorded
        ? { visit: recorded.visit, link: recorded.link, state: visitState(recorded.visit, now) }
        : {}),
    };
  }

  #remember(cipher: string, opened: OpenedLink): void {
    if (this.#opened.size >= OPENED_CACHE_SIZE) {
      const oldest = this.#opened.keys().next().value;
      if (oldest !== undefined) this.#opened.delete(oldest);
    }
    this.#opened.set(cipher, opened);
  }

  /** The space API: who this link is, and the space of its subject (created on first use). */
  async space(cipher: string, options: { budget?: OpenBudget } = {}): Promise<SpaceInfo> {
    const { claims, org } = await this.open(cipher, options);
    const space = await this.#store.getOrCreateSpace(org.id, claims.sub, () => ({
      id: randomUUID(),
      createdAt: this.#now(),
    }));
    const isHost = claims.role === 'host';
    return {
      userIdentifier: isHost ? 'Host' : 'Guest',
      isLoggedIn: false,
      isHost,
      organizationId: org.id,
      orgName: org.name,
      // An opaque per-session token: this broker has no Webex access tokens to hand out.
      token: randomBytes(32).toString('base64url'),
      spaceId: Buffer.from(`ciscospark://us/ROOM/${space.id}`).toString('base64').replace(/=+$/, ''),
      visitId: String(space.seq),
      integrationType: 'jose',
    };
  }
}
