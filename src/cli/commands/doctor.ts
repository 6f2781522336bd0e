/**
 * `instant-connect doctor`: what is wrong before a visit fails. Each check says ok, warn, fail or
 * skip with the reason and the fix; the Instant Connect prerequisites no API can check come as a
 * checklist. Exits 1 when a check fails. Reads only: it creates and migrates nothing.
 */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIENCE } from '../../domain/constants.js';
import { nowSeconds } from '../../domain/time.js';
import { ENVIRONMENTS, resolveEnvironment } from '../../domain/urls.js';
import { webexApiBase } from '../../main/settings.js';
import { SQLITE_FILE } from '../../store/open.js';
import { CliError, DEFAULT_PORT, databaseUrl, dataDir, whereData } from '../config.js';
import { findToken, type TokenFlags } from '../credentials.js';
import type { CliIo } from '../io.js';
import { decodeWebexId } from './whoami.js';

export interface DoctorFlags extends TokenFlags {
  broker?: string;
  apiUrl?: string;
  publicUrl?: string;
  data?: string;
  database?: string;
  json?: boolean;
}

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip' | 'todo';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it. */
  fix?: string;
}

const TIMEOUT_MS = 10_000;

async function httpClient(token: string) {
  const { HttpClient } = await import('../../client/http.js');
  return new HttpClient(token, {
    userAgent: 'instant-connect-doctor',
    retry: { retries: 0 },
    timeoutMs: TIMEOUT_MS,
  });
}

async function checkToken(token: string | undefined, broker: string, apiUrl: string): Promise<Check> {
  const name = 'token';
  if (!token) {
    return broker === 'local'
      ? {
          name,
          status: 'skip',
          detail: 'no WEBEX_TOKEN: the local broker needs none (the bot and Cisco’s brokers do)',
        }
      : {
          name,
          status: 'fail',
          detail: `the ${broker} broker needs a token and none was found`,
          fix: 'put WEBEX_TOKEN in .env or the environment, or pass --token-file FILE',
        };
  }
  const { HttpError } = await import('../../errors.js');
  try {
    const me = (
      await (
        await httpClient(token)
      ).request<{ type?: string; displayName?: string; orgId?: string; emails?: string[] }>(
        'GET',
        `${apiUrl}/people/me`,
      )
    ).body;
    const org = decodeWebexId(me.orgId) ?? me.orgId ?? '?';
    const who = `${me.displayName ?? '?'} <${(me.emails ?? []).join(', ')}>, org ${org}`;
    if (me.type === 'bot') return { name, status: 'ok', detail: `a bot token (${who}) at ${apiUrl}` };
    return {
      name,
      status: 'warn',
      detail: `a ${me.type === 'appuser' ? 'service-app' : 'personal'} token (${who}) at ${apiUrl}: it expires within hours`,
      fix: 'use a bot token in production (developer.webex.com → My Webex Apps → Create a Bot)',
    };
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) {
      return {
        name,
        status: 'fail',
        detail: `${apiUrl} refused the token (401): invalid or expired${err.trackingId ? ` [trackingId ${err.trackingId}]` : ''}`,
        fix: 'personal tokens last 12 hours; a bot token lasts until it is regenerated',
      };
    }
    return { name, status: 'fail', detail: `GET ${apiUrl}/people/me: ${(err as Error).message}` };
  }
}

