/** GET /openapi.json and GET /docs: the API description, generated once per public URL. */
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument } from '../../openapi/document.js';
import { renderDocsPage } from '../../openapi/html.js';
import { route } from '../route.js';

export async function docsRoutes(app: FastifyInstance, opts: { publicUrl: () => string }): Promise<void> {
  let cached: { url: string; json: string; html: string } | undefined;
  const current = () => {
    const url = opts.publicUrl();
    if (cached?.url !== url) {
      const doc = buildOpenApiDocument({ serverUrl: url });
      cached = { url, json: JSON.stringify(doc), html: renderDocsPage(doc) };
    }
    return cached;
  };
  route(app, 'openApiDocument', async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(current().json),
  );
  route(app, 'docsPage', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(current().html),
  );
}
