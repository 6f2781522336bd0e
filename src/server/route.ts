/**
 * The one way a route is registered: `route(app, operationId, handler)`. Method and URL come from
 * the operation's contract entry (src/contract/operations.ts), so a route and its description
 * cannot drift apart, and the entry's `security` picks the preHandler that authenticates the
 * caller (src/server/security.ts).
 *
 * Schemas given here type the handler's `request.params/query/body` through the TypeBox type
 * provider; they are not validated by fastify (handlers and services validate, so every error
 * body stays as it was: every bad field named in one answer), so give only schemas that hold for
 * any request (path parameters are strings), or leave the part `unknown`.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyInstance,
  FastifySchema,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  RouteGenericInterface,
  RouteHandlerMethod,
} from 'fastify';
import { OPERATIONS, type OperationSpec } from '../contract/operations.js';
import { routeUrl } from '../contract/routes.js';
import { securityPreHandler } from './security.js';

const BY_ID = new Map(OPERATIONS.map((op) => [op.operationId, op]));

/** The contract entry of an operation id; throws for an id the contract does not declare. */
function operation(operationId: string): OperationSpec {
  const spec = BY_ID.get(operationId);
  if (!spec) throw new Error(`No operation ${operationId} in src/contract/operations.ts`);
  return spec;
}

/** No validation: the schemas only type the handler (see above). */
const passThrough = () => (value: unknown) => ({ value });

export type OperationHandler<S extends FastifySchema> = RouteHandlerMethod<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  RouteGenericInterface,
  unknown,
  S,
  TypeBoxTypeProvider
>;

export function route<S extends FastifySchema = FastifySchema>(
  app: FastifyInstance,
  operationId: string,
  handler: OperationHandler<S>,
  options: { schema?: S } = {},
): void {
  const spec = operation(operationId);
  const pathParams = (spec.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
  const typed = Object.keys(
    (options.schema?.params as { properties?: object } | undefined)?.properties ?? {},
  );
  // fastify-static's `*` is not a named parameter of the route.
  const named = routeUrl(spec).includes(':') ? pathParams : [];
  if (typed.length > 0 && typed.sort().join() !== [...named].sort().join())
    throw new Error(`${operationId}: params ${typed.join(', ')} are not the path's (${named.join(', ')})`);
  const preHandler = securityPreHandler(app, spec);
  app.withTypeProvider<TypeBoxTypeProvider>().route<RouteGenericInterface, unknown, S>({
    method: spec.method.toUpperCase() as 'GET' | 'POST' | 'DELETE',
    url: routeUrl(spec),
    config: { operationId },
    ...(options.schema ? { schema: options.schema, validatorCompiler: passThrough } : {}),
    ...(preHandler ? { preHandler } : {}),
    handler,
  });
}
