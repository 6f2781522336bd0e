/**
 * Rate limits as the routes apply them: issuing per API key and per client address, public
 * pages and the space API per address, and each address's budget of failed token openings.
 */

import type { FastifyRequest } from 'fastify';
import type { OpenBudget } from '../broker/service.js';
import { RateLimitedError } from '../errors.js';
import {
  DEFAULT_BOT_VISITS_PER_PERSON,
  DEFAULT_RATE_LIMITS,
  type RateLimiter,
  type RateLimits,
  type RateReservation,
} from '../reliability/rate-limit.js';

export interface Limits {
  issue(request: FastifyRequest, apiKeyId: string | undefined): Promise<void>;
  public(request: FastifyRequest): Promise<void>;
  /**
   * A visit the bot is about to make for a Webex person: the bot as a whole counts as one API key
   * (RATE_LIMIT_ISSUE_PER_KEY a minute), and each person has BOT_VISITS_PER_PERSON an hour.
   */
  bot(personId: string): Promise<void>;
  openBudget(request: FastifyRequest): OpenBudget;
  /**
   * Looks a short-link code up within the address's budget of misses: one miss is reserved
   * before the look-up and refunded when the code resolves. Past the budget, every code from
   * that address is refused (429) without a look-up, so codes cannot be enumerated.
   */
  shortCode<T>(request: FastifyRequest, lookUp: () => Promise<T | undefined>): Promise<T | undefined>;
  /** Refusals so far, by kind (metrics). */
  readonly refused: Record<'issue' | 'public' | 'open' | 'short', number>;
}

const MINUTE = 60;
const HOUR = 3600;

export function createLimits(
  limiter: RateLimiter,
  limits: RateLimits,
  onRefuse?: (kind: string) => void,
): Limits {
  const refused = { issue: 0, public: 0, open: 0, short: 0 };
  const unlimited: RateReservation = { allowed: true, count: 0, retryAfter: 1, refund: async () => {} };
  const check = async (
    kind: 'issue' | 'public',
    key: string,
    limit: number,
    what: string,
    window = MINUTE,
  ) => {
    if (limit <= 0) return;
    const decision = await limiter.hit(key, limit, window);
    if (!decision.allowed) {
      refused[kind] += 1;
      onRefuse?.(kind);
      const wait =
        decision.retryAfter > 90 ? `${Math.ceil(decision.retryAfter / 60)} min` : `${decision.retryAfter} s`;
      throw new RateLimitedError(
        `Too many ${what}: at most ${limit} ${window === HOUR ? 'an hour' : 'a minute'}; try again in ${wait}`,
        decision.retryAfter,
      );
    }
  };
  return {
    refused,
    async issue(request, apiKeyId) {
      if (apiKeyId)
        await check('issue', `issue:key:${apiKeyId}`, limits.issuePerKey, 'requests with this API key');
      await check(
        'issue',
        `issue:ip:${request.ip}`,
        limits.issuePerAddress,
        'issuing requests from your address',
      );
    },
    async bot(personId) {
      await check('issue', 'issue:key:bot', limits.issuePerKey, 'visits made by the bot');
      await check(
        'issue',
        `issue:bot-person:${personId}`,
        limits.botVisitsPerPerson ?? DEFAULT_BOT_VISITS_PER_PERSON,
        'visits made for you by the bot',
        HOUR,
      );
    },
    async public(request) {
      await check('public', `public:ip:${request.ip}`, limits.publicPerAddress, 'requests from your address');
    },
    openBudget(request) {
      const key = `open-failed:ip:${request.ip}`;
      const limit = limits.failedOpensPerAddress;
      return {
        // Counted before the work (atomically), refunded when the token opens: however many
        // forged tokens arrive at once, at most `limit` a minute reach PBKDF2.
        async reserve() {
          if (limit <= 0) return unlimited;
          const reservation = await limiter.reserve(key, limit, MINUTE);
          if (!reservation.allowed) {
            refused.open += 1;
            onRefuse?.('open');
          }
          return reservation;
        },
      };
    },
    async shortCode(request, lookUp) {
      const limit = limits.shortCodeMissesPerAddress ?? DEFAULT_RATE_LIMITS.shortCodeMissesPerAddress ?? 0;
      if (limit <= 0) return lookUp();
      const reservation = await limiter.reserve(`short-miss:ip:${request.ip}`, limit, MINUTE);
      if (!reservation.allowed) {
        refused.short += 1;
        onRefuse?.('short');
        throw new RateLimitedError(
          `Too many short links that match no visit came from your address: at most ${limit} a minute; try again in ${reservation.retryAfter} s`,
          reservation.retryAfter,
        );
      }
      const found = await lookUp();
      if (found !== undefined) await reservation.refund();
      return found;
    },
  };
}
