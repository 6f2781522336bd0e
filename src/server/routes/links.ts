/** Short links, the long-link pages and the space API of the project's own broker. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { BrokerService } from '../../broker/service.js';
import { GATEWAY_CODE_LENGTH } from '../../domain/short-code.js';
import { isoSeconds } from '../../domain/time.js';
import {
  CancelledError,
  LinkRevokedError,
  NotFoundError,
  OverloadedError,
  RateLimitedError,
  TokenError,
  ValidationError,
} from '../../errors.js';
import type { VisitLinkRecord, VisitRecord } from '../../store/types.js';
import { escapeHtml, notFoundPage, page } from '../../util/pages.js';
import type { LiveVisits } from '../../visits/live.js';
import type { VisitService } from '../../visits/service.js';
import { sendError } from '../http-errors.js';
import type { Limits } from '../limits.js';
import { route } from '../route.js';
import { notYetPage, visitPage } from '../views/visit.js';

/** Path parameters, for typing only: any string reaches the handler (a wrong one is a 404 there). */
const ShortCodeParams = Type.Object({ code: Type.String() });
const LinkPageParams = Type.Object({ vertical: Type.String(), page: Type.String() });

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
  opts: { broker: BrokerService; live: LiveVisits; visits: VisitService; limits: Limits },
): Promise<void> {
  const { broker, live, visits, limits } = opts;
  app.addHook('onRequest', async (request) => limits.public(request));

  route(
    app,
    'openShortLink',
    async (request, reply) => {
      let missed: NotFoundError | undefined;
      try {
        const { code } = request.params;
        // Within the address's budget of misses: past it, no code is looked up (nor revealed).
        // Gateway codes (Cisco-brokered visits) are longer than this broker's short codes.
        const resolved = await limits.shortCode(request, async () => {
          if (code.length === GATEWAY_CODE_LENGTH) {
            const gateway = await visits.gatewayLink(code);
            if (gateway) return { gateway };
          }
          return broker.resolveShortLink(code).catch((err: unknown) => {
            if (!(err instanceof NotFoundError)) throw err;
            missed = err;
            return undefined;
          });
        });
        if (resolved && 'gateway' in resolved) return openGateway(visits, request, reply, resolved.gateway);
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
    },
    { schema: { params: ShortCodeParams } },
  );

  route(
    app,
    'openLinkPage',
    async (request, reply) => {
      const { vertical, page: kind } = request.params;
      if (!['gen', 'hc'].includes(vertical) || !['login', 'talk'].includes(kind)) {
        throw new NotFoundError(`No page at ${request.url.split('?')[0]}`);
      }
      return renderLinkPage(broker, live, limits, request, reply);
    },
    { schema: { params: LinkPageParams } },
  );

  const space = async (request: FastifyRequest) =>
    broker.space(dataParam(request), { budget: limits.openBudget(request) });
  for (const operationId of ['getSpace', 'postSpace', 'getSpaceSlash', 'postSpaceSlash']) {
    route(app, operationId, space);
  }
}

const CANCELLED_PAGE =
  '<h1>This visit was cancelled</h1><p><span class="state bad">Cancelled</span> Its links no longer work. Ask for a new link if you still need a visit.</p>';
const EXPIRED_PAGE =
  '<h1>This link has expired</h1><p><span class="state bad">Expired</span> Ask for a new link.</p>';
const WITHDRAWN_PAGE =
  '<h1>This link was withdrawn</h1><p><span class="state bad">Withdrawn</span> Whoever sent it to you no longer wants it used. Ask them for a new link if you still need a visit.</p>';

/**
 * A gateway link (a visit on Cisco's broker): a redirect to the broker's URL while the visit is
 * open, else the page (or, for a JSON client, the error) saying why not. Nothing before the
 * redirect carries the cipher: the pages below are static, and the Location header is not logged.
 */
async function openGateway(
  visits: VisitService,
  request: FastifyRequest,
  reply: FastifyReply,
  found: { visit: VisitRecord; link: VisitLinkRecord },
) {
  const opening = await visits.openGatewayLink(found, request.headers['user-agent']);
  if (opening.kind === 'redirect') {
    return reply
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .redirect(opening.location, 302);
  }
  reply.header('cache-control', 'no-store');
  const html = wantsHtml(request);
  const send = (status: number, title: string, body: string, err: Error) =>
    html
      ? reply.status(status).type('text/html; charset=utf-8').send(page(title, body))
      : sendError(err, request, reply);
  switch (opening.kind) {
    case 'cancelled':
      return send(410, 'Visit cancelled', CANCELLED_PAGE, new CancelledError());
    case 'revoked':
      return send(410, 'Link withdrawn', WITHDRAWN_PAGE, new LinkRevokedError());
    case 'expired':
      return send(
        403,
        'Link expired',
        EXPIRED_PAGE,
        new TokenError('ERR_TOKEN_EXPIRED', 'expired', 'This link has expired: ask for a new link'),
      );
    case 'not-yet': {
      if (html) return reply.status(403).type('text/html; charset=utf-8').send(notYetPage(opening.notBefore));
      return sendError(
        new TokenError(
          'ERR_TOKEN_NOT_YET_VALID',
          'not-yet-valid',
          `This link opens at ${isoSeconds(opening.notBefore)}`,
          { notBefore: opening.notBefore },
        ),
        request,
        reply,
      );
    }
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
      return html(410, 'Visit cancelled', CANCELLED_PAGE);
    }
    if (err instanceof LinkRevokedError) return html(410, 'Link withdrawn', WITHDRAWN_PAGE);
    if (!(err instanceof TokenError)) throw err;
    if (err.code === 'ERR_TOKEN_NOT_YET_VALID') {
      return reply.status(403).type('text/html; charset=utf-8').send(notYetPage(err.notBefore));
    }
    if (err.code === 'ERR_TOKEN_EXPIRED') {
      return html(403, 'Link expired', EXPIRED_PAGE);
    }
    return html(
      400,
      'Link not valid',
      '<h1>This link is not valid</h1><p><span class="state bad">Invalid</span> Check the link you were sent, or ask for a new one.</p>',
    );
  }
}
