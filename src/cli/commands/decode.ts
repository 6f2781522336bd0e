/** `instant-connect decode`: what a link is, its JWE header, and for local links its claims. */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isoSeconds } from '../../domain/time.js';
import { parseLink } from '../../domain/urls.js';
import { SQLITE_FILE } from '../../store/open.js';
import { CliError, databaseUrl, dataDir, whereData } from '../config.js';
import type { CliIo } from '../io.js';

export interface DecodeFlags {
  data?: string;
  database?: string;
  json?: boolean;
}

interface Report {
  form: string;
  origin?: string;
  vertical?: string;
  page?: string;
  short?: string;
  header?: Record<string, unknown>;
  saltLength?: number;
  local?: {
    found: boolean;
    role?: string;
    claims?: Record<string, unknown>;
    validity?: string;
    /** The recorded visit's state (scheduled, open, waiting, live, ended, no_show, expired, cancelled). */
    state?: string;
    reason?: string;
  };
}

function readHeader(cipher: string): Record<string, unknown> | undefined {
  try {
    const header = JSON.parse(Buffer.from(cipher.split('.')[0] ?? '', 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null ? header : undefined;
  } catch {
    return undefined;
  }
}

export async function run(link: string, flags: DecodeFlags, io: CliIo): Promise<number> {
  const parsed = parseLink(link);
  if (!parsed) throw new CliError('decode: give a long link, a short link or a cipher', 2);
  const report: Report = { form: parsed.form };
  for (const key of ['origin', 'vertical', 'page', 'short'] as const)
    if (parsed[key]) report[key] = parsed[key];
  let cipher = parsed.cipher;
  const database = databaseUrl(flags.database, io.env);
  const dir = whereData(dataDir(flags.data, io), database);
  const haveLocal = database !== undefined || existsSync(join(dataDir(flags.data, io), SQLITE_FILE));
  const { openBrokerContext } = await import('../../main/container.js');
  const ctx = haveLocal
    ? await openBrokerContext({
        dataDir: dataDir(flags.data, io),
        ...(database ? { databaseUrl: database } : {}),
        publicUrl: 'http://127.0.0.1',
      })
    : undefined;
  try {
    if (parsed.form === 'short' && parsed.short) {
      const stored = ctx ? await ctx.store.getShortLink(parsed.short) : undefined;
      if (stored) {
        cipher = stored.cipher;
        report.local = { found: true, role: stored.role };
      } else {
        report.local = {
          found: false,
          reason: `short code ${parsed.short} is not in the local broker's data (${dir})`,
        };
      }
    }
    if (cipher) {
      const header = readHeader(cipher);
      if (!header) throw new CliError('decode: the cipher has no readable JWE header', 2);
      report.header = header;
      if (typeof header['p2s'] === 'string')
        report.saltLength = Buffer.from(header['p2s'], 'base64url').length;
      if (ctx) {
        const { TokenError } = await import('../../errors.js');
        try {
          // Whatever the visit's state: a cancelled or ended visit's link is still shown.
          const inspected = await ctx.broker.inspect(cipher);
          const v = inspected.validity;
          const validity =
            v.kind === 'expired'
              ? `expired at ${isoSeconds(v.expiredAt)}`
              : v.kind === 'not-yet-valid'
                ? `not yet valid: opens at ${isoSeconds(v.notBefore)}`
                : 'valid';
          report.local = {
            ...report.local,
            found: true,
            claims: { ...inspected.claims },
            validity,
            ...(inspected.state ? { state: inspected.state } : {}),
          };
        } catch (err) {
          if (!(err instanceof TokenError)) throw err;
          report.local = {
            found: false,
            reason: `not a link of the local broker in ${dir}, or altered (${err.message})`,
          };
        }
      }
    }
  } finally {
    await ctx?.close();
  }
  // A short code is only a name in some broker's data: one that names nothing here is a failure.
  const exitCode = parsed.form === 'short' && !cipher ? 1 : 0;
  if (flags.json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return exitCode;
  }
  const lines = [`form:        ${report.form}${report.origin ? ` on ${report.origin}` : ''}`];
  if (report.vertical) lines.push(`page:        /${report.vertical}/v1/${report.page}`);
  if (report.short) lines.push(`short code:  ${report.short}`);
  const h = report.header;
  if (h) {
    lines.push(
      `alg / enc:   ${h['alg']} / ${h['enc']}`,
      `salt:        ${report.saltLength ?? '?'} bytes   iterations (p2c): ${h['p2c']}`,
      `iss:         ${h['iss']}`,
      `aud:         ${h['aud']}`,
    );
    if (h['kid']) lines.push(`kid:         ${h['kid']} (a token of this project's broker)`);
  }
  if (report.local?.claims) {
    const c = report.local.claims;
    lines.push(
      `subject:     ${c['sub']}`,
      `role:        ${c['role']}`,
      `window:      ${c['nbf'] !== undefined ? isoSeconds(c['nbf'] as number) : 'from issue'} → ${isoSeconds(c['exp'] as number)}`,
    );
    if (c['flow']) lines.push(`devices:     ${JSON.stringify(c['flow'])}`);
  }
  if (report.local?.validity) lines.push(`validity:    ${report.local.validity}`);
  if (report.local?.state) lines.push(`state:       ${report.local.state} (the visit)`);
  if (report.local?.reason) lines.push(`local:       ${report.local.reason}`);
  if (!ctx && cipher)
    lines.push(
      `local:       no local broker data in ${dir}: claims of Cisco's tokens cannot be read by anyone but Cisco`,
    );
  io.stdout.write(`${lines.join('\n')}\n`);
  return exitCode;
}