/** A minimal joseencrypt, as the lab's first call: one host and one guest link for 5 minutes. */
async function checkBroker(token: string | undefined, broker: string): Promise<Check> {
  const name = 'broker';
  if (broker === 'local') {
    return { name, status: 'ok', detail: 'the local broker issues in-process from the data directory' };
  }
  let url: string;
  try {
    url = resolveEnvironment(broker).brokerUrl;
  } catch (err) {
    return { name, status: 'fail', detail: `--broker: ${(err as Error).message}` };
  }
  if (!token) return { name, status: 'skip', detail: `no token to call ${url} with` };
  const body = {
    aud: AUDIENCE,
    jwt: {
      sub: `instant-connect-doctor-${randomBytes(6).toString('hex')}`,
      exp: nowSeconds() + 300,
    },
    numHost: 1,
    numGuest: 1,
  };
  const { HttpError } = await import('../../errors.js');
  try {
    const answer = await (await httpClient(token)).request<{ host?: unknown[]; guest?: unknown[] }>(
      'POST',
      `${url}/api/v2/joseencrypt`,
      { body },
    );
    const links = (answer.body.host?.length ?? 0) + (answer.body.guest?.length ?? 0);
    if (links !== 2)
      return { name, status: 'fail', detail: `${url} answered 200 without the two links asked for` };
    return {
      name,
      status: answer.trackingId ? 'ok' : 'warn',
      detail: `${url} made a host and a guest link${answer.trackingId ? ` [trackingId ${answer.trackingId}]` : ', but sent no TrackingID'}`,
    };
  } catch (err) {
    if (err instanceof HttpError) {
      const where = `${url} answered ${err.status}${err.trackingId ? ` [trackingId ${err.trackingId}]` : ''}`;
      const fix =
        err.status === 401
          ? 'the broker refused the token: check WEBEX_TOKEN (or the API key for this project’s broker)'
          : err.status === 403
            ? 'Instant Connect may not be activated for this organisation: see the checklist below'
            : undefined;
      return { name, status: 'fail', detail: `${where}: ${err.message}`, ...(fix ? { fix } : {}) };
    }
    return { name, status: 'fail', detail: (err as Error).message };
  }
}

