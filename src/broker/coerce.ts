/**
 * The real broker accepts `"provideShortUrls": "true"` and `"numGuest": "2"` (every Webex Connect
 * lab sends strings), so the project's broker coerces exactly those: known boolean and integer
 * fields given as canonical strings. Anything else is left for the validator to name.
 */
const BOOLEAN_FIELDS = ['provideShortUrls', 'loginUrlForHost'];
const INTEGER_FIELDS = ['numHost', 'numGuest', 'saltLength', 'iterations'];
const JWT_INTEGER_FIELDS = ['nbf', 'exp'];

function coerceFields(record: Record<string, unknown>, booleans: string[], integers: string[]) {
  for (const key of booleans) {
    const v = record[key];
    if (v === 'true' || v === 'false') record[key] = v === 'true';
  }
  for (const key of integers) {
    const v = record[key];
    if (typeof v === 'string' && /^-?\d{1,15}$/.test(v.trim())) record[key] = Number(v.trim());
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
