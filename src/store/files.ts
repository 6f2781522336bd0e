/**
 * The data directory and the SQLite files at rest hold the broker's keys, hook secrets and every
 * link's cipher: only the service's own user may read them. The directory is made 0700 and the
 * database 0600 whatever the process umask (SQLite gives its `-wal` and `-shm` files the mode of the
 * database file). Files that are already readable by group or others (made by an older version, or
 * copied with a loose umask) are tightened where we own them, with one warning line each; the
 * warning names the path and the mode, never any content.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const DATA_DIR_MODE = 0o700;
const DATA_FILE_MODE = 0o600;

/** Mode bits that let anyone but the owner in. */
const LOOSE = 0o077;

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

export type Warn = (line: string) => void;

/** Writes one warning line to stderr (the logger does not exist yet when the store opens). */
const warnOnStderr: Warn = (line) => {
  process.stderr.write(`warning: ${line}\n`);
};

/**
 * Tightens one path: nothing when it is missing or already private; chmod (and a warning) when it
 * is ours; only a warning when another user owns it.
 */
function tighten(path: string, wanted: number, warn: Warn): void {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    return; // gone meanwhile (a -shm removed by a closing process)
  }
  const mode = Number(stat.mode) & 0o777;
  if ((mode & LOOSE) === 0) return;
  const uid = process.getuid?.();
  if (uid !== undefined && Number(stat.uid) !== uid) {
    warn(
      `${path} is mode ${octal(mode)} (readable by others) and owned by another user: make it ${octal(wanted)}`,
    );
    return;
  }
  try {
    chmodSync(path, wanted);
    warn(`${path} was mode ${octal(mode)} (readable by others); changed it to ${octal(wanted)}`);
  } catch (err) {
    warn(
      `${path} is mode ${octal(mode)} (readable by others) and could not be changed (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/**
 * Before SQLite opens `file`: the directory exists and is 0700, the database exists and is 0600
 * (created empty, which SQLite takes as a new database), and every file of the database in the
 * directory (`-wal`, `-shm`, `-journal`) is private.
 */
export function prepareDataFiles(file: string, warn: Warn = warnOnStderr): void {
  const dir = dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
  tighten(dir, DATA_DIR_MODE, warn);
  if (!existsSync(file)) {
    // O_CREAT with 0600: the umask can only take bits away, never add group or other ones.
    closeSync(openSync(file, 'a', DATA_FILE_MODE));
  }
  const name = basename(file);
  for (const entry of readdirSync(dir)) {
    if (entry === name || entry.startsWith(`${name}-`)) tighten(join(dir, entry), DATA_FILE_MODE, warn);
  }
}
