/**
 * How many tests of one describe may run at once. The runner already runs one test file per core,
 * so a describe whose tests each start child processes or servers runs a few at once, never all:
 * `{ concurrency: true }` started ~25 CLI processes per file and timed out on a loaded machine.
 * Only tests that each own their files (their own temporary directory) may run at once; tests that
 * share a data directory run one after another.
 */
export const AT_ONCE = 2;
