/**
 * Where the CLI finds a token: `--token-file`, then `WEBEX_TOKEN` (the environment or ./.env).
 * `--token` works but warns: a token typed on the command line lands in shell history.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError } from './config.js';
import type { CliIo } from './io.js';

export interface TokenFlags {
  token?: string;
  tokenFile?: string;
}

export function findToken(
  flags: TokenFlags,
  io: CliIo,
  envNames: string[] = ['WEBEX_TOKEN'],
): string | undefined {
  if (flags.token !== undefined) {
    io.stderr.write(
      'warning: --token puts the token in your shell history and process list; prefer --token-file or WEBEX_TOKEN in .env\n',
    );
    return flags.token.trim() || undefined;
  }
  if (flags.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(resolve(io.cwd, flags.tokenFile), 'utf8');
    } catch (err) {
      throw new CliError(
        `--token-file: cannot read ${flags.tokenFile} (${(err as NodeJS.ErrnoException).code})`,
        2,
      );
    }
    const token = text.trim();
    if (!token) throw new CliError(`--token-file: ${flags.tokenFile} is empty`, 2);
    return token;
  }
  for (const name of envNames) {
    const value = io.env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}
