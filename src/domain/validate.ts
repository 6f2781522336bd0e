/**
 * Schema-driven validation that reports every problem at once, each naming its field path and
 * rule in words people understand. The rules come from the TypeBox schemas; this module only
 * walks them and phrases the failures, plus the few checks JSON Schema cannot say
 * (milliseconds, nbf < exp, an exp in the past, 25 links per call).
 */
import Value from 'typebox/value';
import { type Issue, ValidationError } from '../errors.js';
import { MAX_LINKS_PER_CALL, MILLISECONDS_THRESHOLD } from './constants.js';
import { JoseEncryptRequest } from './schema.js';
import { isoSeconds, millisecondsHint } from './time.js';

// TypeBox schemas are plain JSON Schema objects; we read them structurally.
type Schema = Record<string, unknown> & {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
};

/** Misplaced or renamed keys people really send, mapped to what they meant. */
export type KeyAliases = Record<string, string>;

export interface WalkOptions {
  /** Per object path ('' for the root): wrong key → the right path to suggest. */
  aliases?: Record<string, KeyAliases>;
}

const join = (path: string, key: string | number) =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function article(word: string) {
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** "an integer from 0 to 25", "one of gen, hc", … phrased from the schema itself. */
function describeRule(schema: Schema): string {
  if (typeof schema['x-rule'] === 'string') return schema['x-rule'];
  if (schema.enum) return `one of ${schema.enum.join(', ')}`;
  if (schema.anyOf) return schema.anyOf.map(describeRule).join(' or ');
  const min = schema['minimum'] as number | undefined;
  const max = schema['maximum'] as number | undefined;
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const noun = article(schema.type);
      if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
      if (min !== undefined) return `${noun} of at least ${min}`;
      if (max !== undefined) return `${noun} of at most ${max}`;
      return noun;
    }
    case 'string': {
      const minLength = schema['minLength'] as number | undefined;
      const maxLength = schema['maxLength'] as number | undefined;
      if (minLength && maxLength) return `a string of ${minLength} to ${maxLength} characters`;
      if (minLength) return 'a non-empty string';
      if (maxLength) return `a string of at most ${maxLength} characters`;
      return 'a string';
    }
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    default:
      return 'a valid value';
  }
}

function leafRule(schema: Schema, value: unknown): string {
  if (schema.enum) return 'enum';
  const type = schema.type;
  if (type === 'integer' && typeof value === 'number' && !Number.isInteger(value)) return 'integer';
  if ((type === 'integer' || type === 'number') && typeof value === 'number') return 'range';
  if (type === 'string' && typeof value === 'string') {
    if (value.length === 0 || !/\S/.test(value)) return 'empty';
    if (schema['maxLength'] !== undefined && value.length > (schema['maxLength'] as number)) return 'length';
    return 'format';
  }
  return 'type';
}

function acceptsEpochSeconds(schema: Schema): boolean {
  if (schema.anyOf) return schema.anyOf.some(acceptsEpochSeconds);
  return schema.type === 'integer' && schema['maximum'] === 1e11 - 1;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function suggestion(
  key: string,
  path: string,
  known: string[],
  aliases: KeyAliases | undefined,
): string | undefined {
  // Own keys only: a field named `constructor` or `toString` is no alias.
  if (aliases && Object.hasOwn(aliases, key)) return aliases[key];
  const lower = key.toLowerCase();
  const exact = known.find((k) => k.toLowerCase() === lower);
  if (exact) return join(path, exact);
  if (aliases) {
    const alias = Object.keys(aliases).find((k) => k.toLowerCase() === lower);
    if (alias) return aliases[alias];
  }
  if (key.length < 4) return undefined;
  const near = known.find((k) => editDistance(k.toLowerCase(), lower) <= 2);
  return near ? join(path, near) : undefined;
}

/** Every schema violation in `value`, one issue per field. */
export function schemaIssues(schema: unknown, value: unknown, options: WalkOptions = {}, path = ''): Issue[] {
  const s = schema as Schema;
  const issues: Issue[] = [];
  const name = path || 'the body';
  if (s.type === 'object' && s.properties) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return [{ path, rule: 'type', message: `${name} must be a JSON object (got ${show(value)})` }];
    }
    const record = value as Record<string, unknown>;
    const known = Object.keys(s.properties);
    for (const key of Object.keys(record)) {
      if (Object.hasOwn(s.properties, key)) continue;
      const where = join(path, key);
      const hint = suggestion(key, path, known, options.aliases?.[path]);
      const ms = millisecondsHint(record[key]);
      let message = `${where} is not a known field`;
      if (hint) message += `: did you mean ${hint}?`;
      else message += ` (known: ${known.join(', ')})`;
      if (ms && hint) message += ` Also, ${ms}.`;
      issues.push({ path: where, rule: 'unknown', message });
    }
    for (const key of s.required ?? []) {
      if (record[key] === undefined) {
        issues.push({ path: join(path, key), rule: 'required', message: `${join(path, key)} is required` });
      }
    }
    for (const [key, child] of Object.entries(s.properties)) {
      if (record[key] !== undefined)
        issues.push(...schemaIssues(child, record[key], options, join(path, key)));
    }
    return issues;
  }
  if (s.type === 'array' && s.items) {
    if (!Array.isArray(value))
      return [{ path, rule: 'type', message: `${name} must be an array (got ${show(value)})` }];
    const minItems = s['minItems'] as number | undefined;
    const maxItems = s['maxItems'] as number | undefined;
    if (minItems !== undefined && value.length < minItems) {
      issues.push({ path, rule: 'count', message: `${name} must have at least ${minItems} item(s)` });
    }
    if (maxItems !== undefined && value.length > maxItems) {
      issues.push({
        path,
        rule: 'count',
        message: `${name} must have at most ${maxItems} items (got ${value.length})`,
      });
    }
    value.forEach((item, i) => {
      issues.push(...schemaIssues(s.items, item, options, join(path, i)));
    });
    return issues;
  }
  // Text is signed and stored as UTF-8, where a lone surrogate becomes U+FFFD: what was asked for
  // would not be what is kept (or what the link says), so such text is refused.
  if (typeof value === 'string' && /\p{Cs}/u.test(value)) {
    return [
      { path, rule: 'unicode', message: `${name} must be valid Unicode text (it holds a lone surrogate)` },
    ];
  }
  if (Value.Check(s, value)) return issues;
  const ms = acceptsEpochSeconds(s) ? millisecondsHint(value) : undefined;
  if (ms) return [{ path, rule: 'milliseconds', message: `${name}: ${ms}` }];
  const rule = leafRule(s, value);
  const verb = rule === 'empty' ? 'must not be blank; it must be' : 'must be';
  return [{ path, rule, message: `${name} ${verb} ${describeRule(s)} (got ${show(value)})` }];
}

