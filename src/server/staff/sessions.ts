/**
 * Staff sessions: an API key, checked once, becomes a random cookie value. Only the SHA-256 of
 * that value is stored (a stolen database opens no session), with a random CSRF token and an
 * expiry of 8 hours. A session whose key has been revoked since ends too.
 */

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyService } from '../../broker/api-keys.js';
import { SESSION_TTL_SECONDS } from '../../contract/schemas.js';
import { nowSeconds } from '../../domain/time.js';
import type { Org, Store } from '../../store/types.js';

export interface StaffSession {
  org: Org;
  apiKeyId: string;
  csrf: string;
  expiresAt: number;
}

export interface CookieOptions {
  httpOnly: true;
  sameSite: 'strict';
  path: '/';
  secure: boolean;
  maxAge?: number;
}

const hashSessionValue = (value: string): string => createHash('sha256').update(value).digest('hex');

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(session: StaffSession, submitted: unknown): boolean {
  if (typeof submitted !== 'string' || submitted.length === 0) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class StaffSessions {
  readonly #store: Store;
  readonly #apiKeys: ApiKeyService;
  readonly #now: () => number;
  readonly #secure: boolean;

  constructor(options: {
    store: Store;
    apiKeys: ApiKeyService;
    secureCookies?: boolean;
    now?: () => number;
  }) {
    this.#store = options.store;
    this.#apiKeys = options.apiKeys;
    this.#secure = options.secureCookies ?? false;
    this.#now = options.now ?? nowSeconds;
  }

  /** The cookie's attributes; `Secure` when the public URL is https. */
  cookieOptions(maxAge = SESSION_TTL_SECONDS): CookieOptions {
    return { httpOnly: true, sameSite: 'strict', path: '/', secure: this.#secure, maxAge };
  }

  /**
   * Checks the key (UnauthorizedError when it is missing, unknown or revoked) and opens a session;
   * returns the cookie value, which is never stored.
   */
  async signIn(key: string): Promise<{ cookie: string; session: StaffSession }> {
    const bare = key.trim().replace(/^Bearer\s+/i, '');
    const { org, keyId } = await this.#apiKeys.authenticate(`Bearer ${bare}`);
    const cookie = randomBytes(32).toString('base64url');
    const now = this.#now();
    const session: StaffSession = {
      org,
      apiKeyId: keyId,
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: now + SESSION_TTL_SECONDS,
    };
    await this.#store.createSession({
      hash: hashSessionValue(cookie),
      orgId: org.id,
      apiKeyId: keyId,
      csrf: session.csrf,
      createdAt: now,
      expiresAt: session.expiresAt,
    });
    return { cookie, session };
  }

  /** The session of a cookie value; undefined (signed out) when unknown, expired or its key revoked. */
  async resolve(cookie: string | undefined): Promise<StaffSession | undefined> {
    if (!cookie || cookie.length > 200) return undefined;
    const hash = hashSessionValue(cookie);
    const record = await this.#store.getSession(hash);
    if (!record) return undefined;
    if (record.expiresAt <= this.#now()) {
      await this.#store.deleteSession(hash);
      return undefined;
    }
    const [org, keys] = await Promise.all([
      this.#store.getOrg(record.orgId),
      this.#store.listApiKeys(record.orgId),
    ]);
    const key = keys.find((k) => k.id === record.apiKeyId);
    if (!org || !key || key.revokedAt !== undefined) {
      await this.#store.deleteSession(hash);
      return undefined;
    }
    return { org, apiKeyId: record.apiKeyId, csrf: record.csrf, expiresAt: record.expiresAt };
  }

  async signOut(cookie: string | undefined): Promise<void> {
    if (cookie) await this.#store.deleteSession(hashSessionValue(cookie));
  }
}
