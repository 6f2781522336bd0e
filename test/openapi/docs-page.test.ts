/**
 * The reference page at /docs, rendered from the document: every operation and schema is on it,
 * with its parameters, bodies, examples and credentials; only the package's own assets, no
 * script, no inline style (the CSP allows neither); and nothing the document says unescaped.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { AUDIENCE } from '../../src/domain/constants.js';
import { buildOpenApiDocument, HTTP_METHODS, type OpenApiDocument } from '../../src/openapi/document.js';
import { fieldRows, renderDocsPage, rules, typeLabel } from '../../src/openapi/html.js';

const doc = buildOpenApiDocument();
const html = renderDocsPage(doc);

const sectionOf = (operationId: string) => {
  const start = html.indexOf(`<section class="op" id="op-${operationId}">`);
  assert.ok(start >= 0, `no section for ${operationId}`);
  return html.slice(start, html.indexOf('</section>', start));
};

describe('GET /docs', () => {
  test('every operation has its section, method and path, linked from the contents', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of HTTP_METHODS) {
        const op = item[method];
        if (!op) continue;
        const section = sectionOf(op.operationId);
        assert.match(
          section,
          new RegExp(`<span class="method ${method}">${method.toUpperCase()}</span> <code>`),
        );
        assert.ok(section.includes(`<code>${path.replaceAll('&', '&amp;')}</code>`), `${method} ${path}`);
        assert.ok(html.includes(`href="#op-${op.operationId}"`), `${op.operationId} is not in the contents`);
      }
    }
  });

  test('every schema has its section, and every link to a schema has a target', () => {
    for (const name of Object.keys(doc.components.schemas))
      assert.ok(html.includes(`id="schema-${name}"`), name);
    for (const [, target] of html.matchAll(/href="#([^"]+)"/g)) {
      assert.ok(html.includes(`id="${target}"`), `a link to #${target}, which is not on the page`);
    }
  });

  test('the joseencrypt section: credentials, the body’s fields with their rules, the lab example, responses', () => {
    const section = sectionOf('createLinks');
    assert.match(section, /Credentials: <a href="#security-apiKey">Bearer API key<\/a>/);
    assert.match(section, /<code>jwt\.sub<\/code><\/td><td>string<\/td><td>required<\/td>/);
    assert.match(section, /<code>jwt\.flow\.data\[\]\.uri<\/code>/);
    assert.match(
      section,
      /<code>numHost<\/code><\/td><td>integer or string<\/td><td><\/td><td>0 to 25; default <code>1<\/code>; or the same whole number as a string of digits, such as &quot;2&quot;/,
    );
    assert.ok(section.includes(`&quot;aud&quot;: &quot;${AUDIENCE}&quot;`), 'the lab example');
    assert.match(section, /<strong>200<\/strong>.*<a href="#schema-JoseEncryptV2Response">/);
    assert.match(section, /<strong>429<\/strong>.*<code>Retry-After<\/code>/);
  });

  test('the trigger section names both ways to authenticate and the Idempotency-Key header', () => {
    const section = sectionOf('triggerVisit');
    assert.match(section, /Bearer API key<\/a> <em>or<\/em> .*X-IC-Hook.*X-IC-Timestamp.*X-IC-Signature/);
    assert.match(section, /<code>Idempotency-Key<\/code><\/td><td>header<\/td>/);
  });

  test('no script, no inline style, no resource from elsewhere; the stylesheets exist in public/', () => {
    assert.ok(!/<script/i.test(html), 'a script');
    assert.ok(!/\sstyle=/i.test(html), 'an inline style attribute');
    assert.ok(!/<style/i.test(html), 'a style element');
    const sheets = [...html.matchAll(/<link rel="stylesheet" href="([^"]+)">/g)].map((m) => m[1]!);
    assert.deepEqual(sheets, ['/assets/app.css', '/assets/docs.css']);
    for (const sheet of sheets)
      assert.ok(existsSync(new URL(`../../public/${sheet.slice(8)}`, import.meta.url)));
    assert.ok(!/(src|href)="(https?:)?\/\//i.test(html), 'a resource from another origin');
  });

  test('what the document says is escaped', () => {
    const hostile = structuredClone(doc) as OpenApiDocument;
    hostile.info.summary = '<img src=x onerror=alert(1)>';
    hostile.paths['/healthz']!.get!.summary = '"><script>alert(1)</script>';
    const page = renderDocsPage(hostile);
    assert.ok(!page.includes('<img src=x'));
    assert.ok(!page.includes('<script>alert'));
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  });
});

describe('schema words', () => {
  test('types, unions, arrays, references and rules', () => {
    assert.equal(typeLabel({ type: 'string', format: 'date-time' }), 'string (date-time)');
    assert.equal(typeLabel({ anyOf: [{ type: 'string' }, { type: 'integer' }] }), 'string or integer');
    assert.equal(
      typeLabel({ type: 'array', items: { $ref: '#/components/schemas/Link' } }),
      'array of <a href="#schema-Link">Link</a>',
    );
    assert.equal(typeLabel({ enum: ['gen', 'hc'] }), 'one of <code>gen</code>, <code>hc</code>');
    assert.equal(
      rules({ type: 'integer', minimum: 0, maximum: 25, default: 1 }),
      '0 to 25; default <code>1</code>',
    );
    assert.equal(rules({ type: 'string', maxLength: 200 }), 'at most 200 characters');
    assert.equal(rules({ type: 'string', 'x-rule': 'an <email>' }), 'an &lt;email&gt;');
    assert.deepEqual(
      fieldRows({
        type: 'object',
        required: ['a'],
        properties: {
          a: { type: 'object', properties: { b: { type: 'string' } } },
          c: { type: 'array', items: { type: 'object', properties: { d: {} } } },
        },
      }).map((r) => `${r.path}${r.required ? '*' : ''}`),
      ['a*', 'a.b', 'c', 'c[].d'],
    );
  });
});
