/** Short links, the long-link pages and the space API of the project's own broker. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BrokerService } from '../../broker/service.js';
import { isoSeconds } from '../../domain/time.js';
import {
  CancelledError,
  NotFoundError,
  OverloadedError,
  RateLimitedError,
  TokenError,
  ValidationError,
} from '../../errors.js';
import { escapeHtml, notFoundPage, page } from '../../util/pages.js';
import type { LiveVisits } from '../../visits/live.js';
import { sendError } from '../http-errors.js';
import type { Limits } from '../limits.js';
import { notYetPage, visitPage } from '../views/visit.js';

const wantsHtml = (request: FastifyRequest) => /text\/html/.test(request.headers.accept ?? '');

function dataParam(request: FastifyRequest): string {
  const query = request.query as Record<string, unknown>;
  const data = query['data'];
  if (typeof data !== 'string' || data.length === 0) {
    throw new ValidationError([
      { path: 'data', rule: 'required', message: 'the data query parameter (the cipher) is required' },
    ]);
  }
  if (query['int'] !== undefined && query['int'] !== 'jose') {
    throw new ValidationError([{ path: 'int', rule: 'enum', message: 'int must be jose' }]);
  }
  return data;
}

export async function linkRoutes(
  app: FastifyInstance,
  opts: { broker: BrokerService; live: LiveVisits; limits: Limits },
): Promise<void> {
  const { broker, live, limits } = opts;
  app.addHook('onRequest', async (request) => limits.public(request));

  app.get<{ Params: { code: string } }>('/visit/:code', async (request, reply) => {
    let missed: NotFoundError | undefined;
    try {
      // Within the address's budget of misses: past it, no code is looked up (nor revealed).
      const resolved = await limits.shortCode(request, () =>
        broker.resolveShortLink(request.params.code).catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err;
          missed = err;
          return undefined;
        }),
      );
      if (resolved) return reply.redirect(resolved.location, 302);
      throw missed ?? new NotFoundError('No visit link with this code');
    } catch (err) {
      if (err instanceof NotFoundError && wantsHtml(request)) {
        return reply.status(404).type('text/html; charset=utf-8').send(notFoundPage(err.message));
      }
      if (err instanceof RateLimitedError && wantsHtml(request)) {
        return reply
          .status(429)
          .header('retry-after', err.retryAfter)
          .type('text/html; charset=utf-8')
          .send(
            page(
              'Too many attempts',
              `<h1>Too many attempts</h1><p>Too many links that lead nowhere came from your network. Try again in ${err.retryAfter} seconds.</p>`,
            ),
          );
      }
      throw err;
    }
  });

  app.get<{ Params: { vertical: string; page: string } }>('/:vertical/v1/:page', async (request, reply) => {
    const { vertical, page: kind } = request.params;
    if (!['gen', 'hc'].includes(vertical) || !['login', 'talk'].includes(kind)) {
      throw new NotFoundError(`No page at ${request.url.split('?')[0]}`);
    }
    return renderLinkPage(broker, live, limits, request, reply);
  });

  const space = async (request: FastifyRequest) =>
    broker.space(dataParam(request), { budget: limits.openBudget(request) });
  for (const url of ['/api/v1/space', '/api/v1/space/']) {
    app.get(url, space);
    app.post(url, space);
  }
}

async function renderLinkPage(
  broker: BrokerService,
  live: LiveVisits,
  limits: Limits,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  let cipher: string;
  try {
    cipher = dataParam(request);
  } catch (err) {
    if (!wantsHtml(request)) return sendError(err, request, reply);
    return reply
      .status(400)
      .type('text/html; charset=utf-8')
      .send(
        page(
          'Link incomplete',
          '<h1>This link is incomplete</h1><p>It carries no visit. Check the link you were sent.</p>',
        ),
      );
  }
  const html = (status: number, title: string, body: string) =>
    reply.status(status).type('text/html; charset=utf-8').send(page(title, body));
  try {
    const { claims, visit } = await broker.open(cipher, { budget: limits.openBudget(request) });
    const role = claims.role === 'host' ? 'host' : 'guest';
    if (visit) {
      // A visit of this broker: the lobby page, holding a ticket instead of the token. The ticket
      // names the link (its jti), so however many times it is opened it is one participant.
      const ticket = live.issueTicket(visit, role, claims.exp, claims.jti);
      const status = await live.status(live.readTicket(ticket));
      return reply.status(200).type('text/html; charset=utf-8').send(visitPage(status, ticket));
    }
    return html(
      200,
      `${claims.sub}: ${role}`,
      `<h1>${escapeHtml(claims.sub)}</h1>
<p>You are joining as the <strong>${role}</strong>.</p>
<p><span class="state ok">Valid</span> until <time datetime="${isoSeconds(claims.exp)}">${isoSeconds(claims.exp)}</time>.</p>`,
    );
  } catch (err) {
    if (err instanceof RateLimitedError) {
      reply.header('retry-after', err.retryAfter);
      return html(
        429,
        'Too many attempts',
        `<h1>Too many attempts</h1><p>Too many links that could not be opened came from your network. Try again in ${err.retryAfter} seconds.</p>`,
      );
    }
    if (err instanceof OverloadedError) {
      reply.header('retry-after', err.retryAfter);
      return html(503, 'Busy', `<h1>The server is busy</h1><p>Try again in ${err.retryAfter} seconds.</p>`);
    }
    if (err instanceof CancelledError) {
      return html(
        410,
        'Visit cancelled',
        '<h1>This visit was cancelled</h1><p><span class="state bad">Cancelled</span> Its links no longer work. Ask for a new link if you still need a visit.</p>',
      );
    }
    if (!(err instanceof TokenError)) throw err;
    if (err.code === 'ERR_TOKEN_NOT_YET_VALID') {
      return reply.status(403).type('text/html; charset=utf-8').send(notYetPage(err.notBefore));
    }
    if (err.code === 'ERR_TOKEN_EXPIRED') {
      return html(
        403,
        'Link expired',
        '<h1>This link has expired</h1><p><span class="state bad">Expired</span> Ask for a new link.</p>',
      );
    }
    return html(
      400,
      'Link not valid',
      '<h1>This link is not valid</h1><p><span class="state bad">Invalid</span> Check the link you were sent, or ask for a new one.</p>',
    );
  }
}
