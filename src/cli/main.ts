#!/usr/bin/env node
/** The `instant-connect` bin: ./.env into the environment, then runCli with this process's io. */
import module from 'node:module';

// Node 22.1 and later keep V8's compiled code of every module on disk (in the system's temporary
// directory, or NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so later runs skip
// compiling the ~900 modules a command loads. It must come before they are imported, hence the
// dynamic imports below. Node 20 has no such cache: there this does nothing.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { loadDotEnv } = await import('./config.js');
const { processIo } = await import('./io.js');
const { runCli } = await import('./program.js');

loadDotEnv();
process.exitCode = await runCli(process.argv.slice(2), processIo());
