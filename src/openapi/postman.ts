/**
 * A Postman collection (v2.1) and environment generated from the OpenAPI document. Variables are
 * named as Cisco's Instant Connect lab names them, so its steps work unchanged against Cisco's
 * broker or this project's: `{{mtg-broker-url}}/api/v2/joseencrypt` with `Bearer {{bot-token}}`
 * (a Webex bot token at Cisco, an `ick_` API key here). One request per documented example body,
 * each with a test script (src/openapi/postman-tests.ts), so that a run (the Collection Runner,
 * or `newman run`) checks every answer and feeds the next request. The staff pages are left out
 * (HTML forms with a session cookie and a CSRF token), and so are the event stream (it never
 * ends) and the bot's webhook (Webex signs its calls).
 */
import { createHash } from 'node:crypto';
import { HTTP_METHODS, type OpenApiDocument, type Operation, type Parameter } from './document.js';
import { LEFT_OUT, NO_REDIRECTS, RUN_ORDER, RUN_VARIABLES, testScript } from './postman-tests.js';

const BROKER_URL_VARIABLE = 'mtg-broker-url';
const TOKEN_VARIABLE = 'bot-token';
const POSTMAN_SCHEMA = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';

/** Tags whose operations are not for Postman. */
const SKIPPED_TAGS = new Set(['Staff pages']);

interface PostmanKeyValue {
  key: string;
  value: string;
  description?: string;
  disabled?: boolean;
  type?: string;
}

interface PostmanRequest {
  method: string;
  header: PostmanKeyValue[];
  url: {
    raw: string;
    host: string[];
    path: string[];
    query?: PostmanKeyValue[];
    variable?: PostmanKeyValue[];
  };
  auth?: { type: 'bearer'; bearer: { key: 'token'; value: string; type: 'string' }[] } | { type: 'noauth' };
  body?: { mode: 'raw'; raw: string; options: { raw: { language: 'json' } } };
  description?: string;
}

interface PostmanEvent {
  listen: 'test' | 'prerequest';
  script: { type: 'text/javascript'; exec: string[] };
}

export interface PostmanItem {
  name: string;
  request: PostmanRequest;
  event: PostmanEvent[];
  protocolProfileBehavior?: { followRedirects: boolean };
}

interface PostmanFolder {
  name: string;
  description: string;
  item: PostmanItem[];
}

export interface PostmanCollection {
  info: { _postman_id: string; name: string; description: string; schema: string };
  item: PostmanFolder[];
  variable: PostmanKeyValue[];
}

export interface PostmanEnvironment {
  id: string;
  name: string;
  values: { key: string; value: string; type: 'default' | 'secret'; enabled: boolean }[];
  _postman_variable_scope: 'environment';
}

