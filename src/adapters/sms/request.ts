/**
 * One request of an SMS provider, over an injectable `fetch`, with a timeout and the caller's
 * signal; its failures as ChannelErrors: the network, a timeout, 429 and 5xx may be retried (after
 * Retry-After when the provider says so); any other 4xx is permanent. Nothing here retries: the
 * job that sends decides. No credential ever reaches an error message: `secrets` are redacted
 * from whatever the provider answered, and phone numbers are masked.
 */
import { ChannelError } from '../../errors.js';
import { redact } from '../../util/redact.js';

export type Fetch = typeof fetch;

export interface ProviderAnswer {
  status: number;
  /** The JSON body, or undefined when the body is not JSON. */
  json: Record<string, unknown> | undefined;
}

/** Seconds of a Retry-After header (delta-seconds or an HTTP date), capped at an hour. */
function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value.trim()) : (Date.parse(value) - now) / 1000;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(3600, Math.max(0, Math.ceil(seconds)));
}

/** Phone numbers in a provider's words, masked (`+14155550100` → `+14…00`). */
function maskNumbers(text: string): string {
  return text.replace(/\+?\d{7,15}/g, (n) => `${n.slice(0, 3)}…${n.slice(-2)}`);
}

export async function providerRequest(options: {
  /** The provider's name in messages (`Twilio`). */
  label: string;
  fetch: Fetch;
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal?: AbortSignal;
  secrets: readonly (string | undefined)[];
  /** The provider's own words about a failure, from its JSON error body. */
  describe?: (json: Record<string, unknown>) => { detail: string; permanent?: boolean } | undefined;
}): Promise<ProviderAnswer> {
  const clean = (text: string) => maskNumbers(redact(text, options.secrets)).slice(0, 300);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await options.fetch(options.url, {
      method: 'POST',
      headers: options.headers,
      body: options.body,
      signal,
      redirect: 'error',
    });
  } catch (err) {
    if (options.signal?.aborted)
      throw new ChannelError(`${options.label}: the send was aborted`, { permanent: false });
    const why = timeout.aborted
      ? `no answer within ${options.timeoutMs} ms`
      : clean(String((err as Error).message));
    throw new ChannelError(`${options.label} could not be reached: ${why}`, { permanent: false });
  }
  const text = await response.text().catch(() => '');
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  if (response.ok) return { status: response.status, json };
  const described = json && options.describe?.(json);
  const detail = clean(described?.detail ?? (text || response.statusText));
  const message = `${options.label} answered ${response.status}${detail ? `: ${detail}` : ''}`;
  if (response.status === 429) {
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    throw new ChannelError(message, {
      permanent: false,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }
  if (response.status >= 500 || response.status === 408) {
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    throw new ChannelError(message, {
      permanent: false,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    });
  }
  throw new ChannelError(message, { permanent: described?.permanent ?? true });
}
