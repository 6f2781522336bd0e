/**
 * Rate limits as the routes apply them: issuing per API key and per client address, public
 * pages and the space API per address, and each address's budget of failed token openings.
 */
import type { FastifyRequest } from 'fastify';
import type { OpenBudget } from '../broker/service.js';
import { RateLimitedError, type RateLimiter, type RateLimits } from '../reliability/rate-limit.js';

export interface Limits {
  issue(request: FastifyRequest, apiKeyId: string | undefined): Promise<void>;
  public(request: FastifyRequest): Promise<void>;
  openBudget(request: FastifyRequest): OpenBudget;
  /** Refusals so far, by kind (metrics). */
  readonly refused: Record<'issue' | 'public' | 'open', number>;
}

const MINUTE = 60;

export function createLimits(
  limiter: RateLimiter,
  limits: RateLimits,
  onRefuse?: (kind: string) => void,
): Limits {
  const refused = { issue: 0, public: 0, open: 0 };
  const check = async (kind: 'issue' | 'public', key: string, limit: number, what: string) => {
    if (limit <= 0) return;
    const decision = await limiter.hit(key, limit, MINUTE);
    if (!decision.allowed) {
      refused[kind] += 1;
      onRefuse?.(kind);
      throw new RateLimitedError(
        `Too many ${what}: at most ${limit} a minute; try again in ${decision.retryAfter} s`,
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
