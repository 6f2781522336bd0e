import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { Store } from '../../store/types.js';

export const HealthSchema = Type.Object({ status: Type.Literal('ok') }, { $id: 'Health' });
const StoreKind = Type.Enum(['sqlite', 'postgres'], { description: 'The database this instance uses.' });
export const ReadySchema = Type.Object({ status: Type.Literal('ready'), store: StoreKind }, { $id: 'Ready' });
export const UnavailableSchema = Type.Object(
  { status: Type.Literal('unavailable'), store: StoreKind },
  { $id: 'Unavailable' },
);

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
