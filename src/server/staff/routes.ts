/**
 * The staff page at `/`: sign in with an API key (a session cookie), make a visit, copy or scan
 * its links, list visits by state, cancel one. Plain HTML forms; every POST but sign-in carries
 * the session's CSRF token, and a POST whose Origin is another site's is refused.
 *
 * The form body parser and the cookie plugin live in this plugin's scope only: the JSON API
 * routes neither parse forms nor read cookies.
 */

import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import type { ApiKeyService } from '../../broker/api-keys.js';
import { SESSION_COOKIE, TABS, VisitIdParams, VisitLinkParams } from '../../contract/schemas.js';
import {
  InstantConnectError,
  NotFoundError,
  OverloadedError,
  UnauthorizedError,
  ValidationError,
  VisitConflictError,
} from '../../errors.js';
import type { Store } from '../../store/types.js';
import type { LiveBus } from '../../visits/live.js';
import { handedUrl, type VisitLink, type VisitService, type VisitView } from '../../visits/service.js';
import type { Limits } from '../limits.js';
import { route } from '../route.js';
import {
  defaultValues,
  formErrors,
  readForm,
  textField,
  toVisitInput,
  type VisitFormValues,
} from './form.js';
import { csrfMatches, type StaffSession, StaffSessions } from './sessions.js';
import { StaffStreams } from './stream.js';
import {
  CANCELLABLE,
  cancelPage,
  dashboardPage,
  type LinkBlock,
  listPage,
  messagePage,
  signInPage,
  TAB_STATES,
  type Tab,
  visitPage,
} from './views.js';

export interface StaffRoutesOptions {
  store: Store;
  apiKeys: ApiKeyService;
  visits: VisitService;
  /** The public URL of the server: its origin is accepted in `Origin` besides the request's own. */
  publicUrl: () => string;
  /** `Secure` cookies (the public URL is https). */
  secureCookies?: boolean;
  /** The API's issuing limits: a new visit counts against the session's API key and the address. */
  limits?: Pick<Limits, 'issue'>;
  /** Where visit changes travel (the live lobby's bus): the pages update from it. */
  bus?: LiveBus;
}

/** How long a staff page's EventSource waits before reconnecting after a dropped connection (ms). */
const RETRY_MS = 5000;

const PAGE_SIZE = 20;
/** GET /visits: which tab and page (anything else shows the first page of upcoming visits). */
/** QR codes on one visit's page (a few KiB each). */
const QR_LIMIT = 25;

const html = (reply: FastifyReply, status: number, body: string) =>
  reply.status(status).type('text/html; charset=utf-8').send(body);

/**
 * True when the request has no Origin or comes from this server's own origin. A browser sends
 * `Origin: null` for a same-origin form under a no-referrer policy; `Sec-Fetch-Site` (which no
 * page can set) then tells whether it was really this site.
 */
function sameOrigin(request: FastifyRequest, publicUrl: string): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (origin === 'null') return request.headers['sec-fetch-site'] === 'same-origin';
  const own = new Set<string>();
  const add = (url: string) => {
    try {
      own.add(new URL(url).origin);
    } catch {}
  };
  if (request.headers.host) add(`${request.protocol}://${request.headers.host}`);
  add(publicUrl);
  let given: string;
  try {
    given = new URL(origin).origin;
  } catch {
    return false;
  }
  return given !== 'null' && own.has(given);
}

async function qrSvg(url: string, label: string): Promise<string> {
  const svg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return svg.replace('<svg ', `<svg role="img" aria-label="QR code of ${label.replace(/[<>&"]/g, '')}" `);
}

