/**
 * The live visit API the visit pages use: join, leave, end, and a server-sent event stream of the
 * visit's status. Authenticated by the page's signed ticket, never by the token itself.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LiveStatus, LiveVisits, StreamEnd } from '../../visits/live.js';
import type { Limits } from '../limits.js';
import { route } from '../route.js';

const ticketOf = (request: FastifyRequest) => {
  const body = request.body as { ticket?: unknown } | undefined;
  return body?.ticket ?? (request.query as { ticket?: unknown }).ticket;
};

/** How long a page's EventSource waits before reconnecting after a dropped connection (ms). */
const RETRY_MS = 5000;

export async function liveRoutes(
  app: FastifyInstance,
  opts: { live: LiveVisits; limits: Limits },
): Promise<void> {
  const { live } = opts;
  app.addHook('onRequest', async (request) => opts.limits.public(request));
  app.removeContentTypeParser('text/plain');

  route(app, 'liveJoin', async (request) => live.join(await live.verifyTicket(ticketOf(request))));
  route(app, 'liveLeave', async (request) => {
    await live.leave(await live.verifyTicket(ticketOf(request)));
    return { ok: true };
  });
  route(app, 'liveEnd', async (request) => live.end(await live.verifyTicket(ticketOf(request))));
  route(app, 'liveStatus', async (request) => live.status(await live.verifyTicket(ticketOf(request))));

  route(app, 'liveEvents', async (request, reply) => {
    const ticket = await live.verifyTicket(ticketOf(request));
    const res = reply.raw;
    let open = false;
    const send = (status: LiveStatus) => {
      if (open) res.write(`event: status\ndata: ${JSON.stringify(status)}\n\n`);
    };
    // The final status went first; `end` tells the page not to reconnect.
    const end = (reason: StreamEnd) => {
      if (!open) return;
      open = false;
      res.end(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
    };
    // Refused (429, 503, 410, 404) before anything is written: a JSON envelope, no stream.
    const stream = await live.openStream(ticket, request.ip, {
      send: (status) => send(status),
      end: (reason) => end(reason),
    });
    reply.hijack();
    // The client may have gone while the stream was being opened.
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
    send(stream.first);
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
    live.endStreams('closing');
  });
}
