#!/usr/bin/env node
/** The `instant-connect` bin: ./.env into the environment, then runCli with this process's io. */
import { loadDotEnv } from './config.js';
import { processIo } from './io.js';
import { runCli } from './program.js';

loadDotEnv();
process.exitCode = await runCli(process.argv.slice(2), processIo());
