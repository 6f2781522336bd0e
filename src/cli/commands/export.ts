/**
 * `instant-connect export postman|openapi`: the API description for other tools. Postman gets a
 * collection and an environment (`mtg-broker-url`, `bot-token`), as the Instant Connect lab names them.
 */

import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveEnvironment } from '../../domain/urls.js';
import { CliError, DEFAULT_HOST, DEFAULT_PORT } from '../config.js';
import type { CliEnv, CliIo } from '../io.js';

export interface ExportPostmanFlags {
  out?: string;
  environmentOut?: string;
  broker?: string;
}

/** `ic.postman.json` → `ic.postman.environment.json`: the environment next to the collection. */
export function environmentPathFor(out: string): string {
  return `${out.replace(/\.json$/i, '')}.environment.json`;
}

/** The collection's file name when `--out` is a directory. */
export const COLLECTION_FILE = 'instant-connect.postman.json';

/**
 * `--out DIR` (an existing directory, or a path ending in `/`, made if missing) writes
 * DIR/instant-connect.postman.json; anything else names the file.
 */
export function collectionPathFor(out: string, cwd: string): string {
  let directory = /[/\\]$/.test(out);
  if (directory) {
    try {
      mkdirSync(resolve(cwd, out), { recursive: true });
    } catch (err) {
      throw new CliError(`cannot make the directory ${out}: ${(err as Error).message}`);
    }
  }
  try {
    directory ||= statSync(resolve(cwd, out)).isDirectory();
  } catch {}
  return directory ? join(out, COLLECTION_FILE) : out;
}

const NAMED_BROKERS = new Set(['local', 'commercial', 'usgov']);

/** `local` (this server: PUBLIC_URL, else http://127.0.0.1:PORT), `commercial`, `usgov` or a URL. */
export function brokerUrlOf(where: string | undefined, env: CliEnv): string {
  const broker = where ?? 'local';
  if (broker === 'local') {
    const own = env['PUBLIC_URL'] ?? `http://${DEFAULT_HOST}:${env['PORT'] ?? DEFAULT_PORT}`;
    return own.replace(/\/+$/, '');
  }
  try {
    return resolveEnvironment(broker).brokerUrl;
  } catch (err) {
    throw new CliError(`--broker: ${(err as Error).message.replace(/^broker /, '')}`, 2);
  }
}

function write(cwd: string, path: string, value: unknown, what: string): void {
  try {
    writeFileSync(resolve(cwd, path), `${JSON.stringify(value, null, 2)}\n`);
  } catch (err) {
    throw new CliError(`cannot write the ${what} to ${path}: ${(err as Error).message}`);
  }
}

export async function postman(flags: ExportPostmanFlags, io: CliIo): Promise<void> {
  const { buildOpenApiDocument } = await import('../../openapi/document.js');
  const { postmanCollection, postmanEnvironment } = await import('../../openapi/postman.js');
  const doc = buildOpenApiDocument();
  const broker = flags.broker ?? 'local';
  const options = {
    brokerUrl: brokerUrlOf(broker, io.env),
    ...(NAMED_BROKERS.has(broker) ? { brokerName: broker } : {}),
  };
  const collection = postmanCollection(doc, options);
  const environment = postmanEnvironment(doc, options);
  const out = flags.out === undefined ? undefined : collectionPathFor(flags.out, io.cwd);
  const environmentOut = flags.environmentOut ?? (out ? environmentPathFor(out) : undefined);
  if (out) {
    write(io.cwd, out, collection, 'collection');
    io.stderr.write(`Wrote the Postman collection to ${out}\n`);
  } else io.stdout.write(`${JSON.stringify(collection, null, 2)}\n`);
  if (environmentOut) {
    write(io.cwd, environmentOut, environment, 'environment');
    io.stderr.write(
      `Wrote the Postman environment to ${environmentOut}: set bot-token in Postman (an API key, or a Webex bot token at Cisco)\n`,
    );
  }
}

export async function openapi(flags: { out?: string; publicUrl?: string }, io: CliIo): Promise<void> {
  const { buildOpenApiDocument } = await import('../../openapi/document.js');
  const doc = buildOpenApiDocument(flags.publicUrl ? { serverUrl: flags.publicUrl.replace(/\/+$/, '') } : {});
  if (flags.out) {
    write(io.cwd, flags.out, doc, 'OpenAPI document');
    io.stderr.write(`Wrote the OpenAPI document to ${flags.out}\n`);
  } else io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}