/** A stable id (UUID-shaped) from a name: the same document gives the same files. */
function stableId(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const placeholder = (name: string) => `{{${name}}}`;

/** The body of a request with no example: the required fields, each a Postman variable. */
function skeleton(doc: OpenApiDocument, schema: Record<string, unknown> | undefined): unknown {
  const ref = schema?.['$ref'];
  const resolved = typeof ref === 'string' ? doc.components.schemas[ref.split('/').pop() ?? ''] : schema;
  const required = Array.isArray(resolved?.['required']) ? (resolved['required'] as string[]) : [];
  return Object.fromEntries(required.map((name) => [name, placeholder(name)]));
}

function request(method: string, path: string, op: Operation, body: unknown): PostmanRequest {
  const parameters: Parameter[] = op.parameters ?? [];
  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.replace(/^\{(.+)\}$/, ':$1'));
  const trailing = path.length > 1 && path.endsWith('/') ? '/' : '';
  const query = parameters
    .filter((p) => p.in === 'query')
    .map((p) => ({
      key: p.name,
      value: p.name === 'ticket' || p.name === 'data' ? placeholder(p.name) : '',
      ...(p.description || p.schema['description']
        ? { description: String(p.description ?? p.schema['description']) }
        : {}),
      ...(p.required ? {} : { disabled: true }),
    }));
  // An `id` is a visit's, or a subscription's (outbound events) by its pattern.
  const idVariable = (schema: Record<string, unknown>) =>
    String(schema['pattern'] ?? '').startsWith('^sub_') ? 'subscription-id' : 'visit-id';
  const variable = parameters
    .filter((p) => p.in === 'path')
    .map((p) => {
      const choices = p.schema['enum'];
      const examples = p.schema['examples'];
      const value = Array.isArray(choices)
        ? String(choices.at(-1))
        : Array.isArray(examples)
          ? String(examples[0])
          : placeholder(p.name === 'id' ? idVariable(p.schema) : p.name);
      return { key: p.name, value };
    });
  const queryText = query
    .filter((q) => !q.disabled)
    .map((q) => `${q.key}=${q.value}`)
    .join('&');
  const header: PostmanKeyValue[] = parameters
    .filter((p) => p.in === 'header')
    .map((p) => ({
      key: p.name,
      // A fresh key per send; set a fixed one to try a retry.
      value: p.name === 'Idempotency-Key' ? '{{$guid}}' : '',
      ...(p.description ? { description: p.description } : {}),
      ...(p.required ? {} : { disabled: p.name !== 'Idempotency-Key' }),
    }));
  const out: PostmanRequest = {
    method: method.toUpperCase(),
    header,
    url: {
      raw: `${placeholder(BROKER_URL_VARIABLE)}/${segments.join('/')}${trailing}${queryText ? `?${queryText}` : ''}`,
      host: [placeholder(BROKER_URL_VARIABLE)],
      path: trailing ? [...segments, ''] : segments,
      ...(query.length ? { query } : {}),
      ...(variable.length ? { variable } : {}),
    },
    ...(op.description ? { description: op.description } : {}),
  };
  const bearer = op.security?.some((alternative) => 'apiKey' in alternative);
  out.auth = bearer
    ? { type: 'bearer', bearer: [{ key: 'token', value: placeholder(TOKEN_VARIABLE), type: 'string' }] }
    : { type: 'noauth' };
  if (body !== undefined) {
    header.push({ key: 'Content-Type', value: 'application/json' });
    out.body = { mode: 'raw', raw: JSON.stringify(body, null, 2), options: { raw: { language: 'json' } } };
  }
  return out;
}

/** The status a request succeeds with: the first documented one below 400. */
function successStatus(op: Operation): number {
  const statuses = Object.keys(op.responses)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n < 400);
  return Math.min(...statuses);
}

/**
 * The body as sent: a documented link subject (`jwt.sub`) gets `-{{$guid}}`, a new subject per
 * send, since the same subject is the same meeting space (and a visit a run ends or cancels).
 */
function perSend(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || !('jwt' in body)) return body;
  const jwt = (body as { jwt: unknown }).jwt;
  if (typeof jwt !== 'object' || jwt === null || typeof (jwt as { sub?: unknown }).sub !== 'string')
    return body;
  const sub = (jwt as { sub: string }).sub;
  return { ...body, jwt: { ...jwt, sub: `${sub}-{{$guid}}` } };
}

function item(
  name: string,
  method: string,
  path: string,
  op: Operation,
  body: unknown,
  example: string | undefined,
): PostmanItem {
  return {
    name,
    request: request(method, path, op, body),
    event: [
      {
        listen: 'test',
        script: { type: 'text/javascript', exec: testScript(op.operationId, example, successStatus(op)) },
      },
    ],
    ...(NO_REDIRECTS.has(op.operationId) ? { protocolProfileBehavior: { followRedirects: false } } : {}),
  };
}

function items(doc: OpenApiDocument, method: string, path: string, op: Operation): PostmanItem[] {
  const media = op.requestBody?.content['application/json'];
  if (!media) return [item(op.summary, method, path, op, undefined, undefined)];
  const examples = Object.entries(media.examples ?? {});
  if (examples.length === 0) {
    return [item(op.summary, method, path, op, skeleton(doc, media.schema), undefined)];
  }
  return examples.map(([key, example], i) =>
    item(
      i === 0 ? op.summary : `${op.summary}: ${example.summary ?? `example ${i + 1}`}`,
      method,
      path,
      op,
      perSend(example.value),
      key,
    ),
  );
}

