import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/types.js';

/** `/healthz`: the process answers. `/readyz`: the database answers too. */
export async function healthRoutes(app: FastifyInstance, opts: { store: Store }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await opts.store.ping();
      return { status: 'ready', store: opts.store.kind };
    } catch {
      return reply
        .status(503)
        .header('retry-after', 5)
        .send({ status: 'unavailable', store: opts.store.kind });
    }
  });
}
