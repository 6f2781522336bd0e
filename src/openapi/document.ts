/**
 * The OpenAPI 3.1 document of the server, generated from OPERATIONS and the TypeBox schemas they
 * name. Served at GET /openapi.json, rendered at GET /docs, and the source of the Postman export.
 */

import { readFileSync } from 'node:fs';
import {
  OPERATIONS,
  type OperationSpec,
  type ResponseSpec,
  type SecurityName,
  TAGS,
} from '../contract/operations.js';
import { SESSION_COOKIE, SESSION_TTL_SECONDS } from '../contract/schemas.js';
import { WebexErrorBody } from '../domain/schema.js';
import { codesOfStatus, ERROR_RESPONSES, type ErrorStatus, retriesAfter } from '../errors.js';
import { TRIGGER_HEADERS, TRIGGER_TOLERANCE_SECONDS } from '../hooks/signatures.js';
import { type JsonSchema, SchemaRegistry } from './schemas.js';

export interface Reference {
  $ref: string;
}
interface Header {
  description?: string;
  required?: boolean;
  schema: JsonSchema;
}
export interface MediaType {
  schema?: JsonSchema;
  examples?: Record<string, { summary?: string; value: unknown }>;
  /** For `text/event-stream`: the schema of each event's `data`. */
  'x-event-data'?: JsonSchema;
}
export interface Response {
  description: string;
  headers?: Record<string, Header | Reference>;
  content?: Record<string, MediaType>;
}
export interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  schema: JsonSchema;
}
interface RequestBody {
  required: boolean;
  description?: string;
  content: Record<string, MediaType>;
}
export interface Operation {
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  /** `[]`: no credentials. */
  security: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: RequestBody;
  responses: Record<string, Response | Reference>;
}
type SecurityScheme =
  | { type: 'http'; scheme: 'bearer'; bearerFormat?: string; description: string }
  | { type: 'apiKey'; in: 'header' | 'cookie'; name: string; description: string };
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: {
    title: string;
    version: string;
    summary: string;
    description: string;
    license: { name: string; identifier: string };
  };
  servers?: { url: string; description?: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<OperationSpec['method'], Operation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, Response>;
    headers: Record<string, Header>;
    securitySchemes: Record<SecurityName, SecurityScheme>;
  };
}

export const HTTP_METHODS = ['get', 'post', 'delete'] as const;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** `x-ic-hook` → `X-IC-Hook`: the headers as the documentation writes them. */
export const headerName = (lower: string) =>
  lower
    .split('-')
    .map((part) => (part.length <= 2 ? part.toUpperCase() : part[0]!.toUpperCase() + part.slice(1)))
    .join('-');

const ERROR_WORDS: Record<ErrorStatus, string> = {
  400: 'The request is not valid: `errors` lists every problem, each with its `path` and `rule`.',
  401: 'No valid credentials: a missing, unknown or revoked API key, or a refused signature.',
  403: 'Refused: an expired link, a link that does not open yet, or a page ticket that is not valid.',
  404: 'Nothing here: no such visit, link or route.',
  405: 'This path does not take this method; `Allow` lists those it takes.',
  409: 'The visit or Idempotency-Key is in a state that does not allow this.',
  410: 'The visit was cancelled: its links no longer work.',
  413: 'The body is larger than the limit (64 KiB).',
  415: 'The body must be JSON (`Content-Type: application/json`).',
  429: 'Too many requests: retry after `Retry-After` seconds.',
  502: "The link source (Cisco's broker) failed or answered something not understood.",
  503: 'Busy (the crypto queue is full) or the database is unavailable: retry after `Retry-After` seconds.',
  504: "The link source (Cisco's broker) did not answer in time.",
};

const codesOf = (status: number) =>
  codesOfStatus(status)
    .map((code) => `\`${code}\``)
    .join(', ');

const trackingRef: Reference = { $ref: '#/components/headers/TrackingID' };

function errorResponses(): Record<string, Response> {
  const out: Record<string, Response> = {};
  for (const [status, name] of Object.entries(ERROR_RESPONSES)) {
    const s = Number(status) as ErrorStatus;
    const headers: Record<string, Header | Reference> = { TrackingID: trackingRef };
    if (s === 401)
      headers['WWW-Authenticate'] = {
        description: '`Bearer realm="instant-connect"`',
        schema: { type: 'string' },
      };
    if (s === 405)
      headers['Allow'] = {
        description: 'The methods this path takes.',
        schema: { type: 'string' },
        required: true,
      };
    if (retriesAfter(s))
      headers['Retry-After'] = { description: 'Seconds to wait.', schema: { type: 'integer', minimum: 0 } };
    out[name] = {
      description: `${ERROR_WORDS[s]} Codes: ${codesOf(s)}.`,
      headers,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/WebexError' } } },
    };
  }
  out['Error'] = {
    description: 'Any other failure (500 `ERR_INTERNAL`, …), in the same envelope.',
    headers: { TrackingID: trackingRef },
    content: { 'application/json': { schema: { $ref: '#/components/schemas/WebexError' } } },
  };
  return out;
}

