/**
 * GET /docs: the OpenAPI document rendered on the server into one readable page (routes by tag,
 * parameters, bodies as field tables with examples, responses, security). No script, no CDN:
 * styles come from /assets/app.css and /assets/docs.css.
 */
import { escapeHtml, page } from '../util/pages.js';
import {
  HTTP_METHODS,
  type MediaType,
  type OpenApiDocument,
  type Operation,
  type Reference,
  type Response,
} from './document.js';
import type { JsonSchema } from './schemas.js';

/** Escaped text with `code` spans and **bold**. */
function prose(text: string): string {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

const refName = (ref: string) => ref.split('/').pop() ?? ref;
const schemaLink = (name: string) => `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
const anchor = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '-');

const isSchema = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A schema's type in words, with links to components. */
export function typeLabel(schema: JsonSchema): string {
  if (typeof schema['$ref'] === 'string') return schemaLink(refName(schema['$ref']));
  if (Array.isArray(schema['enum']))
    return `one of ${schema['enum'].map((v) => `<code>${escapeHtml(String(v))}</code>`).join(', ')}`;
  if ('const' in schema) return `<code>${escapeHtml(JSON.stringify(schema['const']))}</code>`;
  const union = (schema['anyOf'] ?? schema['oneOf']) as unknown;
  if (Array.isArray(union)) return union.filter(isSchema).map(typeLabel).join(' or ');
  const type = schema['type'];
  if (type === 'array') return `array of ${isSchema(schema['items']) ? typeLabel(schema['items']) : 'any'}`;
  if (type === 'object' && isSchema(schema['patternProperties']) && !schema['properties'])
    return 'object (any keys)';
  if (typeof type === 'string')
    return typeof schema['format'] === 'string' ? `${type} (${escapeHtml(schema['format'])})` : type;
  return 'any';
}

/** The rules of a schema in words: `x-rule`, or its bounds, pattern and default. */
export function rules(schema: JsonSchema): string {
  const out: string[] = [];
  if (typeof schema['x-rule'] === 'string') out.push(escapeHtml(schema['x-rule']));
  else {
    const bound = (min: string, max: string, unit: string) => {
      const lo = schema[min];
      const hi = schema[max];
      if (typeof lo === 'number' && typeof hi === 'number') out.push(`${lo} to ${hi}${unit}`);
      else if (typeof lo === 'number') out.push(`at least ${lo}${unit}`);
      else if (typeof hi === 'number') out.push(`at most ${hi}${unit}`);
    };
    bound('minimum', 'maximum', '');
    bound('minLength', 'maxLength', ' characters');
    bound('minItems', 'maxItems', ' items');
    if (typeof schema['pattern'] === 'string')
      out.push(`matches <code>${escapeHtml(schema['pattern'])}</code>`);
  }
  if ('default' in schema) out.push(`default <code>${escapeHtml(JSON.stringify(schema['default']))}</code>`);
  // A union's members say their own rules (`numGuest`: 0 to 25, or the same as a string).
  const union = (schema['anyOf'] ?? schema['oneOf']) as unknown;
  if (Array.isArray(union)) out.push(...union.filter(isSchema).map(rules).filter(Boolean));
  return out.join('; ');
}

interface Row {
  path: string;
  schema: JsonSchema;
  required: boolean;
}

/** The fields of an object schema, nested inline objects flattened (`jwt.sub`, `data[].uri`). */
export function fieldRows(schema: JsonSchema, prefix = '', depth = 0): Row[] {
  const rows: Row[] = [];
  const properties = schema['properties'];
  if (!isSchema(properties) || depth > 4) return rows;
  const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as string[]) : []);
  for (const [name, value] of Object.entries(properties)) {
    if (!isSchema(value)) continue;
    const path = `${prefix}${name}`;
    rows.push({ path, schema: value, required: required.has(name) });
    if (isSchema(value['properties'])) rows.push(...fieldRows(value, `${path}.`, depth + 1));
    const items = value['items'];
    if (value['type'] === 'array' && isSchema(items) && isSchema(items['properties']))
      rows.push(...fieldRows(items, `${path}[].`, depth + 1));
  }
  return rows;
}

function fieldTable(schema: JsonSchema): string {
  const rows = fieldRows(schema);
  if (rows.length === 0) return `<p>${typeLabel(schema)}</p>`;
  const body = rows
    .map((r) => {
      const words = [r.schema['description']].filter((w): w is string => typeof w === 'string').map(prose);
      const rule = rules(r.schema);
      return `<tr><td><code>${escapeHtml(r.path)}</code></td><td>${typeLabel(r.schema)}</td><td>${r.required ? 'required' : ''}</td><td>${[...words, rule].filter(Boolean).join('<br>')}</td></tr>`;
    })
    .join('\n');
  return `<div class="table-wrap"><table class="fields"><thead><tr><th>Field</th><th>Type</th><th></th><th>Description and rules</th></tr></thead><tbody>
${body}
</tbody></table></div>`;
}

const pretty = (value: unknown) =>
  `<pre class="example"><code>${escapeHtml(JSON.stringify(value, null, 2))}</code></pre>`;

function resolveResponse(
  doc: OpenApiDocument,
  r: Response | Reference,
): { name?: string; response: Response } {
  if ('$ref' in r) {
    const name = refName(r.$ref);
    const response = doc.components.responses[name];
    if (!response) throw new Error(`no response ${r.$ref}`);
    return { name, response };
  }
  return { response: r };
}

function contentCell(content: Record<string, MediaType> | undefined): string {
  if (!content) return '—';
  return Object.entries(content)
    .map(([type, media]) => {
      const schema =
        media.schema && !(media.schema['type'] === 'string' && type !== 'application/json')
          ? `: ${typeLabel(media.schema)}`
          : '';
      const events = media['x-event-data'] ? `, each event's data: ${typeLabel(media['x-event-data'])}` : '';
      return `<code>${escapeHtml(type)}</code>${schema}${events}`;
    })
    .join('<br>');
}

