/**
 * What a CLI run may touch of its process: two write-only streams, the environment and the
 * working directory. The bin passes the real ones; tests pass their own and read what was written.
 */
export interface CliOutput {
  write(text: string): unknown;
  /** A terminal: colour, progress bars and shortened URLs (absent or false for pipes and tests). */
  readonly isTTY?: boolean;
  /** Its width, on a terminal. */
  readonly columns?: number;
}

export type CliEnv = Readonly<Record<string, string | undefined>>;

export interface CliIo {
  stdout: CliOutput;
  stderr: CliOutput;
  env: CliEnv;
  /** Relative paths (--data, --out, --token-file, …) resolve against this. */
  cwd: string;
}

/** The io of this process: what the bin uses. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