async function checkPublicUrl(publicUrl: string): Promise<Check> {
  const name = 'public-url';
  const { networkCause } = await import('../../client/http.js');
  try {
    const res = await fetch(`${publicUrl}/readyz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const json = (await res.json().catch(() => undefined)) as { status?: string; store?: string } | undefined;
    if (res.status === 200 && json?.status === 'ready') {
      return { name, status: 'ok', detail: `${publicUrl} answers: instant-connect, ready, on ${json.store}` };
    }
    if (res.status === 503 && json?.status === 'unavailable') {
      return {
        name,
        status: 'fail',
        detail: `${publicUrl} answers, but its database does not (${json.store})`,
        fix: 'check DATABASE_URL and that PostgreSQL runs',
      };
    }
    return {
      name,
      status: 'fail',
      detail: `${publicUrl}/readyz answered ${res.status}: something else than instant-connect serve is there`,
      fix: 'PUBLIC_URL must be the origin where "instant-connect serve" is reached (links point there)',
    };
  } catch (err) {
    return {
      name,
      status: 'fail',
      detail: `${publicUrl}/readyz: ${networkCause(err)}`,
      fix: 'start "instant-connect serve", or set PUBLIC_URL (--public-url) to where it is reached',
    };
  }
}

async function checkDatabase(dir: string, database: string | undefined): Promise<Check> {
  const name = 'database';
  const where = whereData(dir, database);
  if (!database && !existsSync(join(dir, SQLITE_FILE))) {
    return {
      name,
      status: 'warn',
      detail: `no database in ${where} yet`,
      fix: '"instant-connect serve" creates it on first start (or give --data / DATA_DIR)',
    };
  }
  const { openStore } = await import('../../store/open.js');
  let store: Awaited<ReturnType<typeof openStore>> | undefined;
  try {
    store = await openStore({ dataDir: dir, ...(database ? { databaseUrl: database } : {}), migrate: false });
    const { applied, latest } = await store.schemaStatus();
    if (applied > latest) {
      return {
        name,
        status: 'fail',
        detail: `${where} is at schema ${applied}, newer than this version of instant-connect knows (${latest})`,
        fix: 'upgrade instant-connect to the version that wrote it (never run an older version on it)',
      };
    }
    if (applied < latest) {
      return {
        name,
        status: 'warn',
        detail: `${where} is at schema ${applied} of ${latest}: ${latest - applied} migration(s) pending`,
        fix: '"instant-connect serve" applies them at start (back up first: instant-connect backup)',
      };
    }
    return { name, status: 'ok', detail: `${where} (${store.kind}), schema ${applied}, migrations in order` };
  } catch (err) {
    return { name, status: 'fail', detail: `${where}: ${(err as Error).message}` };
  } finally {
    await store?.close();
  }
}

/** The Instant Connect prerequisites no API can check, with where to do each. */
export function prerequisites(broker: string): Check[] {
  if (broker === 'local') return [];
  const site = broker === 'usgov' ? 'https://instant-usgov.webex.com' : 'https://instant.webex.com';
  return [
    {
      name: 'activation',
      status: 'todo',
      detail: 'Instant Connect is activated for the organisation (once, by an admin)',
      fix: `${site}/integrate/ → Activate Instant Connect`,
    },
    {
      name: 'guest-to-guest site',
      status: 'todo',
      detail: 'a Guest-to-Guest meeting site, with the "Instant Connect Service App" authorised for it',
      fix: 'Control Hub (https://admin.webex.com) → Apps → Service Apps → Instant Connect → Authorize, then choose the site',
    },
    {
      name: 'sms invitations',
      status: 'todo',
      detail: 'only to invite guests by text message: the "Invite Guest by Text Message" toggle',
      fix: `${site} → Feature Customization`,
    },
    {
      name: 'appearance',
      status: 'todo',
      detail: 'the organisation’s name, logo and the labels for host and guest on Instant Connect’s pages',
      fix: `${site} → Appearance`,
    },
  ];
}

const MARK: Record<CheckStatus, string> = {
  ok: 'ok  ',
  warn: 'warn',
  fail: 'FAIL',
  skip: 'skip',
  todo: '[ ] ',
};

export async function run(flags: DoctorFlags, io: CliIo): Promise<number> {
  const token = findToken(flags, io, ['WEBEX_TOKEN']);
  const broker = flags.broker ?? io.env['BROKER'] ?? (token ? 'commercial' : 'local');
  if (broker !== 'local' && !(broker in ENVIRONMENTS) && !/^https?:\/\//i.test(broker)) {
    throw new CliError('--broker must be local, commercial, usgov or an http(s) URL', 2);
  }
  const apiUrl = webexApiBase({ ...(flags.apiUrl ? { apiUrl: flags.apiUrl } : {}), broker }, io.env);
  const publicUrl = (
    flags.publicUrl ??
    io.env['PUBLIC_URL'] ??
    `http://127.0.0.1:${io.env['PORT'] ?? DEFAULT_PORT}`
  ).replace(/\/+$/, '');
  const dir = dataDir(flags.data, io);
  const database = databaseUrl(flags.database, io.env);
  const checks = await Promise.all([
    checkToken(token, broker, apiUrl),
    checkBroker(token, broker),
    checkPublicUrl(publicUrl),
    checkDatabase(dir, database),
  ]);
  checks.push(...prerequisites(broker));
  const failed = checks.filter((c) => c.status === 'fail').length;
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ ok: failed === 0, broker, checks }, null, 2)}\n`);
  } else {
    const width = Math.max(...checks.map((c) => c.name.length));
    const lines = checks.map((c) => {
      const head = `${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`;
      return c.fix ? `${head}\n${' '.repeat(width + 8)}→ ${c.fix}` : head;
    });
    const todo = checks.some((c) => c.status === 'todo')
      ? '\n[ ] are the prerequisites no API can check: confirm each once with your Webex admin.'
      : '';
    io.stdout.write(
      `${lines.join('\n')}\n${todo}\n${failed === 0 ? 'No check failed.' : `${failed} check(s) failed.`}\n`,
    );
  }
  return failed > 0 ? 1 : 0;
}
