/** How `links` prints: a table for people, CSV and JSON for programs, one field for scripts. */
import type { Role } from '../domain/constants.js';
import type { ResolvedLinkRequest } from '../domain/input.js';
import { type Link, type LinkResult, linkResult } from '../domain/links.js';
import { localDateTime } from '../domain/local-time.js';
import { isoSeconds } from '../domain/time.js';
import { CliError } from './config.js';
import type { CliEnv, CliOutput } from './io.js';

export function useColor(stream: CliOutput, env: CliEnv): boolean {
  return !!stream.isTTY && env['NO_COLOR'] === undefined && env['TERM'] !== 'dumb';
}

const paint = (on: boolean, code: string, text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text);

const allLinks = (r: LinkResult): Link[] => [...r.hosts, ...r.guests];

export interface TableOptions {
  color: boolean;
  /** Also show the window in this zone (the CLI's --tz). */
  timeZone?: string;
  /** Shorten long URLs to this many characters (on a terminal, where a 1,300-character URL is a wall). */
  maxUrl?: number;
}

/** A URL cut to `max` characters with an ellipsis; the whole text is in --json and --csv. */
function shortenUrl(url: string, max: number): string {
  return url.length <= max ? url : `${url.slice(0, Math.max(1, max - 1))}…`;
}

export function formatTable(result: LinkResult, options: TableOptions): string {
  const { color, timeZone, maxUrl } = options;
  const local = (seconds: number) => localDateTime(seconds * 1000, timeZone).replace('T', ' ');
  const utc = `${result.notBefore !== undefined ? isoSeconds(result.notBefore) : 'now'} → ${isoSeconds(result.expiresAt)}`;
  const window = timeZone
    ? `${result.notBefore !== undefined ? local(result.notBefore) : 'now'} → ${local(result.expiresAt)} ${timeZone} (${utc})`
    : utc;
  const lines = [
    `${paint(color, '1', 'Subject')}  ${result.subject}${result.subjectGenerated ? ' (generated: the same subject is the same meeting)' : ''}`,
    `${paint(color, '1', 'Valid')}    ${window}`,
    '',
  ];
  const long = (url: string) => (maxUrl ? shortenUrl(url, maxUrl) : url);
  const rows = allLinks(result).map((l) => [`${l.role} ${l.index + 1}`, l.shortUrl ?? '-', long(l.longUrl)]);
  const header = ['ROLE', 'SHORT URL', 'LONG URL'];
  const widths = [0, 1].map((i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[], isHost = false) => {
    const role = r[0]!.padEnd(widths[0]!);
    return `${paint(color && isHost, '1;36', role)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]}`;
  };
  lines.push(paint(color, '2', line(header).trimEnd()));
  allLinks(result).forEach((l, i) => {
    lines.push(line(rows[i]!, l.role === 'host'));
  });
  if (maxUrl && allLinks(result).some((l) => l.longUrl.length > maxUrl)) {
    lines.push('', paint(color, '2', 'Long URLs are shortened here: --json or --csv print them whole.'));
  }
  return `${lines.join('\n')}\n`;
}

/** Rows as columns padded to their widest cell, two spaces apart (the first row is the header). */
export function formatColumns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        `${r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

const csvCell = (v: string | number | undefined) => {
  const s = v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

export function formatCsv(result: LinkResult): string {
  const header = [
    'subject',
    'role',
    'index',
    'shortUrl',
    'longUrl',
    'forcedLoginUrl',
    'cipher',
    'notBefore',
    'expiresAt',
  ];
  const rows = allLinks(result).map((l) =>
    [
      result.subject,
      l.role,
      l.index,
      l.shortUrl,
      l.longUrl,
      l.forcedLoginUrl,
      l.cipher,
      result.notBefore !== undefined ? isoSeconds(result.notBefore) : '',
      isoSeconds(result.expiresAt),
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

/** `guests.0.shortUrl` → that value: strings raw, anything else as JSON. */
export function pickField(value: unknown, path: string): string {
  let current: unknown = value;
  for (const part of path.split('.').filter(Boolean)) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) {
      throw new CliError(
        `--field: the result has no ${JSON.stringify(path)} (stopped at ${JSON.stringify(part)})`,
        2,
      );
    }
    current = (current as Record<string, unknown>)[part];
  }
  return typeof current === 'string' ? current : JSON.stringify(current, null, 2);
}

/**
 * The shape of the result a request will have, every value a placeholder: `--field` is checked
 * against it before any link is made, so a typo costs nothing.
 */
export function resultShape(request: ResolvedLinkRequest): LinkResult {
  const link = (role: Role, index: number): Link => ({
    role,
    index,
    cipher: '',
    ...(request.shortUrls ? { short: '', shortUrl: '' } : {}),
    longUrl: '',
    ...(role === 'host' ? { forcedLoginUrl: '' } : {}),
  });
  return linkResult(request, { name: 'custom', brokerUrl: '' }, 0, {
    hosts: Array.from({ length: request.hosts }, (_, i) => link('host', i)),
    guests: Array.from({ length: request.guests }, (_, i) => link('guest', i)),
    ...(request.shortUrls ? { baseUrl: '' } : {}),
  });
}

/** A one-line progress bar on stderr, only on a terminal and only for several calls. */
export function progressBar(stream: CliOutput): ((done: number, total: number) => void) | undefined {
  if (!stream.isTTY) return undefined;
  return (done, total) => {
    if (total < 2) return;
    const width = 24;
    const filled = Math.round((done / total) * width);
    stream.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} calls`);
    if (done === total) stream.write('\n');
  };
}
