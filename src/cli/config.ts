/** Options shared by commands, resolved from flags, then the environment, then defaults. */
import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { parseDatabaseUrl } from '../main/settings.js';
import type { CliEnv } from './io.js';

export { DEFAULT_HOST, DEFAULT_PORT } from '../main/settings.js';

const DEFAULT_DATA_DIR = './data';

export function dataDir(flag: string | undefined, io: { env: CliEnv; cwd: string }): string {
  return resolve(io.cwd, flag ?? io.env['DATA_DIR'] ?? DEFAULT_DATA_DIR);
}

/**
 * The PostgreSQL URL from --database or DATABASE_URL; undefined for the embedded database.
 * Errors name the option, never its value (it holds a password).
 */
export function databaseUrl(flag: string | undefined, env: CliEnv): string | undefined {
  return parseDatabaseUrl(flag ?? env['DATABASE_URL']);
}

/** Where the data is, for messages: the data directory, or PostgreSQL's host and database (no credentials). */
export function whereData(dir: string, url: string | undefined): string {
  if (!url) return dir;
  try {
    const u = new URL(url);
    return `PostgreSQL ${u.host}${u.pathname}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new InvalidArgumentError('must be a port number from 0 to 65535');
  return port;
}

export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

/** Loads ./.env into process.env without overriding what is already set (the bin's job, before runCli). */
export function loadDotEnv(): void {
  try {
    process.loadEnvFile('.env');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Prints one line to stderr, and an error exit code to go with it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
