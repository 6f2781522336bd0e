/**
 * The live visit API the visit pages use: join, leave, end, and a server-sent event stream of the
 * visit's status. Authenticated by the page's signed ticket, never by the token itself.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LiveStatus, LiveVisits } from '../../visits/live.js';
import type { Limits } from '../limits.js';

const ticketOf = (request: FastifyRequest) => {
  const body = request.body as { ticket?: unknown } | undefined;
  return body?.ticket ?? (request.query as { ticket?: unknown }).ticket;
};

export async function liveRoutes(
  app: FastifyInstance,
  opts: { live: LiveVisits; limits: Limits },
): Promise<void> {
  const { live } = opts;
  app.addHook('onRequest', async (request) => opts.limits.public(request));
  app.removeContentTypeParser('text/plain');
  const streams = new Set<() => void>();

  app.post('/live/join', async (request) => live.join(await live.verifyTicket(ticketOf(request))));
  app.post('/live/leave', async (request) => {
    await live.leave(await live.verifyTicket(ticketOf(request)));
    return { ok: true };
  });
  app.post('/live/end', async (request) => live.end(await live.verifyTicket(ticketOf(request))));
  app.get('/live/status', async (request) => live.status(await live.verifyTicket(ticketOf(request))));

  app.get('/live/events', async (request, reply) => {
    const ticket = await live.verifyTicket(ticketOf(request));
    const first = await live.status(ticket);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      trackingid: String(request.id),
    });
    const send = (status: LiveStatus) => res.write(`event: status\ndata: ${JSON.stringify(status)}\n\n`);
    send(first);
    // Coalesce bursts (dialling several devices) into one fresh status.
    let queued = false;
    const stopWatching = live.watch(ticket.visitId, () => {
      if (queued) return;
      queued = true;
      setImmediate(async () => {
        queued = false;
        try {
          send(await live.status(ticket));
        } catch {
          res.end();
        }
      });
    });
    // Listen for the close before any await: a browser that leaves while presence is being
    // published (a PostgreSQL bus waits) must not stay counted, watched and pinged forever.
    let leave: (() => void) | undefined;
    let closed = false;
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    const end = () => res.end();
    const close = () => {
      closed = true;
      clearInterval(ping);
      stopWatching();
      leave?.();
      streams.delete(end);
    };
    streams.add(end);
    res.on('close', close);
    const present = await live.present(ticket);
    if (closed) present();
    else leave = present;
  });

  // Streams never finish by themselves: end them so a graceful shutdown does not wait forever.
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });
}
