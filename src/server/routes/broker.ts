/** The joseencrypt API, same contract as Cisco's mtg-broker (v1 and v2). */
import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../../broker/api-keys.js';
import type { BrokerService } from '../../broker/service.js';
import type { Org } from '../../store/types.js';
import type { VisitService } from '../../visits/service.js';
import type { Limits } from '../limits.js';

declare module 'fastify' {
  interface FastifyRequest {
    org?: Org;
    apiKeyId?: string;
  }
}

export async function brokerRoutes(
  app: FastifyInstance,
  opts: { broker: BrokerService; apiKeys: ApiKeyService; visits: VisitService; limits: Limits },
): Promise<void> {
  // JSON only: fastify also parses text/plain by default, which would turn a JSON body sent as
  // text into a confusing "the body must be a JSON object" instead of 415.
  app.removeContentTypeParser('text/plain');
  app.addHook('preHandler', async (request) => {
    const { org, keyId } = await opts.apiKeys.authenticate(request.headers.authorization);
    request.org = org;
    request.apiKeyId = keyId;
    await opts.limits.issue(request, keyId);
  });
  for (const version of ['v1', 'v2'] as const) {
    app.post(`/api/${version}/joseencrypt`, async (request) => {
      const result = await opts.broker.issue(request.org!, request.body, version);
      // History is complete whichever API made the links: record them as a visit of their subject.
      await opts.visits.recordIssued(
        request.org!,
        `joseencrypt:${request.apiKeyId}`,
        result,
        opts.broker.publicUrl,
      );
      return result.response;
    });
  }
}
