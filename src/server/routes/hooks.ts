/**
 * Webhooks in: the workflow trigger (POST /hooks/visits) and the Webex bot (POST /hooks/webex).
 * Both need the raw body for their signatures, so this plugin parses JSON itself and keeps the
 * bytes; the parser is scoped to these routes only.
 */
import type { FastifyInstance } from 'fastify';
import type { BotService } from '../../bot/bot.js';
import { InstantConnectError, NotFoundError } from '../../errors.js';
import type { TriggerService } from '../../hooks/trigger.js';
import type { MeetingTelemetry } from '../../meetings/telemetry.js';
import type { Limits } from '../limits.js';
import { route } from '../route.js';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

export async function hookRoutes(
  app: FastifyInstance,
  opts: { trigger: TriggerService; bot?: BotService; meetings?: MeetingTelemetry; limits: Limits },
): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer;
    if ((body as Buffer).length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch {
      done(new InstantConnectError('ERR_BAD_JSON', 'The body is not valid JSON'), undefined);
    }
  });

  // An API key or a signed request (the contract's security alternatives, resolved before this).
  route(app, 'triggerVisit', async (request, reply) => {
    const raw = request.rawBody ?? Buffer.alloc(0);
    const { org, actor, replay } = request.caller!;
    await opts.limits.issue(request, actor.startsWith('key:') ? actor.slice(4) : actor);
    const key = request.headers['idempotency-key'];
    const { status, replayed, result } = await opts.trigger.trigger(
      org,
      actor,
      // No body at all means "all defaults"; a JSON `null` is a body that is not an object (refused),
      // as on POST /api/visits.
      request.body === undefined ? {} : request.body,
      raw,
      Array.isArray(key) ? key[0] : key,
      // A replayed signed request is answered only from a known Idempotency-Key (else 401).
      { replay: replay === true },
    );
    if (replayed) reply.header('idempotent-replayed', 'true');
    return reply.status(status).header('location', `/api/visits/${result.id}`).send(result);
  });

  // The signature is the bot's to check (after its 404 when no bot is configured).
  route(app, 'receiveWebexWebhook', async (request) => {
    if (!opts.bot) throw new NotFoundError('The bot is not configured on this server (set WEBEX_TOKEN)');
    const signature = request.headers['x-spark-signature'];
    return opts.bot.receive(
      request.rawBody ?? Buffer.alloc(0),
      Array.isArray(signature) ? signature[0] : signature,
    );
  });

  // Meeting telemetry: the same kind of signature, with the meeting webhooks' own secret.
  route(app, 'receiveMeetingWebhook', async (request) => {
    if (!opts.meetings)
      throw new NotFoundError(
        'Meeting telemetry is off on this server (it needs WEBEX_TOKEN, a Cisco BROKER and MEETING_TELEMETRY=webhooks)',
      );
    const signature = request.headers['x-spark-signature'];
    return opts.meetings.receive(
      request.rawBody ?? Buffer.alloc(0),
      Array.isArray(signature) ? signature[0] : signature,
    );
  });
}
