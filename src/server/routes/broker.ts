/** The joseencrypt API, same contract as Cisco's mtg-broker (v1 and v2). Bearer API key (the contract's security). */
import type { FastifyInstance } from 'fastify';
import type { BrokerService } from '../../broker/service.js';
import type { VisitService } from '../../visits/service.js';
import type { Limits } from '../limits.js';
import { route } from '../route.js';

export async function brokerRoutes(
  app: FastifyInstance,
  opts: { broker: BrokerService; visits: VisitService; limits: Limits },
): Promise<void> {
  // JSON only: fastify also parses text/plain by default, which would turn a JSON body sent as
  // text into a confusing "the body must be a JSON object" instead of 415.
  app.removeContentTypeParser('text/plain');
  for (const [operationId, version] of [
    ['createLinksV1', 'v1'],
    ['createLinks', 'v2'],
  ] as const) {
    route(app, operationId, async (request) => {
      const caller = request.caller!;
      await opts.limits.issue(request, caller.keyId!);
      const result = await opts.broker.issue(caller.org, request.body, version);
      // History is complete whichever API made the links: record them as a visit of their subject.
      await opts.visits.recordIssued(
        caller.org,
        `joseencrypt:${caller.keyId}`,
        result,
        opts.broker.publicUrl,
      );
      return result.response;
    });
  }
}
