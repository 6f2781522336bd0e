/** The visits API: create, list, read, cancel, add links, and the event log. Bearer API key. */
import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../../broker/api-keys.js';
import { VISIT_STATES, type VisitState } from '../../domain/visit-state.js';
import { ValidationError } from '../../errors.js';
import type { VisitService } from '../../visits/service.js';
import type { Limits } from '../limits.js';

function listQuery(raw: Record<string, unknown>) {
  const issues = [];
  const int = (key: string, min: number, max: number, fallback: number) => {
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
  const limit = int('limit', 1, 100, 20);
  const offset = int('offset', 0, 1_000_000, 0);
  const from = raw['from'] === undefined ? undefined : int('from', 0, 1e11 - 1, 0);
  const to = raw['to'] === undefined ? undefined : int('to', 0, 1e11 - 1, 0);
  const state = raw['state'];
  if (state !== undefined && !VISIT_STATES.includes(state as VisitState)) {
    issues.push({ path: 'state', rule: 'enum', message: `state must be one of ${VISIT_STATES.join(', ')}` });
  }
  const q = raw['q'];
  if (q !== undefined && (typeof q !== 'string' || q.length > 200)) {
    issues.push({ path: 'q', rule: 'length', message: 'q must be a string of at most 200 characters' });
  }
  for (const key of Object.keys(raw)) {
    if (!['limit', 'offset', 'from', 'to', 'state', 'q'].includes(key)) {
      issues.push({
        path: key,
        rule: 'unknown',
        message: `${key} is not a known filter (limit, offset, from, to, state, q)`,
      });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return {
    limit,
    offset,
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
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
    visits.list(request.org!, listQuery(request.query as Record<string, unknown>)),
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
