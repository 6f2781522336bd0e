/** `instant-connect whoami`: is this Webex token good, whose is it, and what can it do. */

import { webexApiBase } from '../../main/settings.js';
import { CliError } from '../config.js';
import { findToken, type TokenFlags } from '../credentials.js';
import type { CliIo } from '../io.js';

export interface WhoamiFlags extends TokenFlags {
  broker?: string;
  apiUrl?: string;
  json?: boolean;
}

interface Person {
  id?: string;
  emails?: string[];
  displayName?: string;
  orgId?: string;
  type?: 'person' | 'bot' | 'appuser';
  created?: string;
}

/** Webex ids are base64 of `ciscospark://us/ORGANIZATION/<uuid>`: show the uuid (the `iss` of links). */
export function decodeWebexId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const text = Buffer.from(id, 'base64').toString('utf8');
  return /^ciscospark:\/\//.test(text) ? text.split('/').pop() : undefined;
}

export async function run(flags: WhoamiFlags, io: CliIo): Promise<void> {
  const token = findToken(flags, io);
  if (!token)
    throw new CliError('no token: put WEBEX_TOKEN in .env or the environment, or use --token-file FILE', 2);
  const base = webexApiBase(flags, io.env);
  const { HttpClient } = await import('../../client/http.js');
  const { HttpError } = await import('../../errors.js');
  const http = new HttpClient(token, {
    userAgent: 'instant-connect-cli',
    retry: { retries: 2 },
    timeoutMs: 15_000,
  });
  let me: Person;
  try {
    me = (await http.request<Person>('GET', `${base}/people/me`)).body;
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) {
      throw new CliError(
        `the token was refused by ${base} (401): it is invalid or expired. Personal access tokens last 12 hours; bot tokens last 100 years but end when regenerated.${err.trackingId ? ` [trackingId ${err.trackingId}]` : ''}`,
      );
    }
    throw err;
  }
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify({ apiUrl: base, ...me, orgUuid: decodeWebexId(me.orgId) }, null, 2)}\n`,
    );
    return;
  }
  const kind =
    me.type === 'bot'
      ? 'a bot token: lasts 100 years, right for production'
      : me.type === 'appuser'
        ? 'a service-app token'
        : 'a personal access token: lasts 12 hours, for development; use a bot token in production';
  const lines = [
    `Token OK at ${base}`,
    `  who:   ${me.displayName ?? '?'} <${(me.emails ?? []).join(', ')}>`,
    `  type:  ${me.type ?? 'unknown'} (${kind})`,
    `  org:   ${decodeWebexId(me.orgId) ?? me.orgId ?? '?'} (the iss of the links it makes)`,
    '  can:   make Instant Connect links (POST /api/v2/joseencrypt) once an admin has activated Instant Connect for the org',
  ];
  if (me.type === 'bot') {
    lines.push('         send messages and receive webhooks (in group spaces only when mentioned)');
  }
  io.stdout.write(`${lines.join('\n')}\n`);
}
