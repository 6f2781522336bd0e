/** The visits API: create, list, read, cancel, add links, and the event log. Bearer API key. */

import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../../broker/api-keys.js';
import { VisitListQuery } from '../../contract/schemas.js';
import { VISIT_STATES, type VisitState } from '../../domain/visit-state.js';
import { type Issue, ValidationError } from '../../errors.js';
import type { VisitService } from '../../visits/service.js';
import type { Limits } from '../limits.js';

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
  opts: { visits: VisitService; apiKeys: ApiKeyService; limits: Limits },
): Promise<void> {
  const { visits } = opts;
  app.removeContentTypeParser('text/plain');
  app.addHook('preHandler', async (request) => {
    const { org, keyId } = await opts.apiKeys.authenticate(request.headers.authorization);
    request.org = org;
    request.apiKeyId = keyId;
    // Making links costs PBKDF2: the writes are limited per key and address; reads are not.
    if (request.method === 'POST') await opts.limits.issue(request, keyId);
  });
  const actor = (request: { apiKeyId?: string }) => `key:${request.apiKeyId}`;
  // No body at all means "all defaults"; a JSON `null` is a body that is not an object (refused).
  const bodyOf = (request: { body?: unknown }) => (request.body === undefined ? {} : request.body);

  app.post('/api/visits', async (request, reply) => {
    const visit = await visits.create(request.org!, actor(request), bodyOf(request));
    return reply.status(201).header('location', `/api/visits/${visit.id}`).send(visit);
  });
  app.get('/api/visits', async (request) =>
    visits.list(request.org!, listQuery(request.query as Record<string, unknown>, visits)),
  );
  app.get<{ Params: { id: string } }>('/api/visits/:id', async (request) =>
    visits.get(request.org!, request.params.id),
  );
  app.get<{ Params: { id: string } }>('/api/visits/:id/events', async (request) => ({
    items: await visits.events(request.org!, request.params.id),
  }));
  app.delete<{ Params: { id: string } }>('/api/visits/:id', async (request) =>
    visits.cancel(request.org!, actor(request), request.params.id),
  );
  app.post<{ Params: { id: string } }>('/api/visits/:id/links', async (request, reply) =>
    reply
      .status(201)
      .send(await visits.addLinks(request.org!, actor(request), request.params.id, bodyOf(request))),
  );
}
