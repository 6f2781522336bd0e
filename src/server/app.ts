/**
 * The HTTP application, built without listening (fastify's testing pattern): `buildApp()` for
 * tests and `listen()` in serve.ts. Routes are thin; services do the work.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { BotService } from '../bot/bot.js';
import type { ApiKeyService } from '../broker/api-keys.js';
import type { BrokerService } from '../broker/service.js';
import type { WorkLimiter } from '../crypto/limiter.js';
import { InstantConnectError, NotFoundError } from '../errors.js';
import type { EventsService } from '../events/service.js';
import type { TriggerService } from '../hooks/trigger.js';
import type { Pruner } from '../jobs/prune.js';
import type { JobRunner } from '../jobs/runner.js';
import type { MeetingTelemetry } from '../meetings/telemetry.js';
import { DEFAULT_RATE_LIMITS, MemoryRateLimiter } from '../reliability/rate-limit.js';
import type { SmsService } from '../sms/service.js';
import type { Store } from '../store/types.js';
import { notFoundPage } from '../util/pages.js';
import type { LiveVisits } from '../visits/live.js';
import type { VisitService } from '../visits/service.js';
import { clientErrorResponse, envelope, sendError } from './http-errors.js';
import { createLimits, type Limits } from './limits.js';
import { type MetricSources, type MetricsAccess, setupMetrics } from './metrics.js';
import { brokerRoutes } from './routes/broker.js';
import { requireContracts } from './routes/contract.js';
import { docsRoutes } from './routes/docs.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { hookRoutes } from './routes/hooks.js';
import { linkRoutes } from './routes/links.js';
import { liveRoutes } from './routes/live.js';
import { smsRoutes } from './routes/sms.js';
import { visitRoutes } from './routes/visits.js';
import { provideSecurity, securitySchemes } from './security.js';
import { staffRoutes } from './staff/routes.js';
import { fastifyTrustProxy, type TrustProxy } from './trust-proxy.js';

/** Largest JSON body accepted (a full joseencrypt body with 25 devices is about 3 KiB). */
export const BODY_LIMIT_BYTES = 64 * 1024;

export interface AppDeps {
  store: Store;
  broker: BrokerService;
  apiKeys: ApiKeyService;
  visits: VisitService;
  live: LiveVisits;
  trigger: TriggerService;
  /** Outbound event subscriptions and deliveries (/api/events/…). */
  events: EventsService;
  bot?: BotService;
  /** Meeting telemetry of Cisco visits (POST /hooks/webex/meetings), when on. */
  meetings?: MeetingTelemetry;
  /** SMS webhooks (POST /hooks/sms/twilio/…), when SMS is on. */
  sms?: SmsService;
  /** Rate limits (default: in memory, the default limits). */
  limits?: Limits;
  /** With both, GET /metrics is served. */
  limiter?: WorkLimiter;
  runner?: JobRunner;
  /** Its rows pruned show in /metrics. */
  pruner?: Pruner;
  /** The outbound events' delivery worker, for /metrics. */
  eventWorker?: MetricSources['events'];
}

export interface AppOptions {
  logger?: FastifyServerOptions['logger'];
  bodyLimit?: number;
  /** Staff session cookies are `Secure` (the public URL is https). Default false. */
  secureCookies?: boolean;
  /** Proxies believed about the client's address (request.ip); default none. See trust-proxy.ts. */
  trustProxy?: TrustProxy;
  /** Who may read /metrics (default: this machine only, 60 a minute per address). */
  metrics?: MetricsAccess;
}

function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? '';
  if (/text\/html/.test(request.headers.accept ?? '')) {
    return reply
      .status(404)
      .type('text/html; charset=utf-8')
      .send(notFoundPage(`Nothing lives at ${path}.`));
  }
  return sendError(new NotFoundError(`No route ${request.method} ${path}`), request, reply);
}

