/** `instant-connect links`: make host and guest links from the local broker or Cisco's clouds. */

import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { LinkResult } from '../../client/instant-connect.js';
import { resolveLinkInput } from '../../domain/input.js';
import { clockMeansTomorrow, localDateTime } from '../../domain/local-time.js';
import { nowSeconds } from '../../domain/time.js';
import { ValidationError } from '../../errors.js';
import { CliError, DEFAULT_PORT, databaseUrl, dataDir, whereData } from '../config.js';
import { findToken, type TokenFlags } from '../credentials.js';
import type { CliIo } from '../io.js';
import { asOptionIssue, type LinkFlags, localTimeZone, toLinkInput } from '../link-options.js';
import { formatCsv, formatTable, pickField, progressBar, resultShape, useColor } from '../output.js';

export interface LinksFlags extends LinkFlags, TokenFlags {
  broker?: string;
  data?: string;
  database?: string;
  json?: boolean;
  csv?: boolean;
  field?: string;
  qr?: boolean;
  qrPng?: string;
}

function optionError(err: ValidationError): CliError {
  return new CliError(err.issues.map((i) => asOptionIssue(i).message).join('\n       '), 2);
}

export async function run(flags: LinksFlags, io: CliIo): Promise<void> {
  const formats = [flags.json, flags.csv, flags.field !== undefined].filter(Boolean).length;
  if (formats > 1) throw new CliError('choose one of --json, --csv and --field', 2);
  const now = nowSeconds();
  let input: ReturnType<typeof toLinkInput>;
  try {
    input = toLinkInput(flags, now);
    // Every problem is reported before any store or network is touched, --field's path too.
    const request = resolveLinkInput(input, { now });
    if (flags.field !== undefined) pickField(resultShape(request), flags.field);
  } catch (err) {
    if (err instanceof ValidationError) throw optionError(err);
    throw err;
  }
  const token = findToken(flags, io, ['WEBEX_TOKEN']);
  const broker = flags.broker ?? io.env['BROKER'] ?? (token ? 'commercial' : 'local');
  const { InstantConnect } = await import('../../client/instant-connect.js');
  const onProgress = progressBar(io.stderr);
  let result: LinkResult;
  let close: (() => Promise<void>) | undefined;
  let note: string | undefined;
  try {
    let sdk: InstanceType<typeof InstantConnect>;
    if (broker === 'local') {
      const publicUrl = (
        io.env['PUBLIC_URL'] ?? `http://127.0.0.1:${io.env['PORT'] ?? DEFAULT_PORT}`
      ).replace(/\/+$/, '');
      const [{ defaultCryptoConcurrency, openBrokerContext }, { localBrokerFetch }] = await Promise.all([
        import('../../main/container.js'),
        import('../../broker/local-transport.js'),
      ]);
      const dir = dataDir(flags.data, io);
      const database = databaseUrl(flags.database, io.env);
      const ctx = await openBrokerContext({
        dataDir: dir,
        ...(database ? { databaseUrl: database } : {}),
        publicUrl,
        crypto: { concurrency: defaultCryptoConcurrency(io.env) },
      });
      close = ctx.close;
      sdk = new InstantConnect({
        broker: publicUrl,
        token: 'local',
        // In-process batches share one PBKDF2 pool: one at a time keeps them recorded in order.
        concurrency: 1,
        // Recorded as a visit of its subject, like every link of the local broker.
        fetch: localBrokerFetch(ctx.broker, ctx.org, (issued) =>
          ctx.visits.recordIssued(ctx.org, 'cli', issued, publicUrl),
        ),
      });
      note = `Local broker: links issued into ${whereData(dir, database)}; they open while "instant-connect serve" runs at ${publicUrl}.\n`;
    } else {
      if (!token) {
        const cisco = broker === 'commercial' || broker === 'usgov';
        throw new CliError(
          cisco
            ? `the ${broker} broker needs a Webex bot token: put WEBEX_TOKEN in .env or the environment, or use --token-file FILE (or --broker local)`
            : `the broker at ${broker} needs a credential: an API key of this project's broker ("instant-connect keys create --name cli" where it runs), or a Webex token for one of Cisco's; pass it with --token-file FILE or WEBEX_TOKEN (or use --broker local)`,
          2,
        );
      }
      try {
        sdk = new InstantConnect({ broker, token });
      } catch (err) {
        throw new CliError(`--broker: ${(err as Error).message}`, 2);
      }
    }
    result = await sdk.createLinks(input, onProgress ? { onProgress } : {});
  } catch (err) {
    if (err instanceof ValidationError) throw optionError(err);
    throw err;
  } finally {
    await close?.();
  }
  if (note) io.stderr.write(note);
  const timeZone = flags.tz ?? localTimeZone();
  if (
    flags.start &&
    result.notBefore !== undefined &&
    clockMeansTomorrow(flags.start, result.notBefore, { now, timeZone })
  ) {
    const at = localDateTime(result.notBefore * 1000, timeZone).replace('T', ' ');
    io.stderr.write(
      `Note: ${flags.start} has already passed today in ${timeZone}: the links open tomorrow, ${at}.\n`,
    );
  }
  await print(result, flags, io);
}

async function print(result: LinkResult, flags: LinksFlags, io: CliIo): Promise<void> {
  const out = io.stdout;
  if (result.subjectGenerated && (flags.json || flags.csv || flags.field !== undefined)) {
    io.stderr.write(`Subject: ${result.subject} (generated)\n`);
  }
  if (flags.json) out.write(`${JSON.stringify(result, null, 2)}\n`);
  else if (flags.csv) out.write(formatCsv(result));
  else if (flags.field !== undefined) out.write(`${pickField(result, flags.field)}\n`);
  else {
    out.write(
      formatTable(result, {
        color: useColor(out, io.env),
        ...(flags.tz ? { timeZone: flags.tz } : {}),
        // On a terminal a whole long URL (about 1,300 characters) wraps into an unreadable block.
        ...(out.isTTY ? { maxUrl: Math.max(48, (out.columns || 120) - 60) } : {}),
      }),
    );
  }

  const first = result.guests[0] ?? result.hosts[0];
  const target = first?.shortUrl ?? first?.longUrl;
  if ((flags.qr || flags.qrPng) && first && target) {
    const QRCode = (await import('qrcode')).default;
    if (flags.qr) {
      // In table mode the QR follows the table; otherwise stdout stays machine-readable.
      const stream = flags.json || flags.csv || flags.field !== undefined ? io.stderr : out;
      // The terminal renderer paints with ANSI colours: only on a terminal and without NO_COLOR;
      // elsewhere plain block characters (dark modules as blocks), which files and pipes keep intact.
      const text = useColor(stream, io.env)
        ? await QRCode.toString(target, { type: 'terminal', small: true })
        : await QRCode.toString(target, { type: 'utf8' });
      stream.write(`\nQR code of the first ${first.role} link:\n${text}`);
    }
    if (flags.qrPng) {
      await writeFile(
        resolve(io.cwd, flags.qrPng),
        await QRCode.toBuffer(target, { type: 'png', margin: 2, scale: 6 }),
      );
      io.stderr.write(`QR code of the first ${first.role} link written to ${flags.qrPng}\n`);
    }
  }
}