/** Where an operation runs: its place in RUN_ORDER, else after them all. */
const rank = (operationId: string): number => {
  const at = (RUN_ORDER as readonly string[]).indexOf(operationId);
  return at === -1 ? RUN_ORDER.length : at;
};

export interface PostmanOptions {
  /** The value of `mtg-broker-url` (this server, or Cisco's broker). */
  brokerUrl: string;
  /** Which broker, for the environment's name: `local`, `commercial`, `usgov` (default: the URL). */
  brokerName?: string;
}

export function postmanCollection(doc: OpenApiDocument, options: PostmanOptions): PostmanCollection {
  const descriptions = new Map(doc.tags.map((t) => [t.name, t.description]));
  const placed: { tag: string; rank: number; items: PostmanItem[] }[] = [];
  for (const [path, pathItem] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = pathItem[method];
      const tag = op?.tags[0] ?? '';
      if (!op || SKIPPED_TAGS.has(tag) || op.operationId in LEFT_OUT) continue;
      placed.push({ tag, rank: rank(op.operationId), items: items(doc, method, path, op) });
    }
  }
  // Stable sort: operations of the same rank (new ones) keep the document's order.
  placed.sort((a, b) => a.rank - b.rank);
  const folders = new Map<string, PostmanFolder>();
  for (const { tag, items: its } of placed) {
    const folder = folders.get(tag) ?? { name: tag, description: descriptions.get(tag) ?? '', item: [] };
    folder.item.push(...its);
    folders.set(tag, folder);
  }
  // Folders run in the order of their first request, the Visits folder (its cancellation) last.
  const order = [...folders.values()].sort((a, b) => {
    const first = (f: PostmanFolder) =>
      Math.min(...placed.filter((p) => p.tag === f.name).map((p) => p.rank));
    return first(a) - first(b);
  });
  const leftOut = Object.values(LEFT_OUT)
    .map((why) => `- ${why}.`)
    .join('\n');
  return {
    info: {
      _postman_id: stableId(`${doc.info.title} collection`),
      name: doc.info.title,
      description: `${doc.info.summary}\n\nGenerated from the OpenAPI document (${doc.info.title} ${doc.info.version}). Set \`${BROKER_URL_VARIABLE}\` to this server (e.g. http://127.0.0.1:8080) or to Cisco's broker (https://mtg-broker-a.wbx2.com), and \`${TOKEN_VARIABLE}\` to an API key of this server (\`instant-connect keys create\`) or a Webex bot token.\n\nRun in order (the Collection Runner, or \`newman run\`), each request checks its answer and sets the variables the next ones use (${RUN_VARIABLES.map((v) => `\`${v.key}\``).join(', ')}); the visit the Visits folder makes is cancelled last. Each run uses new link subjects. Left out:\n${leftOut}\n- The staff pages: HTML forms with a session cookie and a CSRF token.`,
      schema: POSTMAN_SCHEMA,
    },
    item: order.filter((f) => f.item.length > 0),
    variable: [
      { key: BROKER_URL_VARIABLE, value: options.brokerUrl },
      { key: TOKEN_VARIABLE, value: '' },
      ...RUN_VARIABLES.map((v) => ({ key: v.key, value: '', description: v.description })),
    ],
  };
}

/**
 * The environment: the broker's URL, and an empty secret for the token (never written to a file).
 * Its id and name follow the broker, so a local and a commercial environment can both be imported.
 */
export function postmanEnvironment(doc: OpenApiDocument, options: PostmanOptions): PostmanEnvironment {
  const name =
    options.brokerName && options.brokerName !== options.brokerUrl
      ? `${options.brokerName} (${options.brokerUrl})`
      : options.brokerUrl;
  return {
    id: stableId(`${doc.info.title} environment ${options.brokerUrl}`),
    name: `${doc.info.title}: ${name}`,
    values: [
      { key: BROKER_URL_VARIABLE, value: options.brokerUrl, type: 'default', enabled: true },
      { key: TOKEN_VARIABLE, value: '', type: 'secret', enabled: true },
    ],
    _postman_variable_scope: 'environment',
  };
}