/** A route as the app registered it (one method each); `methodNotAllowed`: a generated 405. */
export interface RegisteredRoute {
  method: string;
  url: string;
  methodNotAllowed: boolean;
}
const ROUTES = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route `buildApp` registered on this app, in order (the API description's tests read it). */
export const registeredRoutes = (app: FastifyInstance): readonly RegisteredRoute[] => ROUTES.get(app) ?? [];

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export async function buildApp(deps: AppDeps, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? BODY_LIMIT_BYTES,
    // Our own ids, never a client's: they are the TrackingID of every answer.
    genReqId: () => `IC_${randomUUID()}`,
    trustProxy: fastifyTrustProxy(options.trustProxy),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    // Slow clients: the whole request must arrive within 30 s (headers within 10 s), and an idle
    // connection is dropped after 72 s. Event streams send a ping every 15 s, so they live on.
    requestTimeout: 30_000,
    connectionTimeout: 72_000,
    keepAliveTimeout: 72_000,
    http: { headersTimeout: 10_000 },
    // The router's refusals (a malformed percent-encoding, a path segment past maxParamLength) in
    // our envelope like every other answer, not fastify's own body.
    frameworkErrors: (error, request, reply) => {
      reply.header('TrackingID', request.id);
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return notFound(request, reply);
      return sendError(
        new InstantConnectError('ERR_VALIDATION', 'The URL is not valid: it holds a malformed %-encoding'),
        request,
        reply,
      );
    },
    // The HTTP parser's refusals before any route (URL or headers over 16 KiB, garbage): the envelope.
    clientErrorHandler: (err, socket) => {
      if ((err as { code?: string }).code === 'ECONNRESET' || socket.destroyed) return;
      const code = (err as { code?: string }).code;
      const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      if (socket.writable) socket.write(clientErrorResponse(status));
      socket.destroy();
    },
  });

  // An empty body is no body, whatever its Content-Type says (a DELETE from a client that always
  // sends `Content-Type: application/json`); anything else goes to fastify's own safe JSON parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(request, body as string, done);
  });

  requireContracts(app);
  // Each security scheme of the contract and its resolver: route() authenticates with them.
  provideSecurity(app, securitySchemes({ apiKeys: deps.apiKeys, trigger: deps.trigger }));
  // Every route's methods, so a known path with another method answers 405 with Allow.
  const methodsByUrl = new Map<string, Set<string>>();
  const registered: RegisteredRoute[] = [];
  ROUTES.set(app, registered);
  app.addHook('onRoute', (route) => {
    const methodNotAllowed = !!(route.config as { methodNotAllowed?: boolean } | undefined)?.methodNotAllowed;
    for (const method of [route.method].flat()) registered.push({ method, url: route.url, methodNotAllowed });
    if (route.url === '*' || (route.config as { methodNotAllowed?: boolean } | undefined)?.methodNotAllowed)
      return;
    const methods = methodsByUrl.get(route.url) ?? new Set<string>();
    for (const m of [route.method].flat()) methods.add(m);
    methodsByUrl.set(route.url, methods);
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('TrackingID', request.id);
  });
  // A request still running when close() begins keeps its keep-alive connection open after the
  // answer, and the server would only close once the keep-alive timeout (72 s) ran out. While
  // closing, answers say `Connection: close`, so each connection ends with its last answer.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  // Pages carry ciphers in their URLs: never send them on as a Referer, never frame them, and
  // run only our own scripts and styles.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('text/html')) {
      reply.header(
        'content-security-policy',
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      );
      reply.header('x-frame-options', 'DENY');
      reply.header('cache-control', 'no-store');
    }
    return payload;
  });
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => notFound(request, reply));

  await app.register(fastifyStatic, {
    root: fileURLToPath(new URL('../../public/', import.meta.url)),
    prefix: '/assets/',
    maxAge: '1h',
  });
  const limits = deps.limits ?? createLimits(new MemoryRateLimiter(), DEFAULT_RATE_LIMITS);
  if (deps.limiter && deps.runner) {
    setupMetrics(
      app,
      {
        broker: deps.broker,
        store: deps.store,
        limiter: deps.limiter,
        runner: deps.runner,
        limits,
        ...(deps.pruner ? { pruner: deps.pruner } : {}),
        ...(deps.eventWorker ? { events: deps.eventWorker } : {}),
      },
      options.metrics,
    );
  }
  await app.register(healthRoutes, { store: deps.store });
  await app.register(brokerRoutes, { broker: deps.broker, visits: deps.visits, limits });
  await app.register(visitRoutes, { visits: deps.visits, limits });
  await app.register(eventRoutes, { events: deps.events });
  await app.register(linkRoutes, { broker: deps.broker, live: deps.live, visits: deps.visits, limits });
  await app.register(liveRoutes, { live: deps.live, limits });
  await app.register(hookRoutes, {
    limits,
    trigger: deps.trigger,
    ...(deps.bot ? { bot: deps.bot } : {}),
    ...(deps.meetings ? { meetings: deps.meetings } : {}),
  });
  await app.register(smsRoutes, deps.sms ? { sms: deps.sms } : {});

  // The API description: GET /openapi.json and its reference page, GET /docs.
  await app.register(docsRoutes, { publicUrl: () => deps.broker.publicUrl });

  // The staff page (`/`, `/session`, `/visits…`): forms and a session cookie, in its own scope.
  await app.register(staffRoutes, {
    store: deps.store,
    apiKeys: deps.apiKeys,
    visits: deps.visits,
    publicUrl: () => deps.broker.publicUrl,
    secureCookies: options.secureCookies ?? false,
    limits,
    bus: deps.live.bus,
  });

  // 405 for the other methods of every known path (after all routes are known).
  for (const [url, methods] of methodsByUrl) {
    const allowed = [...methods].filter((m) => m !== 'HEAD');
    const others = ALL_METHODS.filter((m) => !methods.has(m));
    if (others.length === 0) continue;
    app.route({
      method: others,
      url,
      config: { methodNotAllowed: true },
      // Answered before the body is read: a PUT with a broken or huge body is still a 405.
      onRequest: async (request, reply) =>
        reply
          .status(405)
          .header('allow', allowed.join(', '))
          .send(
            envelope(
              request,
              'ERR_METHOD_NOT_ALLOWED',
              `${request.method} is not allowed here; use ${allowed.join(' or ')}`,
            ),
          ),
      handler: async (_request, reply) => reply,
    });
  }
  return app;
}
