/**
 * A Postman collection (v2.1) and environment generated from the OpenAPI document. Variables are
 * named as Cisco's Instant Connect lab names them, so its steps work unchanged against Cisco's
 * broker or this project's: `{{mtg-broker-url}}/api/v2/joseencrypt` with `Bearer {{bot-token}}`
 * (a Webex bot token at Cisco, an `ick_` API key here). One request per documented example body.
 * The staff pages are left out: they are HTML forms with a session cookie and a CSRF token.
 */
import { createHash } from 'node:crypto';
import { HTTP_METHODS, type OpenApiDocument, type Operation, type Parameter } from './document.js';

export const BROKER_URL_VARIABLE = 'mtg-broker-url';
export const TOKEN_VARIABLE = 'bot-token';
export const POSTMAN_SCHEMA = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';

/** Tags whose operations are not for Postman. */
const SKIPPED_TAGS = new Set(['Staff pages']);

export interface PostmanKeyValue {
  key: string;
  value: string;
  description?: string;
  disabled?: boolean;
  type?: string;
}

export interface PostmanRequest {
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

export interface PostmanItem {
  name: string;
  request: PostmanRequest;
}

export interface PostmanFolder {
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
  const variable = parameters
    .filter((p) => p.in === 'path')
    .map((p) => {
      const choices = p.schema['enum'];
      const value = Array.isArray(choices)
        ? String(choices.at(-1))
        : placeholder(p.name === 'id' ? 'visit-id' : p.name);
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

function items(doc: OpenApiDocument, method: string, path: string, op: Operation): PostmanItem[] {
  const media = op.requestBody?.content['application/json'];
  if (!media) return [{ name: op.summary, request: request(method, path, op, undefined) }];
  const examples = Object.values(media.examples ?? {});
  if (examples.length === 0) {
    return [{ name: op.summary, request: request(method, path, op, skeleton(doc, media.schema)) }];
  }
  return examples.map((example, i) => ({
    name: i === 0 ? op.summary : `${op.summary}: ${example.summary ?? `example ${i + 1}`}`,
    request: request(method, path, op, example.value),
  }));
}

export interface PostmanOptions {
  /** The value of `mtg-broker-url` (this server, or Cisco's broker). */
  brokerUrl: string;
}

export function postmanCollection(doc: OpenApiDocument, options: PostmanOptions): PostmanCollection {
  const folders = new Map<string, PostmanFolder>(
    doc.tags
      .filter((t) => !SKIPPED_TAGS.has(t.name))
      .map((t) => [t.name, { name: t.name, description: t.description, item: [] }]),
  );
  for (const [path, pathItem] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = pathItem[method];
      const folder = op ? folders.get(op.tags[0] ?? '') : undefined;
      if (op && folder) folder.item.push(...items(doc, method, path, op));
    }
  }
  return {
    info: {
      _postman_id: stableId(`${doc.info.title} collection`),
      name: doc.info.title,
      description: `${doc.info.summary}\n\nGenerated from the OpenAPI document (${doc.info.title} ${doc.info.version}). Set \`${BROKER_URL_VARIABLE}\` to this server (e.g. http://127.0.0.1:8080) or to Cisco's broker (https://mtg-broker-a.wbx2.com), and \`${TOKEN_VARIABLE}\` to an API key of this server (\`instant-connect keys create\`) or a Webex bot token.`,
      schema: POSTMAN_SCHEMA,
    },
    item: [...folders.values()].filter((f) => f.item.length > 0),
    variable: [
      { key: BROKER_URL_VARIABLE, value: options.brokerUrl },
      { key: TOKEN_VARIABLE, value: '' },
    ],
  };
}

/** The environment: the broker's URL, and an empty secret for the token (never written to a file). */
export function postmanEnvironment(doc: OpenApiDocument, options: PostmanOptions): PostmanEnvironment {
  return {
    id: stableId(`${doc.info.title} environment`),
    name: doc.info.title,
    values: [
      { key: BROKER_URL_VARIABLE, value: options.brokerUrl, type: 'default', enabled: true },
      { key: TOKEN_VARIABLE, value: '', type: 'secret', enabled: true },
    ],
    _postman_variable_scope: 'environment',
  };
}
