/**
 * Authentication driven by the contract: each security scheme an operation names
 * (`security` in src/contract/operations.ts) has one resolver here, and `route()` runs the
 * operation's resolvers as its preHandler. An entry lists alternatives (each a set of schemes that
 * all apply); the first alternative whose credentials the request carries is used, else the last
 * one, whose refusal then says what is missing. Roles (issue 17) slot in as data on the entry.
 *
 * A scheme whose check cannot run before the handler is marked `'handler'`: the handler (or the
 * service it calls) checks it, and says so.
 */
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { ApiKeyService } from '../broker/api-keys.js';
import type { OperationSpec, SecurityName } from '../contract/operations.js';
import type { TriggerService } from '../hooks/trigger.js';
import type { Org } from '../store/types.js';

/** Who is calling, as the operation's security resolved it. */
interface Caller {
  org: Org;
  /** The actor recorded in the visit's events (`key:<id>`, `hook:<id>`…). */
  actor: string;
  /** The API key, when the caller used one. */
  keyId?: string;
  /** A signed trigger seen before (answered only from a known Idempotency-Key). */
  replay?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    org?: Org;
    apiKeyId?: string;
  }
  interface FastifyInstance {
    securitySchemes: SecuritySchemes;
  }
}

export interface SchemeResolver {
  /** The request carries this scheme's credentials (so this alternative is the one to try). */
  present(request: FastifyRequest): boolean;
  resolve(request: FastifyRequest): Promise<Caller>;
}

export type SecuritySchemes = Record<SecurityName, SchemeResolver | 'handler'>;

export function securitySchemes(deps: { apiKeys: ApiKeyService; trigger: TriggerService }): SecuritySchemes {
  const apiKey: SchemeResolver = {
    present: (request) => Boolean(request.headers.authorization),
    async resolve(request) {
      const { org, keyId } = await deps.apiKeys.authenticate(request.headers.authorization);
      return { org, keyId, actor: `key:${keyId}` };
    },
  };
  // The three headers of a signed trigger are one credential: one resolver for all three.
  const signedTrigger: SchemeResolver = {
    present: (request) => request.headers['x-ic-hook'] !== undefined,
    async resolve(request) {
      const { org, actor, replay } = await deps.trigger.authenticateSignature(
        request.headers,
        request.rawBody ?? Buffer.alloc(0),
      );
      return { org, actor, replay: replay === true };
    },
  };
  return {
    apiKey,
    hookId: signedTrigger,
    hookTimestamp: signedTrigger,
    hookSignature: signedTrigger,
    // The bot answers 404 when it is not configured, before any signature: BotService.receive checks it.
    sparkSignature: 'handler',
    // Twilio's webhooks answer 404 when SMS through Twilio is off, before any signature: SmsService checks it.
    twilioSignature: 'handler',
    // Pages redirect to sign-in and forms check Origin and CSRF first: server/staff/routes.ts.
    staffSession: 'handler',
  };
}

/** Makes the resolvers known to every route registered on `app` and in its child plugins. */
export function provideSecurity(app: FastifyInstance, schemes: SecuritySchemes): void {
  app.decorate('securitySchemes', schemes);
}

/** The preHandler of an operation's security, or undefined when no resolver has to run. */
export function securityPreHandler(
  app: FastifyInstance,
  spec: Pick<OperationSpec, 'operationId' | 'security'>,
): preHandlerAsyncHookHandler | undefined {
  if (!spec.security || spec.security.length === 0) return undefined;
  const schemes = (app as Partial<FastifyInstance>).securitySchemes;
  const alternatives = spec.security.map((names) => {
    const resolvers = new Set<SchemeResolver>();
    for (const name of names) {
      const resolver = schemes?.[name];
      if (resolver === undefined)
        throw new Error(`${spec.operationId}: no resolver for the security scheme ${name} (provideSecurity)`);
      if (resolver !== 'handler') resolvers.add(resolver);
    }
    return [...resolvers];
  });
  // Every alternative left to the handler (or none needed): nothing to run here.
  if (alternatives.some((resolvers) => resolvers.length === 0)) return undefined;
  return async (request) => {
    const chosen =
      alternatives.find((resolvers) => resolvers.every((r) => r.present(request))) ?? alternatives.at(-1)!;
    let caller: Caller | undefined;
    for (const resolver of chosen) caller = await resolver.resolve(request);
    if (!caller) return;
    request.caller = caller;
    request.org = caller.org;
    if (caller.keyId !== undefined) request.apiKeyId = caller.keyId;
  };
}
