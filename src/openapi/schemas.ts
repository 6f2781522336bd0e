/**
 * TypeBox schemas are JSON Schema already; this turns them into the schemas of an OpenAPI 3.1
 * document. A schema that carries a `$id` becomes a component of that name, referenced wherever it
 * appears (`#/components/schemas/<id>`); every other schema is copied inline. Only the schema's
 * own JSON keywords are copied: TypeBox's bookkeeping (`~kind`, `~optional`) is not enumerable.
 */

export type JsonSchema = { [key: string]: unknown };

/** Keywords whose values are data, not schemas: copied as they are. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples', 'example', 'required']);

const isObject = (value: unknown): value is JsonSchema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const componentRef = (name: string) => `#/components/schemas/${name}`;

export class SchemaRegistry {
  /** Component name → its schema (without `$id`). */
  readonly components: Record<string, JsonSchema> = {};
  readonly #sources = new Map<string, string>();

  /** The schema to put in the document: a `$ref` for a schema with `$id`, else an inline copy. */
  use(schema: object): JsonSchema {
    return this.#convert(schema as JsonSchema);
  }

  /** Registers a schema with `$id` as a component (even when nothing references it). */
  component(schema: object): string {
    const id = (schema as JsonSchema)['$id'];
    if (typeof id !== 'string') throw new TypeError('a component schema needs a $id');
    this.#convert(schema as JsonSchema);
    return id;
  }

  #convert(node: JsonSchema): JsonSchema {
    const id = node['$id'];
    if (typeof id === 'string') {
      this.#register(id, node);
      return { $ref: componentRef(id) };
    }
    return this.#copy(node);
  }

  #register(id: string, node: JsonSchema): void {
    if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new TypeError(`$id ${id} cannot name an OpenAPI component`);
    const body = this.#copy(node);
    const text = JSON.stringify(body);
    const seen = this.#sources.get(id);
    if (seen !== undefined) {
      if (seen !== text) throw new TypeError(`two different schemas have the $id ${id}`);
      return;
    }
    this.#sources.set(id, text);
    this.components[id] = body;
  }

  #copy(node: JsonSchema): JsonSchema {
    const out: JsonSchema = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$id') continue;
      if (DATA_KEYWORDS.has(key)) out[key] = structuredClone(value);
      else if (Array.isArray(value)) out[key] = value.map((v) => (isObject(v) ? this.#convert(v) : v));
      else if (isObject(value)) out[key] = this.#subschemas(key, value);
      else out[key] = value;
    }
    return out;
  }

  /** `properties`, `patternProperties`, `$defs` hold a map of schemas; other object values are one schema. */
  #subschemas(key: string, value: JsonSchema): JsonSchema {
    if (
      key === 'properties' ||
      key === 'patternProperties' ||
      key === '$defs' ||
      key === 'dependentSchemas'
    ) {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, isObject(v) ? this.#convert(v) : v]),
      );
    }
    return this.#convert(value);
  }
}
