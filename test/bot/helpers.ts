/**
 * Helpers of the bot and trigger tests: a real server wired to the Webex emulator (bot token,
 * API base, webhook secret, fast jobs), deliveries signed as Webex signs them, the visits a person
 * made through the bot, and a transcript of everything the server and the CLI said, checked for
 * secrets at the end of each file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BotAccessOptions } from '../../src/bot/access.js';
import type { ServeOptions } from '../../src/main/serve.js';
import { eventually as poll } from '../support/eventually.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  type DeliveryAnswer,
  EMULATED_ACCESS,
  type EmulatedMessage,
  type EmulatedPerson,
  messageDelivery,
  type SentMessage,
  signedDelivery,
  startWebexEmulator,
  type WebexEmulator,
} from '../support/webex-emulator.js';
import { call, type HttpAnswer, type Visit } from '../visits/helpers.js';

/** Jobs as the brief's servers run them: a quick poll and a short lease. */
export const FAST_JOBS = { pollMs: 50, leaseSeconds: 2 } as const;

/** Everything the servers answered and the CLI printed in this file, checked for secrets at the end. */
const transcript: { what: string; text: string }[] = [];
/** Secrets that must never appear in the transcript (added as they are made). */
export const secrets = new Set<string>();

export function heard(what: string, text: string): void {
  transcript.push({ what, text });
}

/** No secret of this file (bot token, webhook secret, hook secrets, API keys) in anything heard. */
export function assertNoSecretHeard(): void {
  assert.ok(transcript.length > 0, 'nothing was heard: the secrets check would prove nothing');
  for (const secret of secrets) {
    assert.ok(secret.length >= 16, 'a secret too short to search for');
    for (const { what, text } of transcript) {
      assert.ok(!text.includes(secret), `${what} contains a secret: ${text.slice(0, 300)}`);
    }
  }
}

export interface BotHarness {
  emulator: WebexEmulator;
  server: TestServer;
  /** The webhook secret the server checks X-Spark-Signature with. */
  webhookSecret: string;
  /** POSTs a signed delivery to /hooks/webex and records the answer. */
  deliver(
    payload: unknown,
    options?: { signature?: string | null; secret?: string },
  ): Promise<DeliveryAnswer>;
  /** Seeds a message from `from` and delivers it (asserting 200); returns the message. */
  say(
    from: EmulatedPerson,
    text: string,
    options?: { roomType?: 'direct' | 'group'; roomId?: string; mentionBot?: boolean },
  ): Promise<EmulatedMessage>;
  close(): Promise<void>;
}

export async function startBotHarness(
  options: {
    jobs?: ServeOptions['jobs'];
    timeZone?: string;
    emulator?: WebexEmulator;
    /** Who may use the bot (default EMULATED_ACCESS: the emulator's @example.com people). */
    access?: BotAccessOptions;
    rateLimits?: ServeOptions['rateLimits'];
    /** "A patient is waiting" (default the server's). */
    alerts?: ServeOptions['alerts'];
  } = {},
): Promise<BotHarness> {
  const emulator = options.emulator ?? (await startWebexEmulator());
  const webhookSecret = randomBytes(20).toString('hex');
  const server = await startTestServer({
    webex: {
      token: emulator.token,
      apiUrl: emulator.apiUrl,
      webhookSecret,
      access: options.access ?? { allowedDomains: [...EMULATED_ACCESS.allowedDomains] },
    },
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.alerts ? { alerts: options.alerts } : {}),
    jobs: options.jobs ?? FAST_JOBS,
    ...(options.timeZone ? { timeZone: options.timeZone } : {}),
  });
  secrets.add(emulator.token);
  secrets.add(webhookSecret);
  secrets.add(server.key);
  const deliver: BotHarness['deliver'] = async (payload, o = {}) => {
    const answer = await signedDelivery(
      `${server.url}/hooks/webex`,
      o.secret ?? webhookSecret,
      payload,
      o.signature !== undefined ? { signature: o.signature } : {},
    );
    heard('POST /hooks/webex', answer.text);
    return answer;
  };
  return {
    emulator,
    server,
    webhookSecret,
    deliver,
    async say(from, text, o = {}) {
      const message = emulator.seedMessage({ from, text, ...o });
      const answer = await deliver(messageDelivery(message));
      assert.equal(answer.status, 200, answer.text);
      return message;
    },
    async close() {
      await server.close();
      if (!options.emulator) await emulator.close();
    },
  };
}

/** A delivery signed with `secret` to a server's POST /hooks/webex, recorded in the transcript. */
export async function signedDeliveryTo(
  server: TestServer,
  secret: string,
  payload: unknown,
): Promise<DeliveryAnswer> {
  const answer = await signedDelivery(`${server.url}/hooks/webex`, secret, payload);
  heard('POST /hooks/webex', answer.text);
  return answer;
}

/** A request to the server (visits API with the key unless `key` is null), recorded in the transcript. */
export async function request(
  server: TestServer,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; key?: string | null; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? server.key : options.key;
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  const body = options.raw ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const answer = await call(`${server.url}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  heard(`${method} ${path}`, answer.text);
  return answer;
}

/** Every visit of the organisation (any state), newest first as the API lists them. */
export async function allVisits(server: TestServer): Promise<Visit[]> {
  const items: Visit[] = [];
  for (let offset = 0; ; offset += 100) {
    const answer = await request(server, 'GET', `/api/visits?limit=100&offset=${offset}`);
    assert.equal(answer.status, 200, answer.text);
    items.push(...answer.body.items);
    if (answer.body.items.length < 100) return items;
  }
}

/** The visits a person made by talking to the bot. */
export async function visitsBy(server: TestServer, person: EmulatedPerson): Promise<Visit[]> {
  return (await allVisits(server)).filter((v) => v.createdBy === `bot:${person.id}`);
}

/** The link people open: the short URL when there is one. */
export const urlOf = (link: { shortUrl?: string; longUrl: string }) => link.shortUrl ?? link.longUrl;

/** Text of a sent message (markdown, or text). */
export const textOf = (m: SentMessage) => m.markdown ?? m.text ?? '';

/** Waits `ms` and asserts nothing more was sent matching `filter` than `count`. */
export async function assertStaysAt(
  emulator: WebexEmulator,
  filter: (m: SentMessage) => boolean,
  count: number,
  what: string,
  ms = 400,
): Promise<void> {
  await sleep(ms);
  const matching = emulator.sent.filter(filter);
  assert.equal(
    matching.length,
    count,
    `${what}: ${matching.length} message(s), expected ${count}: ${JSON.stringify(matching.map(textOf))}`,
  );
}

/** Polls `read` until `ok` holds of its value (bounded: 10000 ms unless told). */
export const eventually = <T>(
  read: () => T | Promise<T>,
  ok: (value: T) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<T> => poll(read, ok, what, timeoutMs);

/** Messages posted in a room (not 1:1). */
export const inRoom = (roomId: string) => (m: SentMessage) => m.roomId === roomId;
