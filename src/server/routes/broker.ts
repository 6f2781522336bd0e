/** The joseencrypt API, same contract as Cisco's mtg-broker (v1 and v2). */
import type { FastifyInstance } from 'fastify';
import type { ApiKeyService } from '../../broker/api-keys.js';
import type { BrokerService } from '../../broker/service.js';
import type { Org } from '../../store/types.js';

declare module 'fastify' {
  interface FastifyRequest {
    org?: Org;
    apiKeyId?: string;
  }
}

export async function brokerRoutes(
  app: FastifyInstance,
  opts: { broker: BrokerService; apiKeys: ApiKeyService },
): Promise<void> {
  app.addHook('preHandler', async (request) => {
    const { org, keyId } = await opts.apiKeys.authenticate(request.headers.authorization);
    request.org = org;
    request.apiKeyId = keyId;
  });
  for (const version of ['v1', 'v2'] as const) {
    app.post(`/api/${version}/joseencrypt`, async (request) => {
      const result = await opts.broker.issue(request.org!, request.body, version);
      return result.response;
    });
  }
}