function headersCell(response: Response): string {
  const names = Object.keys(response.headers ?? {}).filter((h) => h !== 'TrackingID');
  return names.map((n) => `<code>${escapeHtml(n)}</code>`).join(', ');
}

function security(doc: OpenApiDocument, op: Operation): string {
  if (op.security.length === 0) return '<p class="auth">No credentials.</p>';
  const words = op.security.map((alternative) => {
    const names = Object.keys(alternative);
    if (names.length === 0) return 'none';
    return names
      .map((n) => {
        const scheme =
          doc.components.securitySchemes[n as keyof OpenApiDocument['components']['securitySchemes']];
        const label =
          scheme?.type === 'http' ? 'Bearer API key' : `<code>${escapeHtml(scheme?.name ?? n)}</code>`;
        return `<a href="#security-${escapeHtml(n)}">${label}</a>`;
      })
      .join(' + ');
  });
  return `<p class="auth">Credentials: ${words.join(' <em>or</em> ')}.</p>`;
}

function operationSection(doc: OpenApiDocument, method: string, path: string, op: Operation): string {
  const parts: string[] = [
    `<section class="op" id="op-${escapeHtml(op.operationId)}">`,
    `<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>`,
    `<p class="summary">${prose(op.summary)}</p>`,
  ];
  if (op.description) parts.push(`<p>${prose(op.description)}</p>`);
  parts.push(security(doc, op));
  if (op.parameters?.length) {
    const rows = op.parameters
      .map((p) => {
        const words = [p.description ?? p.schema['description']]
          .filter((w): w is string => typeof w === 'string')
          .map(prose);
        const rule = rules(p.schema);
        return `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td>${typeLabel(p.schema)}</td><td>${p.required ? 'required' : ''}</td><td>${[...words, rule].filter(Boolean).join('<br>')}</td></tr>`;
      })
      .join('\n');
    parts.push(
      `<h4>Parameters</h4><div class="table-wrap"><table class="fields"><thead><tr><th>Name</th><th>In</th><th>Type</th><th></th><th>Description and rules</th></tr></thead><tbody>\n${rows}\n</tbody></table></div>`,
    );
  }
  if (op.requestBody) {
    for (const [type, media] of Object.entries(op.requestBody.content)) {
      parts.push(
        `<h4>Request body</h4><p><code>${escapeHtml(type)}</code>${op.requestBody.required ? ', required' : ', optional'}${media.schema ? `: ${typeLabel(media.schema)}` : ''}</p>`,
      );
      const schema = media.schema;
      const resolved =
        schema && typeof schema['$ref'] === 'string'
          ? doc.components.schemas[refName(schema['$ref'])]
          : schema;
      if (resolved) parts.push(fieldTable(resolved));
      for (const example of Object.values(media.examples ?? {})) {
        parts.push(
          `<p class="example-title">Example: ${prose(example.summary ?? '')}</p>${pretty(example.value)}`,
        );
      }
    }
  }
  const rows = Object.entries(op.responses)
    .map(([status, r]) => {
      const { response } = resolveResponse(doc, r);
      return `<tr><td><strong>${escapeHtml(status)}</strong></td><td>${prose(response.description)}</td><td>${contentCell(response.content)}</td><td>${headersCell(response)}</td></tr>`;
    })
    .join('\n');
  parts.push(
    `<h4>Responses</h4><div class="table-wrap"><table class="responses"><thead><tr><th>Status</th><th>Meaning</th><th>Body</th><th>Headers</th></tr></thead><tbody>\n${rows}\n</tbody></table></div>`,
    '</section>',
  );
  return parts.join('\n');
}

