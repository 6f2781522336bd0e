/**
 * Rate limits as the routes apply them: issuing per API key and per client address, public
 * pages and the space API per address, and each address's budget of failed token openings.
 */
import type { FastifyRequest } from 'fastify';
import type { OpenBudget } from '../broker/service.js';
import {
  DEFAULT_BOT_VISITS_PER_PERSON,
  RateLimitedError,
  type RateLimiter,
  type RateLimits,
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
  /** Refusals so far, by kind (metrics). */
  readonly refused: Record<'issue' | 'public' | 'open', number>;
}

const MINUTE = 60;
const HOUR = 3600;

export function createLimits(
  limiter: RateLimiter,
  limits: RateLimits,
  onRefuse?: (kind: string) => void,
): Limits {
  const refused = { issue: 0, public: 0, open: 0 };
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
        async allow() {
          if (limit <= 0) return { allowed: true, count: 0, retryAfter: 1 };
          const decision = await limiter.peek(key, limit, MINUTE);
          if (!decision.allowed) {
            refused.open += 1;
            onRefuse?.('open');
          }
          return decision;
        },
        async fail() {
          if (limit > 0) await limiter.hit(key, limit, MINUTE);
        },
      };
    },
  };
}
