/**
 * Checks real answers against the OpenAPI document: the documented response for the route and
 * status, its media type, and the body against its schema with ajv (JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1), every `$ref` resolved from the document's own components.
 */
import assert from 'node:assert/strict';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import * as formats from 'ajv-formats';
import type { OpenApiDocument, Reference, Response } from '../../src/openapi/document.js';

// ajv-formats is CommonJS: under NodeNext its plugin is the namespace's `default`.
const addFormats = formats.default.default;

/** `#/components/schemas/X` → `#/$defs/X`, so a schema compiles with the components as its `$defs`. */
function rebase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rebase);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', '#/$defs/') : rebase(v),
    ]),
  );
}

export interface DocumentedAnswer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text. */
  body: unknown;
}

export class OpenApiChecker {
  readonly ajv: Ajv2020;
  readonly #defs: Record<string, unknown>;
  readonly #compiled = new Map<string, ValidateFunction>();
  /** `METHOD path status` of every answer checked (coverage). */
  readonly seen = new Set<string>();

  constructor(readonly doc: OpenApiDocument) {
    this.ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
    this.ajv.addKeyword('x-rule');
    addFormats(this.ajv);
    this.#defs = rebase(doc.components.schemas) as Record<string, unknown>;
  }

  /** A validator of `schema` (a schema of the document, with its `$ref`s). */
  validator(schema: unknown): ValidateFunction {
    const key = JSON.stringify(schema);
    let fn = this.#compiled.get(key);
    if (!fn) {
      fn = this.ajv.compile({ ...(rebase(schema) as object), $defs: this.#defs });
      this.#compiled.set(key, fn);
    }
    return fn;
  }

  /** Asserts `value` is valid against `schema`, naming `what` and ajv's errors when not. */
  assertValid(schema: unknown, value: unknown, what: string): void {
    const fn = this.validator(schema);
    assert.ok(
      fn(value),
      `${what} does not match its schema: ${this.ajv.errorsText(fn.errors)}\n${JSON.stringify(value).slice(0, 800)}`,
    );
  }

  resolveResponse(r: Response | Reference): Response {
    if (!('$ref' in r)) return r;
    const name = r.$ref.replace('#/components/responses/', '');
    const response = this.doc.components.responses[name];
    assert.ok(response, `no component response ${r.$ref}`);
    return response;
  }

  /** The documented response of an operation for a status (never `default`: every status is listed). */
  documented(method: string, path: string, status: number): Response {
    const op = this.doc.paths[path]?.[method.toLowerCase() as 'get' | 'post' | 'delete'];
    assert.ok(op, `${method} ${path} is not in the document`);
    const r = op.responses[String(status)];
    assert.ok(
      r,
      `${method} ${path} does not document ${status} (it lists ${Object.keys(op.responses).join(', ')})`,
    );
    return this.resolveResponse(r);
  }

  /**
   * Asserts that a real answer is documented for `method path` (an OpenAPI path template) and
   * matches it: status listed, Content-Type among the documented media types, JSON body valid.
   */
  check(method: string, path: string, answer: DocumentedAnswer): void {
    const response = this.documented(method, path, answer.status);
    this.assertMatches(response, answer, `${method} ${path} ${answer.status}`);
    this.seen.add(`${method.toUpperCase()} ${path} ${answer.status}`);
  }

  /** Asserts an answer matches a documented response (status chosen by the caller). */
  assertMatches(response: Response, answer: DocumentedAnswer, what: string): void {
    const type = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const content = response.content ?? {};
    const types = Object.keys(content);
    if (types.length === 0) {
      assert.ok(answer.body === '' || answer.body === undefined, `${what}: documented without a body`);
    } else {
      assert.ok(
        types.includes(type),
        `${what}: Content-Type ${type} is not documented (${types.join(', ')})`,
      );
      const schema = content[type]!.schema;
      if (type === 'application/json' && schema) this.assertValid(schema, answer.body, what);
    }
    for (const [name, h] of Object.entries(response.headers ?? {})) {
      const header = '$ref' in h ? this.doc.components.headers[h.$ref.split('/').pop()!] : h;
      if (header?.required) assert.ok(answer.headers.get(name) !== null, `${what}: no ${name} header`);
    }
  }

  /** Operations (`METHOD path`) with no answer checked yet. */
  unchecked(): string[] {
    const done = new Set([...this.seen].map((s) => s.split(' ').slice(0, 2).join(' ')));
    const out: string[] = [];
    for (const [path, item] of Object.entries(this.doc.paths)) {
      for (const method of Object.keys(item)) {
        const key = `${method.toUpperCase()} ${path}`;
        if (!done.has(key)) out.push(key);
      }
    }
    return out;
  }
}
