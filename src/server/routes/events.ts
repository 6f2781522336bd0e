/** Outbound visit events: subscriptions and deliveries (issue 15 §4). Bearer API key. */

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VisitIdParams } from '../../contract/schemas.js';
import { type Issue, ValidationError } from '../../errors.js';
import type { EventsService } from '../../events/service.js';
import type { EventDeliveryStatus } from '../../store/types.js';
import { route } from '../route.js';

const STATUSES = ['pending', 'delivered', 'failed'];
const FILTERS = ['subscription', 'visit', 'status', 'limit'];

/** The deliveries listing's filters, every bad one named in one 400. */
function deliveryQuery(raw: Record<string, unknown>) {
  const issues: Issue[] = [];
  const text = (key: string, pattern: RegExp, rule: string) => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string' && pattern.test(v)) return v;
    issues.push({ path: key, rule, message: `${key} must be given once, ${rule}` });
    return undefined;
  };
  const subscription = text('subscription', /^sub_[A-Za-z0-9_-]{1,40}$/, 'as a subscription id (sub_…)');
  const visit = text('visit', /^vis_[A-Za-z0-9_-]{1,32}$/, 'as a visit id (vis_…)');
  const status = text('status', /^(pending|delivered|failed)$/, `as one of ${STATUSES.join(', ')}`);
  const limitText = text('limit', /^\d{1,3}$/, 'as a whole number from 1 to 200');
  const limit = limitText === undefined ? 50 : Number(limitText);
  if (limitText !== undefined && (limit < 1 || limit > 200))
    issues.push({ path: 'limit', rule: 'range', message: 'limit must be a whole number from 1 to 200' });
  for (const key of Object.keys(raw))
    if (!FILTERS.includes(key))
      issues.push({
        path: key,
        rule: 'unknown',
        message: `${key} is not a known filter (${FILTERS.join(', ')})`,
      });
  if (issues.length > 0) throw new ValidationError(issues);
  return {
    limit,
    ...(subscription ? { subscription } : {}),
    ...(visit ? { visit } : {}),
    ...(status ? { status: status as EventDeliveryStatus } : {}),
  };
}

function deliveryId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < 1)
    throw new ValidationError([
      { path: 'id', rule: 'format', message: 'id must be a delivery id (a whole number)' },
    ]);
  return Number(raw);
}

export async function eventRoutes(app: FastifyInstance, opts: { events: EventsService }): Promise<void> {
  const { events } = opts;
  app.removeContentTypeParser('text/plain');
  const org = (request: FastifyRequest) => request.caller!.org;
  const schema = { params: VisitIdParams };

  route(app, 'createEventSubscription', async (request, reply) => {
    const created = await events.subscribe(org(request), request.body);
    return reply.status(201).header('location', `/api/events/subscriptions/${created.id}`).send(created);
  });
  route(app, 'listEventSubscriptions', async (request) => ({ items: await events.list(org(request)) }));
  route(app, 'getEventSubscription', async (request) => events.get(org(request), request.params.id), {
    schema,
  });
  route(
    app,
    'deleteEventSubscription',
    async (request) => events.unsubscribe(org(request), request.params.id),
    {
      schema,
    },
  );
  route(
    app,
    'rotateEventSubscriptionSecret',
    async (request) => events.rotate(org(request), request.params.id, request.body),
    { schema },
  );
  route(app, 'listEventDeliveries', async (request) => ({
    items: await events.deliveries(org(request), deliveryQuery(request.query as Record<string, unknown>)),
  }));
  route(
    app,
    'replayEventDelivery',
    async (request, reply) =>
      reply.status(202).send(await events.replay(org(request), deliveryId(request.params.id))),
    { schema },
  );
}
