/**
 * `instant-connect events subscribe|list|deliveries|replay|rotate|unsubscribe`: outbound visit
 * events, on the data directory (or DATABASE_URL) as `serve` sees it. A running `serve` sends
 * what is queued; these commands only change and read the store.
 */
import { InstantConnectError, ValidationError } from '../../errors.js';
import { EventsService, graceSeconds } from '../../events/service.js';
import { AddressPolicy } from '../../events/ssrf.js';
import { eventsFromEnv } from '../../main/config.js';
import type { BrokerContext } from '../../main/container.js';
import type { EventDeliveryStatus } from '../../store/types.js';
import { type DataFlags, withBrokerContext } from '../broker-context.js';
import { CliError } from '../config.js';
import type { CliIo } from '../io.js';

/** The service with the address policy of EVENTS_ALLOW_PRIVATE, as `serve` would have it. */
async function withEvents<T>(
  flags: DataFlags,
  io: CliIo,
  fn: (events: EventsService, ctx: BrokerContext) => Promise<T>,
): Promise<T> {
  const policy = new AddressPolicy(eventsFromEnv(io.env).allowPrivate);
  return withBrokerContext(flags, io, async (ctx) => {
    try {
      return await fn(new EventsService({ store: ctx.store, policy }), ctx);
    } catch (err) {
      if (err instanceof ValidationError) throw new CliError(err.issues.map((i) => i.message).join('\n'), 2);
      if (err instanceof InstantConnectError && (err.code === 'ERR_NOT_FOUND' || err.code === 'ERR_CONFLICT'))
        throw new CliError(err.message);
      throw err;
    }
  });
}

const json = (io: CliIo, value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

export async function subscribe(
  flags: DataFlags & { url: string; types: string; description?: string },
  io: CliIo,
): Promise<void> {
  await withEvents(flags, io, async (events, ctx) => {
    const created = await events.subscribe(ctx.org, {
      url: flags.url,
      types: flags.types.trim() === '*' ? '*' : flags.types.split(','),
      ...(flags.description !== undefined ? { description: flags.description } : {}),
    });
    if (flags.json) {
      json(io, created);
      return;
    }
    io.stderr.write(
      `Subscribed ${created.id} to ${created.types === '*' ? 'every event type' : created.types.join(', ')}. Its secret is shown once: store it in the receiver.\n`,
    );
    io.stdout.write(`${created.id}\nsecret: ${created.secret}\n`);
    io.stderr.write(
      'Verify each delivery as Standard Webhooks says (webhook-id, webhook-timestamp, webhook-signature), e.g. with the standardwebhooks package.\n',
    );
  });
}

export async function list(flags: DataFlags, io: CliIo): Promise<void> {
  await withEvents(flags, io, async (events, ctx) => {
    const items = await events.list(ctx.org);
    if (flags.json) json(io, items);
    else if (items.length === 0)
      io.stderr.write(
        'No subscriptions yet. Make one with: instant-connect events subscribe --url URL --types TYPES\n',
      );
    else
      for (const s of items) {
        const types = s.types === '*' ? '*' : s.types.join(',');
        const state = s.active ? '' : `  (stopped: ${s.disabledReason ?? 'disabled'})`;
        io.stdout.write(`${s.id}  ${s.url}  ${types}${s.description ? `  ${s.description}` : ''}${state}\n`);
      }
  });
}

export async function deliveries(
  flags: DataFlags & { subscription?: string; visit?: string; status?: string; limit?: string },
  io: CliIo,
): Promise<void> {
  if (flags.status !== undefined && !['pending', 'delivered', 'failed'].includes(flags.status))
    throw new CliError('--status must be one of pending, delivered, failed', 2);
  const limit = flags.limit === undefined ? 50 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw new CliError('--limit must be a whole number from 1 to 200', 2);
  await withEvents(flags, io, async (events, ctx) => {
    const items = await events.deliveries(ctx.org, {
      limit,
      ...(flags.subscription ? { subscription: flags.subscription } : {}),
      ...(flags.visit ? { visit: flags.visit } : {}),
      ...(flags.status ? { status: flags.status as EventDeliveryStatus } : {}),
    });
    if (flags.json) json(io, items);
    else if (items.length === 0) io.stderr.write('No deliveries.\n');
    else
      for (const d of items) {
        const last = d.attemptLog.at(-1);
        const detail = last ? `  last: ${last.status ?? '-'} ${last.error ?? ''}`.trimEnd() : '';
        io.stdout.write(
          `${d.id}  ${d.status}  ${d.type}  ${d.visitId ?? '-'}  ${d.subscriptionId}  attempts ${d.attempts}${detail}\n`,
        );
      }
  });
}

export async function replay(id: string, flags: DataFlags, io: CliIo): Promise<void> {
  if (!/^\d{1,15}$/.test(id)) throw new CliError('DELIVERY_ID must be a delivery id (a whole number)', 2);
  await withEvents(flags, io, async (events, ctx) => {
    const d = await events.replay(ctx.org, Number(id));
    if (flags.json) json(io, d);
    else io.stderr.write(`Queued delivery ${d.id} again (webhook-id ${d.webhookId}); serve sends it.\n`);
  });
}

export async function rotate(id: string, flags: DataFlags & { grace?: string }, io: CliIo): Promise<void> {
  const grace = graceSeconds(flags.grace ?? '24h');
  if (typeof grace === 'string') throw new CliError(`--${grace}`, 2);
  await withEvents(flags, io, async (events, ctx) => {
    const rotated = await events.rotate(ctx.org, id, { grace: String(grace === 0 ? '0' : `${grace}s`) });
    if (flags.json) {
      json(io, rotated);
      return;
    }
    io.stderr.write(`Rotated the secret of ${id}. The new secret is shown once: store it in the receiver.\n`);
    io.stdout.write(`${id}\nsecret: ${rotated.secret}\n`);
    io.stderr.write(
      grace > 0
        ? `Until ${rotated.previousSecretUntil} each delivery is signed with both secrets.\n`
        : 'The previous secret signs nothing from now on.\n',
    );
  });
}

export async function unsubscribe(id: string, flags: DataFlags, io: CliIo): Promise<void> {
  await withEvents(flags, io, async (events, ctx) => {
    await events.unsubscribe(ctx.org, id);
    io.stderr.write(`Unsubscribed ${id}: nothing more is sent to it; its pending deliveries were dropped.\n`);
  });
}