/** Keys people put in the wrong place in joseencrypt bodies (Cisco's own sample says Nbf/Exp). */
const WIRE_ALIASES: Record<string, KeyAliases> = {
  '': { sub: 'jwt.sub', nbf: 'jwt.nbf', exp: 'jwt.exp', flow: 'jwt.flow', Nbf: 'jwt.nbf', Exp: 'jwt.exp' },
  jwt: { Nbf: 'jwt.nbf', Exp: 'jwt.exp', Sub: 'jwt.sub', Flow: 'jwt.flow' },
};

export interface WindowCheck {
  /** Epoch seconds of "now". */
  now: number;
  /** Refuse an exp already past (default true). Cancelling at Cisco sends exp 0 on purpose. */
  refusePastExpiry?: boolean;
}

/** Checks of the time window, shared by the wire and the friendly input. */
export function windowIssues(
  nbf: number | undefined,
  exp: number | undefined,
  names: { nbf: string; exp: string },
  check: WindowCheck,
): Issue[] {
  const issues: Issue[] = [];
  // A ttl counted from now or a start can pass every other check and still end past epoch seconds'
  // range (tokens refuse it as milliseconds): refused here, where the caller's field is known.
  if (exp !== undefined && !(exp < MILLISECONDS_THRESHOLD)) {
    issues.push({
      path: names.exp,
      rule: 'range',
      message: `${names.exp} ends too far in the future: the window must end before the year 5138`,
    });
    return issues;
  }
  if (nbf !== undefined && exp !== undefined && nbf >= exp) {
    issues.push({
      path: names.nbf,
      rule: 'order',
      message: `${names.nbf} (${isoSeconds(nbf)}) must be before ${names.exp} (${isoSeconds(exp)})`,
    });
  }
  if (exp !== undefined && check.refusePastExpiry !== false && exp <= check.now) {
    issues.push({
      path: names.exp,
      rule: 'past',
      message: `${names.exp} (${isoSeconds(exp)}) is in the past: links would never open`,
    });
  }
  return issues;
}

/** Every problem in a joseencrypt body; an empty list means valid. */
export function joseEncryptIssues(body: unknown, check: WindowCheck): Issue[] {
  const issues = schemaIssues(JoseEncryptRequest, body, { aliases: WIRE_ALIASES });
  if (issues.length > 0 || typeof body !== 'object' || body === null) return issues;
  const req = body as JoseEncryptRequest;
  issues.push(...windowIssues(req.jwt.nbf, req.jwt.exp, { nbf: 'jwt.nbf', exp: 'jwt.exp' }, check));
  const numHost = req.numHost ?? 1;
  const numGuest = req.numGuest ?? 1;
  if (numHost + numGuest > MAX_LINKS_PER_CALL) {
    issues.push({
      path: 'numHost',
      rule: 'total',
      message: `numHost + numGuest must be at most ${MAX_LINKS_PER_CALL} per call (got ${numHost + numGuest}); make several calls with the same jwt.sub, as the SDK does`,
    });
  }
  if (numHost + numGuest === 0) {
    issues.push({
      path: 'numHost',
      rule: 'total',
      message: 'numHost and numGuest are both 0: ask for at least one link',
    });
  }
  return issues;
}

export function validateJoseEncryptRequest(body: unknown, check: WindowCheck): JoseEncryptRequest {
  const issues = joseEncryptIssues(body, check);
  if (issues.length > 0) throw new ValidationError(issues);
  return body as JoseEncryptRequest;
}