async function linkBlocks(
  visit: VisitView,
): Promise<{ hosts: LinkBlock[]; guests: LinkBlock[]; limited: boolean }> {
  let budget = QR_LIMIT;
  const block = async (link: VisitLink, label: string): Promise<LinkBlock> => {
    const url = handedUrl(link);
    // A gateway link is the only one to hand out: the broker's own URLs would bypass it (and
    // cancelling or withdrawing could not stop them).
    const b: LinkBlock = link.gatewayUrl ? { label, url } : { label, url, longUrl: link.longUrl };
    if (!link.gatewayUrl && link.forcedLoginUrl && link.forcedLoginUrl !== url)
      b.forcedLoginUrl = link.forcedLoginUrl;
    if (budget > 0) {
      budget -= 1;
      b.qr = await qrSvg(url, label.toLowerCase());
    }
    return b;
  };
  const status = (l: VisitLink) => (l.revokedAt ? ' (withdrawn)' : l.openedAt ? ' (opened)' : '');
  const hosts: LinkBlock[] = [];
  for (const l of visit.hosts) hosts.push(await block(l, `Host link ${l.index + 1}${status(l)}`));
  const guests: LinkBlock[] = [];
  for (const l of visit.guests) guests.push(await block(l, `Guest link ${l.index + 1}${status(l)}`));
  return { hosts, guests, limited: visit.hosts.length + visit.guests.length > QR_LIMIT };
}

