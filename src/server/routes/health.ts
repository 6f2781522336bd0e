import type { FastifyInstance } from 'fastify';
import type Type from 'typebox';
import type { HealthSchema, ReadySchema, UnavailableSchema } from '../../contract/schemas.js';
import type { Store } from '../../store/types.js';

/** `/healthz`: the process answers. `/readyz`: the database answers too. */
export async function healthRoutes(app: FastifyInstance, opts: { store: Store }): Promise<void> {
  app.get('/healthz', async (): Promise<Type.Static<typeof HealthSchema>> => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await opts.store.ping();
      const ready: Type.Static<typeof ReadySchema> = { status: 'ready', store: opts.store.kind };
      return ready;
    } catch {
      const unavailable: Type.Static<typeof UnavailableSchema> = {
        status: 'unavailable',
        store: opts.store.kind,
      };
      return reply.status(503).header('retry-after', 5).send(unavailable);
    }
  });
}
