/**
 * The real broker accepts `"provideShortUrls": "true"` and `"numGuest": "2"` (every Webex Connect
 * lab sends strings), so the project's broker coerces exactly those: known boolean and integer
 * fields given as canonical strings. Anything else is left for the validator to name.
 * `JoseEncryptWireBody` is the body as the server accepts it on the wire (the OpenAPI document's
 * request schema): the validated schema with those fields also taking their string forms.
 */
import Type, { type TSchema } from 'typebox';
import { JoseEncryptRequest, JwtClaimsInput } from '../domain/schema.js';

const BOOLEAN_FIELDS = ['provideShortUrls', 'loginUrlForHost'] as const;
const INTEGER_FIELDS = ['numHost', 'numGuest', 'saltLength', 'iterations'] as const;
const JWT_INTEGER_FIELDS = ['nbf', 'exp'] as const;
/** What coerceFields turns into a number: optional white space around at most 15 digits. */
const INTEGER_STRING = /^\s*-?\d{1,15}\s*$/;

function coerceFields(
  record: Record<string, unknown>,
  booleans: readonly string[],
  integers: readonly string[],
) {
  for (const key of booleans) {
    const v = record[key];
    if (v === 'true' || v === 'false') record[key] = v === 'true';
  }
  for (const key of integers) {
    const v = record[key];
    if (typeof v === 'string' && INTEGER_STRING.test(v)) record[key] = Number(v.trim());
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A coerced copy; the input is not modified. */
export function coerceJoseEncryptBody(body: unknown): unknown {
  if (!isRecord(body)) return body;
  const copy: Record<string, unknown> = { ...body };
  coerceFields(copy, BOOLEAN_FIELDS, INTEGER_FIELDS);
  if (isRecord(copy['jwt'])) {
    const jwt = { ...copy['jwt'] };
    coerceFields(jwt, [], JWT_INTEGER_FIELDS);
    copy['jwt'] = jwt;
  }
  return copy;
}

const BooleanString = Type.Enum(['true', 'false'], {
  'x-rule': 'or the same as a string, "true" or "false" (as Webex Connect sends it)',
});
const IntegerString = Type.String({
  pattern: INTEGER_STRING.source,
  'x-rule': 'or the same whole number as a string of digits, such as "2" (as Webex Connect sends it)',
});

/** `schema`, or its string form; the field's description stays on the field, optional stays optional. */
function orString(schema: TSchema, form: TSchema): TSchema {
  const description = (schema as { description?: unknown }).description;
  return Type.Optional(Type.Union([schema, form], typeof description === 'string' ? { description } : {}));
}

function widened(
  properties: Record<string, TSchema>,
  booleans: readonly string[],
  integers: readonly string[],
): Record<string, TSchema> {
  const out: Record<string, TSchema> = { ...properties };
  for (const key of booleans) out[key] = orString(properties[key]!, BooleanString);
  for (const key of integers) out[key] = orString(properties[key]!, IntegerString);
  return out;
}

/**
 * The body of `POST /api/v2/joseencrypt` (and v1) on the wire: JoseEncryptRequest with the
 * coerced fields also taking their string forms. What the OpenAPI document gives clients, so it is
 * no stricter than the server (coerceJoseEncryptBody, then the JoseEncryptRequest validator).
 */
export const JoseEncryptWireBody = Type.Object(
  {
    ...widened(JoseEncryptRequest.properties, BOOLEAN_FIELDS, INTEGER_FIELDS),
    jwt: Type.Object(widened(JwtClaimsInput.properties, [], JWT_INTEGER_FIELDS), {
      additionalProperties: false,
    }),
  },
  { additionalProperties: false, $id: 'JoseEncryptRequest' },
);
