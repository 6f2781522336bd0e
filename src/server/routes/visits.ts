/** The visits API: create, list, read, cancel, add links, and the event log. Bearer API key. */

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VisitIdParams, VisitLinkParams, VisitListQuery } from '../../contract/schemas.js';
import { VISIT_STATES, type VisitState } from '../../domain/visit-state.js';
import { type Issue, ValidationError } from '../../errors.js';
import type { VisitService } from '../../visits/service.js';
import type { Limits } from '../limits.js';
import { route } from '../route.js';

type Bounds = { minimum: number; maximum: number; default?: number };

function listQuery(raw: Record<string, unknown>, visits: VisitService) {
  const issues: Issue[] = [];
  const fields = VisitListQuery.properties as unknown as Record<string, Bounds & { maxLength?: number }>;
  const known = Object.keys(fields);
  const int = (key: 'limit' | 'offset') => {
    const { minimum: min, maximum: max, default: fallback = 0 } = fields[key]!;
    const v = raw[key];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max) {
      issues.push({
        path: key,
        rule: 'range',
        message: `${key} must be a whole number from ${min} to ${max}`,
      });
      return fallback;
    }
    return n;
  };
  const limit = int('limit');
  const offset = int('offset');
  const text = (key: 'from' | 'to' | 'timeZone') => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string' && v.length > 0 && v.length <= 64) return v;
    issues.push({ path: key, rule: 'format', message: `${key} must be given once, as 1 to 64 characters` });
    return undefined;
  };
  const windowText = { from: text('from'), to: text('to'), timeZone: text('timeZone') };
  let window: { from?: number; to?: number } = {};
  try {
    window = visits.listWindow(windowText);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    issues.push(...err.issues);
  }
  const state = raw['state'];
  if (state !== undefined && !VISIT_STATES.includes(state as VisitState)) {
    issues.push({ path: 'state', rule: 'enum', message: `state must be one of ${VISIT_STATES.join(', ')}` });
  }
  const q = raw['q'];
  const qMax = fields['q']!.maxLength!;
  if (q !== undefined && (typeof q !== 'string' || q.length > qMax)) {
    issues.push({ path: 'q', rule: 'length', message: `q must be a string of at most ${qMax} characters` });
  }
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      issues.push({
        path: key,
        rule: 'unknown',
        message: `${key} is not a known filter (${known.join(', ')})`,
      });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return {
    limit,
    offset,
    ...window,
    ...(state ? { state: state as VisitState } : {}),
    ...(typeof q === 'string' && q ? { q } : {}),
  };
}

export async function visitRoutes(
  app: FastifyInstance,
  opts: { visits: VisitService; limits: Limits },
): Promise<void> {
  const { visits } = opts;
  app.removeContentTypeParser('text/plain');
  // The caller is the bearer API key (the contract's `apiKey` security, resolved before the handler).
  const caller = (request: FastifyRequest) => request.caller!;
  const actor = (request: FastifyRequest) => caller(request).actor;
  // Making links costs PBKDF2: the writes are limited per key and address; reads are not.
  const issuing = (request: FastifyRequest) => opts.limits.issue(request, caller(request).keyId!);
  // No body at all means "all defaults"; a JSON `null` is a body that is not an object (refused).
  const bodyOf = (request: { body?: unknown }) => (request.body === undefined ? {} : request.body);
  const schema = { params: VisitIdParams };

  route(app, 'createVisit', async (request, reply) => {
    await issuing(request);
    const visit = await visits.create(caller(request).org, actor(request), bodyOf(request));
    return reply.status(201).header('location', `/api/visits/${visit.id}`).send(visit);
  });
  // The query is checked here, not by fastify: one 400 names every bad filter (listQuery).
  route(app, 'listVisits', async (request) =>
    visits.list(caller(request).org, listQuery(request.query as Record<string, unknown>, visits)),
  );
  route(app, 'getVisit', async (request) => visits.get(caller(request).org, request.params.id), { schema });
  route(
    app,
    'listVisitEvents',
    async (request) => ({ items: await visits.events(caller(request).org, request.params.id) }),
    { schema },
  );
  route(
    app,
    'listVisitDeliveries',
    async (request) => visits.deliveries(caller(request).org, request.params.id),
    { schema },
  );
  route(
    app,
    'cancelVisit',
    async (request) => visits.cancel(caller(request).org, actor(request), request.params.id),
    { schema },
  );
  route(
    app,
    'revokeVisitLink',
    async (request) =>
      visits.revokeLink(
        caller(request).org,
        actor(request),
        request.params.id,
        request.params.role,
        request.params.index,
      ),
    { schema: { params: VisitLinkParams } },
  );
  route(
    app,
    'resendVisitLink',
    async (request, reply) =>
      reply
        .status(202)
        .send(
          await visits.resend(
            caller(request).org,
            actor(request),
            request.params.id,
            request.params.role,
            request.params.index,
            request.body,
          ),
        ),
    { schema: { params: VisitLinkParams } },
  );
  route(
    app,
    'addVisitLinks',
    async (request, reply) => {
      await issuing(request);
      return reply
        .status(201)
        .send(await visits.addLinks(caller(request).org, actor(request), request.params.id, bodyOf(request)));
    },
    { schema },
  );
}
