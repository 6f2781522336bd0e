/**
 * A route without a contract cannot exist: every route the app registers must match an entry of
 * src/contract/operations.ts (the list /openapi.json is rendered from), or registration throws.
 * The generated 405 routes and the not-found handler are the only exceptions.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { contractOf } from '../../contract/routes.js';

export function requireContracts(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.url === '*' || (route.config as { methodNotAllowed?: boolean } | undefined)?.methodNotAllowed)
      return;
    for (const method of [route.method].flat()) {
      if (!contractOf(method, route.url))
        throw new Error(`${method} ${route.url} has no contract: declare it in src/contract/operations.ts`);
    }
  });
}