function securitySchemes(): Record<SecurityName, SecurityScheme> {
  const hook = headerName(TRIGGER_HEADERS.hook);
  const timestamp = headerName(TRIGGER_HEADERS.timestamp);
  const signature = headerName(TRIGGER_HEADERS.signature);
  return {
    apiKey: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'ick_ API key',
      description:
        "`Authorization: Bearer ick_…`, an API key of this server (`instant-connect keys create`). Cisco's brokers take a Webex bot token here instead.",
    },
    hookId: {
      type: 'apiKey',
      in: 'header',
      name: hook,
      description: `The hook id (\`hook_…\`, from \`instant-connect hooks create\`). Signed requests send ${hook}, ${timestamp} and ${signature} together.`,
    },
    hookTimestamp: {
      type: 'apiKey',
      in: 'header',
      name: timestamp,
      description: `Epoch seconds when the request was signed; at most ${TRIGGER_TOLERANCE_SECONDS} s from the server's clock.`,
    },
    hookSignature: {
      type: 'apiKey',
      in: 'header',
      name: signature,
      description: `\`v1=\` and the lowercase hex HMAC-SHA256, keyed with the hook's secret, of \`<${timestamp}>.<raw body>\`. Each signature is accepted once (replays are refused).`,
    },
    sparkSignature: {
      type: 'apiKey',
      in: 'header',
      name: 'X-Spark-Signature',
      description:
        "Webex's signature: the lowercase hex HMAC-SHA1 of the raw body, keyed with the webhook's secret (WEBEX_WEBHOOK_SECRET, or the one `instant-connect webhook register` stored).",
    },
    twilioSignature: {
      type: 'apiKey',
      in: 'header',
      name: 'X-Twilio-Signature',
      description:
        "Twilio's signature: the base64 HMAC-SHA1, keyed with TWILIO_AUTH_TOKEN, of the full URL Twilio called (PUBLIC_URL and the path) followed by each form field's name and value, sorted by name.",
    },
    staffSession: {
      type: 'apiKey',
      in: 'cookie',
      name: SESSION_COOKIE,
      description: `The staff session, from signing in with an API key at \`POST /session\`: HttpOnly, SameSite=Strict, ${SESSION_TTL_SECONDS / 3600} hours. Every form but sign-in also carries the session's CSRF token (\`_csrf\`).`,
    },
  };
}

const DESCRIPTION = `Webex Instant Connect links: a broker with the same API as Cisco's mtg-broker (\`POST /api/v2/joseencrypt\`), visits with a lifecycle, visit pages with a live lobby, a signed webhook trigger and a Webex bot.

Every answer carries a \`TrackingID\` header. Every error is Webex's envelope \`{message, errors: [{description}], trackingId}\` plus a stable \`code\` and, for invalid input, each field's \`path\` and \`rule\` (the **WebexError** schema). A path answers any method it does not take with 405 and an \`Allow\` header; an unknown path answers 404 (a page for \`Accept: text/html\`, else the envelope).`;

function response(spec: ResponseSpec, registry: SchemaRegistry): Response {
  const headers: Record<string, Header | Reference> = { TrackingID: trackingRef };
  for (const [name, h] of Object.entries(spec.headers ?? {})) {
    headers[name] = {
      description: h.description,
      schema: registry.use(h.schema),
      ...(h.required ? { required: true } : {}),
    };
  }
  const out: Response = { description: spec.description, headers };
  if (spec.content) {
    out.content = Object.fromEntries(
      Object.entries(spec.content).map(([type, media]) => [
        type,
        {
          ...(media.schema ? { schema: registry.use(media.schema) } : {}),
          ...(media.eventData ? { 'x-event-data': registry.use(media.eventData) } : {}),
        },
      ]),
    );
  }
  return out;
}

