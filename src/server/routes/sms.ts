/**
 * The SMS provider's webhooks (Twilio's status callbacks and inbound messages). Twilio posts forms
 * and signs the URL with the form's fields, so this plugin keeps the raw body; its parser is
 * scoped to these routes. 404 when SMS through Twilio is off.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError } from '../../errors.js';
import { EMPTY_TWIML, type SmsService, type TwilioWebhookRequest } from '../../sms/service.js';
import { TWILIO_SIGNATURE_HEADER } from '../../sms/signature.js';
import { route } from '../route.js';

function webhookRequest(request: FastifyRequest): TwilioWebhookRequest {
  const signature = request.headers[TWILIO_SIGNATURE_HEADER];
  return {
    rawBody: request.rawBody ?? Buffer.alloc(0),
    url: request.url,
    signature: Array.isArray(signature) ? signature[0] : signature,
  };
}

export async function smsRoutes(app: FastifyInstance, opts: { sms?: SmsService }): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    (request, body, done) => {
      request.rawBody = body as Buffer;
      done(null, undefined);
    },
  );
  const service = (): SmsService => {
    if (!opts.sms) throw new NotFoundError('SMS is off on this server (set SMS_PROVIDER=twilio)');
    return opts.sms;
  };

  // The signature is the service's to check (after its 404 when Twilio is not configured).
  route(app, 'receiveTwilioStatus', async (request, reply) => {
    await service().receiveStatus(webhookRequest(request));
    return reply.status(204).send();
  });

  route(app, 'receiveTwilioInbound', async (request, reply) => {
    await service().receiveInbound(webhookRequest(request));
    return reply.type('text/xml; charset=utf-8').send(EMPTY_TWIML);
  });
}