export async function staffRoutes(app: FastifyInstance, opts: StaffRoutesOptions): Promise<void> {
  await app.register(fastifyCookie);
  await app.register(fastifyFormbody);
  // Runs after the app's own onSend (which says no-referrer): staff pages carry no cipher in their
  // URLs, and under `same-origin` browsers send the real Origin with this site's forms (under
  // no-referrer they send `Origin: null`). Other sites still get no Referer.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('referrer-policy', 'same-origin');
    return payload;
  });
  const { visits } = opts;
  const sessions = new StaffSessions({
    store: opts.store,
    apiKeys: opts.apiKeys,
    secureCookies: opts.secureCookies ?? false,
  });
  const actor = (session: StaffSession) => `staff:${session.apiKeyId}`;
  const sessionOf = (request: FastifyRequest) => sessions.resolve(request.cookies[SESSION_COOKIE]);
  const clearCookie = (reply: FastifyReply) => {
    const { maxAge: _maxAge, ...attributes } = sessions.cookieOptions();
    reply.clearCookie(SESSION_COOKIE, attributes);
  };

  app.setErrorHandler(async (error, request, reply) => {
    let session: StaffSession | undefined;
    try {
      session = await sessionOf(request);
    } catch {
      // The error page is shown signed out.
    }
    if (error instanceof NotFoundError) {
      return html(
        reply,
        404,
        messagePage(session, 'Visit not found', 'There is no such visit in your organisation.', {
          href: '/visits',
          label: 'All visits',
        }),
      );
    }
    if (error instanceof InstantConnectError) {
      return html(reply, error.httpStatus, messagePage(session, 'That did not work', error.message));
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return html(
        reply,
        status,
        messagePage(session, 'The form could not be read', 'Go back, reload the page and try again.'),
      );
    }
    request.log.error({ err: error }, 'unhandled error on a staff page');
    return html(
      reply,
      500,
      messagePage(session, 'Something went wrong', 'Something went wrong on our side.'),
    );
  });

  /** The session of a page, or a 303 to the sign-in page (then undefined). */
  async function pageSession(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<StaffSession | undefined> {
    const session = await sessionOf(request);
    if (!session) {
      if (request.cookies[SESSION_COOKIE]) clearCookie(reply);
      reply.redirect('/', 303);
    }
    return session;
  }

  /** A form's session: same origin, signed in, and the session's CSRF token; else answered (undefined). */
  async function formSession(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<StaffSession | undefined> {
    if (!sameOrigin(request, opts.publicUrl())) {
      html(
        reply,
        403,
        messagePage(undefined, 'Refused', 'This form was sent from another site, so it was not accepted.'),
      );
      return undefined;
    }
    const session = await pageSession(request, reply);
    if (!session) return undefined;
    if (!csrfMatches(session, textField(request.body, '_csrf'))) {
      html(
        reply,
        403,
        messagePage(
          session,
          'The form could not be checked',
          'Its security token is missing or out of date, so nothing was changed. Go back, reload the page and try again.',
        ),
      );
      return undefined;
    }
    return session;
  }

  const upcoming = async (session: StaffSession) =>
    (await visits.list(session.org, { states: TAB_STATES.upcoming, order: 'asc', limit: 5, offset: 0 }))
      .items;

  const dashboard = async (
    reply: FastifyReply,
    status: number,
    session: StaffSession,
    values: VisitFormValues,
    errors?: ValidationError,
    banner?: string,
  ) =>
    html(
      reply,
      status,
      dashboardPage(
        session,
        values,
        errors ? formErrors(errors.issues) : undefined,
        await upcoming(session),
        banner,
        visits.gatewayOffered,
      ),
    );

  route(app, 'staffHome', async (request, reply) => {
    const session = await sessionOf(request);
    if (!session) {
      if (request.cookies[SESSION_COOKIE]) clearCookie(reply);
      return html(reply, 200, signInPage());
    }
    return dashboard(reply, 200, session, defaultValues(Date.now()));
  });

  route(app, 'staffSignIn', async (request, reply) => {
    if (!sameOrigin(request, opts.publicUrl())) {
      return html(
        reply,
        403,
        messagePage(undefined, 'Refused', 'This sign-in was sent from another site, so it was not accepted.'),
      );
    }
    const key = textField(request.body, 'key').trim();
    if (!key) return html(reply, 401, signInPage('Enter your API key to sign in.'));
    let signedIn: Awaited<ReturnType<StaffSessions['signIn']>>;
    try {
      signedIn = await sessions.signIn(key);
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
      const revoked = /revoked/.test(err.message);
      return html(
        reply,
        401,
        signInPage(
          revoked
            ? 'That API key has been revoked. Ask for a new one.'
            : 'That API key was not accepted. Check it and try again, or ask for a new one.',
        ),
      );
    }
    await sessions.signOut(request.cookies[SESSION_COOKIE]);
    reply.setCookie(SESSION_COOKIE, signedIn.cookie, sessions.cookieOptions());
    return reply.redirect('/', 303);
  });

  route(app, 'staffSignOut', async (request, reply) => {
    const session = await formSession(request, reply);
    if (!session) return reply;
    await sessions.signOut(request.cookies[SESSION_COOKIE]);
    clearCookie(reply);
    return reply.redirect('/', 303);
  });

  route(app, 'staffCreateVisit', async (request, reply) => {
    const session = await formSession(request, reply);
    if (!session) return reply;
    const values = readForm(request.body);
    let visit: VisitView;
    try {
      // The same issuing limits as POST /api/visits: per API key (the session's) and per address.
      await opts.limits?.issue(request, session.apiKeyId);
      visit = await visits.create(session.org, actor(session), toVisitInput(values));
    } catch (err) {
      if (err instanceof ValidationError) return dashboard(reply, 400, session, values, err);
      if (err instanceof InstantConnectError) {
        if (err.retryAfter !== undefined) reply.header('retry-after', err.retryAfter);
        return dashboard(
          reply,
          err.httpStatus,
          session,
          values,
          undefined,
          `The visit was not created: ${err.message}`,
        );
      }
      throw err;
    }
    return reply.redirect(`/visits/${encodeURIComponent(visit.id)}`, 303);
  });

  const streams = opts.bus ? new StaffStreams({ bus: opts.bus, visits }) : undefined;
  route(app, 'staffEvents', async (request, reply) => {
    const session = await pageSession(request, reply);
    if (!session) return reply;
    if (!streams) throw new OverloadedError(60);
    const res = reply.raw;
    let open = false;
    const stream = streams.open(session, {
      send: (update) => {
        if (open) res.write(`event: visit\ndata: ${JSON.stringify(update)}\n\n`);
      },
      // The session ended: the page signs in again (a reconnection would be refused).
      end: () => {
        if (!open) return;
        open = false;
        res.end('event: end\ndata: {"reason":"session"}\n\n');
      },
    });
    reply.hijack();
    if (res.destroyed || request.raw.destroyed) {
      stream.close();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      trackingid: String(request.id),
    });
    open = true;
    res.write(`retry: ${RETRY_MS}\n\n`);
    const ping = setInterval(() => {
      if (open) res.write(': ping\n\n');
    }, 15_000);
    res.on('close', () => {
      open = false;
      clearInterval(ping);
      stream.close();
    });
  });
  // Streams never finish by themselves: end them so a graceful shutdown does not wait forever.
  app.addHook('preClose', async () => {
    streams?.closeAll();
  });

  route(app, 'staffListVisits', async (request, reply) => {
    const session = await pageSession(request, reply);
    if (!session) return reply;
    const query = request.query as Record<string, unknown>;
    const tab: Tab = TABS.includes(query['tab'] as Tab) ? (query['tab'] as Tab) : 'upcoming';
    const raw = typeof query['page'] === 'string' ? query['page'] : '1';
    const pageNumber = /^\d{1,6}$/.test(raw) && Number(raw) >= 1 ? Number(raw) : 1;
    const result = await visits.list(session.org, {
      states: TAB_STATES[tab],
      order: tab === 'upcoming' ? 'asc' : 'desc',
      limit: PAGE_SIZE,
      offset: (pageNumber - 1) * PAGE_SIZE,
    });
    return html(reply, 200, listPage(session, tab, result, pageNumber, PAGE_SIZE));
  });

  route(
    app,
    'staffVisitPage',
    async (request, reply) => {
      const session = await pageSession(request, reply);
      if (!session) return reply;
      const visit = await visits.get(session.org, request.params.id);
      const [blocks, events, deliveries] = await Promise.all([
        linkBlocks(visit),
        visits.events(session.org, visit.id),
        visits.deliveries(session.org, visit.id),
      ]);
      return html(
        reply,
        200,
        visitPage(session, visit, blocks, events, blocks.limited ? QR_LIMIT : undefined, deliveries.items),
      );
    },
    { schema: { params: VisitIdParams } },
  );

  route(
    app,
    'staffCancelPage',
    async (request, reply) => {
      const session = await pageSession(request, reply);
      if (!session) return reply;
      const visit = await visits.get(session.org, request.params.id);
      if (!CANCELLABLE.has(visit.state)) {
        return html(
          reply,
          409,
          messagePage(session, 'This visit cannot be cancelled', `It is ${visit.state}.`, {
            href: `/visits/${encodeURIComponent(visit.id)}`,
            label: 'Back to the visit',
          }),
        );
      }
      return html(reply, 200, cancelPage(session, visit));
    },
    { schema: { params: VisitIdParams } },
  );

  route(
    app,
    'staffCancelVisit',
    async (request, reply) => {
      const session = await formSession(request, reply);
      if (!session) return reply;
      const id = request.params.id;
      try {
        await visits.cancel(session.org, actor(session), id);
      } catch (err) {
        if (!(err instanceof VisitConflictError)) throw err;
        return html(
          reply,
          409,
          messagePage(session, 'This visit cannot be cancelled', err.message, {
            href: `/visits/${encodeURIComponent(id)}`,
            label: 'Back to the visit',
          }),
        );
      }
      return reply.redirect(`/visits/${encodeURIComponent(id)}`, 303);
    },
    { schema: { params: VisitIdParams } },
  );

  route(
    app,
    'staffResendLink',
    async (request, reply) => {
      const session = await formSession(request, reply);
      if (!session) return reply;
      const { id, role, index } = request.params;
      const back = { href: `/visits/${encodeURIComponent(id)}`, label: 'Back to the visit' };
      try {
        await visits.resend(session.org, actor(session), id, role, index, {});
      } catch (err) {
        if (err instanceof VisitConflictError)
          return html(reply, 409, messagePage(session, 'Nothing was sent', err.message, back));
        if (err instanceof ValidationError)
          return html(
            reply,
            400,
            messagePage(session, 'Nothing was sent', err.issues.map((i) => i.message).join('; '), back),
          );
        throw err;
      }
      return reply.redirect(`/visits/${encodeURIComponent(id)}`, 303);
    },
    { schema: { params: VisitLinkParams } },
  );
}