function operation(spec: OperationSpec, registry: SchemaRegistry): Operation {
  const op: Operation = {
    operationId: spec.operationId,
    tags: [spec.tag],
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
  } as Operation;
  // Public operations say so (`security: []`), as linters ask: none is left undeclared.
  op.security = (spec.security ?? []).map((names) => Object.fromEntries(names.map((n) => [n, []])));
  if (spec.parameters?.length) {
    op.parameters = spec.parameters.map((p) => ({
      name: p.name,
      in: p.in,
      required: p.in === 'path' ? true : (p.required ?? false),
      ...(p.description ? { description: p.description } : {}),
      schema: registry.use(p.schema),
    }));
  }
  if (spec.body) {
    const examples = spec.body.examples
      ? Object.fromEntries(
          Object.entries(spec.body.examples).map(([k, e]) => [k, { summary: e.summary, value: e.value }]),
        )
      : undefined;
    op.requestBody = {
      required: spec.body.required,
      ...(spec.body.description ? { description: spec.body.description } : {}),
      content: {
        [spec.body.mediaType]: { schema: registry.use(spec.body.schema), ...(examples ? { examples } : {}) },
      },
    };
  }
  op.responses = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    if (typeof r === 'string') {
      if (ERROR_RESPONSES[Number(status) as ErrorStatus] !== r)
        throw new Error(`${spec.operationId}: ${status} cannot answer ${r}`);
      op.responses[status] = { $ref: `#/components/responses/${r}` };
    } else op.responses[status] = response(r, registry);
  }
  if (Object.values(op.responses).some((r) => '$ref' in r || r.content?.['application/json'])) {
    op.responses['default'] = { $ref: '#/components/responses/Error' };
  }
  return op;
}

const isSchema = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The components `value` refers to, and those they refer to. */
function reachable(
  value: unknown,
  schemas: Record<string, JsonSchema>,
  out = new Set<string>(),
): Set<string> {
  if (Array.isArray(value)) for (const v of value) reachable(v, schemas, out);
  else if (isSchema(value)) {
    const ref = value['$ref'];
    if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
      const name = ref.slice('#/components/schemas/'.length);
      if (!out.has(name)) {
        out.add(name);
        reachable(schemas[name], schemas, out);
      }
    }
    for (const v of Object.values(value)) reachable(v, schemas, out);
  }
  return out;
}

/**
 * An optional request field's `default` is what the server assumes when the field is absent, but
 * client generators read `default` as "always present" (openapi-typescript, with its default
 * options, makes such a field required: the lab's minimal body would not type-check). So in the
 * schemas only requests use, an optional field's default is said in words instead.
 */
function defaultsInWords(schema: JsonSchema): void {
  const properties = schema['properties'];
  const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as string[]) : []);
  if (isSchema(properties)) {
    for (const [name, property] of Object.entries(properties)) {
      if (!isSchema(property) || required.has(name) || !('default' in property)) continue;
      const words = `Default: \`${JSON.stringify(property['default'])}\`.`;
      delete property['default'];
      const description = property['description'];
      property['description'] = typeof description === 'string' ? `${description} ${words}` : words;
    }
  }
  for (const value of Object.values(schema)) {
    if (Array.isArray(value)) for (const v of value) if (isSchema(v)) defaultsInWords(v);
    if (isSchema(value)) {
      if (value === properties)
        for (const v of Object.values(value))
          if (isSchema(v)) defaultsInWords(v);
          else defaultsInWords(value);
    }
  }
}

export interface DocumentOptions {
  /** The server's public URL, listed in `servers`. */
  serverUrl?: string;
}

export function buildOpenApiDocument(options: DocumentOptions = {}): OpenApiDocument {
  const registry = new SchemaRegistry();
  registry.component(WebexErrorBody);
  const paths: OpenApiDocument['paths'] = {};
  for (const spec of OPERATIONS) {
    const item = paths[spec.path] ?? {};
    if (item[spec.method]) throw new Error(`${spec.method} ${spec.path} is described twice`);
    item[spec.method] = operation(spec, registry);
    paths[spec.path] = item;
  }
  const schemas = Object.fromEntries(
    Object.entries(registry.components).sort(([a], [b]) => a.localeCompare(b)),
  );
  const operations = Object.values(paths).flatMap((item) => Object.values(item));
  const inResponses = reachable(
    operations.map((op) => op.responses),
    schemas,
  );
  for (const name of reachable(
    operations.map((op) => op.requestBody),
    schemas,
  )) {
    if (!inResponses.has(name)) defaultsInWords(schemas[name]!);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'instant-connect',
      version: pkg.version,
      summary: "Webex Instant Connect links, a broker compatible with Cisco's, and visits.",
      description: DESCRIPTION,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl, description: 'This server' }] } : {}),
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas,
      responses: errorResponses(),
      headers: {
        TrackingID: {
          description:
            "This request's id (`IC_<uuid>`), also the error body's `trackingId`: quote it in reports.",
          schema: { type: 'string' },
          required: true,
        },
      },
      securitySchemes: securitySchemes(),
    },
  };
}