/** Operations in document order, by tag. */
function operationsByTag(
  doc: OpenApiDocument,
): Map<string, { method: string; path: string; op: Operation }[]> {
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>(
    doc.tags.map((t) => [t.name, []]),
  );
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      for (const tag of op.tags) byTag.get(tag)?.push({ method, path, op });
    }
  }
  return byTag;
}

export function renderDocsPage(doc: OpenApiDocument): string {
  const byTag = operationsByTag(doc);
  const nav = [...byTag]
    .map(
      ([tag, ops]) =>
        `<li><a href="#tag-${anchor(tag)}">${escapeHtml(tag)}</a><ul>${ops
          .map(
            ({ method, path, op }) =>
              `<li><a href="#op-${escapeHtml(op.operationId)}"><span class="method ${method}">${method.toUpperCase()}</span> ${escapeHtml(path)}</a></li>`,
          )
          .join('')}</ul></li>`,
    )
    .join('\n');
  const intro = doc.info.description
    .split(/\n\n+/)
    .map((p) => `<p>${prose(p)}</p>`)
    .join('\n');
  const schemes = Object.entries(doc.components.securitySchemes)
    .map(([name, s]) => {
      const where =
        s.type === 'http'
          ? '<code>Authorization: Bearer …</code>'
          : `${s.in} <code>${escapeHtml(s.name)}</code>`;
      return `<tr id="security-${escapeHtml(name)}"><td><code>${escapeHtml(name)}</code></td><td>${where}</td><td>${prose(s.description)}</td></tr>`;
    })
    .join('\n');
  const tags = doc.tags
    .map(
      (t) =>
        `<section class="tag" id="tag-${anchor(t.name)}"><h2>${escapeHtml(t.name)}</h2><p>${prose(t.description)}</p>
${(byTag.get(t.name) ?? []).map(({ method, path, op }) => operationSection(doc, method, path, op)).join('\n')}
</section>`,
    )
    .join('\n');
  const errors = Object.entries(doc.components.responses)
    .map(
      ([name, r]) =>
        `<tr><td><code>${escapeHtml(name)}</code></td><td>${prose(r.description)}</td><td>${headersCell(r)}</td></tr>`,
    )
    .join('\n');
  const schemas = Object.entries(doc.components.schemas)
    .map(
      ([name, schema]) =>
        `<section class="schema" id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${
          typeof schema['description'] === 'string' ? `<p>${prose(schema['description'])}</p>` : ''
        }${fieldTable(schema)}</section>`,
    )
    .join('\n');
  const body = `<div class="docs">
<h1>${escapeHtml(doc.info.title)} API <span class="version">${escapeHtml(doc.info.version)}</span></h1>
<p class="lead">${prose(doc.info.summary)}</p>
${intro}
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(doc.openapi)}). For Postman: <code>instant-connect export postman --out instant-connect.postman.json</code>.</p>
<nav class="toc" aria-label="Contents"><h2>Contents</h2><ul>
${nav}
<li><a href="#security">Security schemes</a></li>
<li><a href="#errors">Errors</a></li>
<li><a href="#schemas">Schemas</a></li>
</ul></nav>
${tags}
<section id="security"><h2>Security schemes</h2><div class="table-wrap"><table><thead><tr><th>Name</th><th>Where</th><th>What</th></tr></thead><tbody>
${schemes}
</tbody></table></div></section>
<section id="errors"><h2>Errors</h2><p>Every error has the ${schemaLink('WebexError')} body and a <code>TrackingID</code> header.</p><div class="table-wrap"><table><thead><tr><th>Response</th><th>Meaning</th><th>Headers</th></tr></thead><tbody>
${errors}
</tbody></table></div></section>
<section id="schemas"><h2>Schemas</h2>
${schemas}
</section>
</div>`;
  return page(`${doc.info.title} API reference`, body, { brokerNote: false, styles: ['docs.css'] });
}
