/**
 * The contract as Fastify sees it: each operation's route (method and URL pattern), so the server
 * can refuse a route that no contract entry declares.
 */
import { OPERATIONS, type OperationSpec } from './operations.js';

/** Fastify's URL of a contract path: `{id}` is `:id`; the static files' `{file}` is fastify-static's `*`. */
export const routeUrl = (spec: Pick<OperationSpec, 'path'>): string =>
  spec.path.replace(/\{file\}$/, '*').replace(/\{(\w+)\}/g, ':$1');

const BY_ROUTE = new Map(OPERATIONS.map((op) => [`${op.method.toUpperCase()} ${routeUrl(op)}`, op]));

/** The contract entry of a route; HEAD is the GET's (fastify adds one to every GET). */
export function contractOf(method: string, url: string): OperationSpec | undefined {
  const m = method.toUpperCase();
  return BY_ROUTE.get(`${m === 'HEAD' ? 'GET' : m} ${url}`);
}
