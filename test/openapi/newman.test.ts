/**
 * The Postman collection, run by newman against a live server, as a user runs it: the files of
 * `instant-connect export postman --out DIR`, the environment's `mtg-broker-url` and `bot-token`
 * filled in (nothing else), `newman run` with the JSON reporter. Every request asserts (status
 * and the shape of its answer) and none fails, twice in a row on the same server (each run has
 * new link subjects). newman comes from test/tools: skipped without it, a failure in CI.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PostmanCollection, PostmanEnvironment } from '../../src/openapi/postman.js';
import { removeDir, runCli, show, tempDir } from '../cli/run-cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { toolPath, toolsSuite } from '../support/test-tools.js';
import { startWebexEmulator, type WebexEmulator } from '../support/webex-emulator.js';

const newman = { path: toolPath('newman'), suite: toolsSuite(['newman']) };

/** What newman's JSON reporter writes, as far as these tests read it. */
interface NewmanReport {
  run: {
    stats: Record<'requests' | 'assertions' | 'testScripts', { total: number; failed: number }>;
    failures: { error: { name: string; message: string; test?: string }; source?: { name?: string } }[];
    executions: {
      item: { name: string };
      response?: { code: number; stream?: { type: 'Buffer'; data: number[] } };
      requestError?: { message: string };
      assertions?: { assertion: string; error?: { message: string } }[];
    }[];
  };
}

interface NewmanRun {
  code: number | null;
  stdout: string;
  stderr: string;
  report: NewmanReport;
}

/** `newman run COLLECTION -e ENVIRONMENT`, bounded per request and as a whole. */
function runNewman(dir: string, collection: string, environment: string, name: string): Promise<NewmanRun> {
  const reportFile = join(dir, `${name}.newman.json`);
  const args = [
    'run',
    collection,
    '--environment',
    environment,
    '--reporters',
    'cli,json',
    '--reporter-json-export',
    reportFile,
    '--timeout-request',
    '10000',
    '--timeout',
    '120000',
    '--color',
    'off',
    '--disable-unicode',
  ];
  return new Promise((resolve, reject) => {
    // Asynchronous: the server answers in this process while newman runs.
    execFile(
      newman.path,
      args,
      { cwd: dir, timeout: 150_000, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: unknown; signal?: string | null }) | null;
        if (e?.signal) return reject(new Error(`newman killed (${e.signal})\n${stdout}\n${stderr}`));
        let report: NewmanReport;
        try {
          report = JSON.parse(readFileSync(reportFile, 'utf8')) as NewmanReport;
        } catch (err) {
          return reject(
            new Error(`no JSON report from newman: ${(err as Error).message}\n${stdout}\n${stderr}`),
          );
        }
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr, report });
      },
    );
  });
}

/** The JSON body of the first execution of a request named `name`. */
function answerOf(r: NewmanRun, name: string): Record<string, unknown> {
  const execution = r.report.run.executions.find((e) => e.item.name === name);
  assert.ok(execution?.response?.stream, `${name}: an answer in the report`);
  return JSON.parse(Buffer.from(execution.response.stream.data).toString('utf8')) as Record<string, unknown>;
}

const failuresOf = (r: NewmanRun) =>
  r.report.run.failures.map(
    (f) => `${f.source?.name ?? '?'}: ${f.error.test ?? f.error.name}: ${f.error.message}`,
  );

describe('newman runs the exported collection against a live server', newman.suite, () => {
  let emulator: WebexEmulator;
  let server: TestServer;
  let dir: string;
  let collectionFile: string;
  let environmentFile: string;
  const runs: NewmanRun[] = [];

  before(async () => {
    // With the bot (against the Webex emulator), so the trigger's `notify` example sends its links.
    emulator = await startWebexEmulator();
    server = await startTestServer({ webex: { token: emulator.token, apiUrl: emulator.apiUrl } });
    dir = tempDir('ic-newman-');
    const exported = await runCli(['export', 'postman', '--out', dir]);
    assert.equal(exported.code, 0, show(exported));
    collectionFile = join(dir, 'instant-connect.postman.json');
    // What a user does in the environment: this server's URL, and an API key as bot-token.
    const exportedEnvironment = join(dir, 'instant-connect.postman.environment.json');
    const environment = JSON.parse(readFileSync(exportedEnvironment, 'utf8')) as PostmanEnvironment;
    const values: Record<string, string> = { 'mtg-broker-url': server.url, 'bot-token': server.key };
    for (const v of environment.values) v.value = values[v.key] ?? v.value;
    environmentFile = join(dir, 'filled.postman.environment.json');
    writeFileSync(environmentFile, JSON.stringify(environment), { mode: 0o600 });
  });
  after(async () => {
    if (dir) removeDir(dir);
    await server?.close();
    await emulator?.close();
  });

  test('the file `export postman --out DIR` writes is the collection `export postman` prints', async () => {
    const printed = await runCli(['export', 'postman']);
    assert.equal(printed.code, 0, show(printed));
    assert.deepEqual(JSON.parse(readFileSync(collectionFile, 'utf8')), JSON.parse(printed.stdout));
  });

  test('every request passes its assertions: more than zero, no failure, no 4xx or 5xx', async () => {
    const run = await runNewman(dir, collectionFile, environmentFile, 'first');
    runs.push(run);
    const { stats, executions } = run.report.run;
    assert.deepEqual(failuresOf(run), [], run.stdout);
    assert.equal(run.code, 0, run.stdout);
    assert.ok(stats.assertions.total > 0, 'assertions ran');
    assert.equal(stats.assertions.failed, 0);
    assert.equal(stats.requests.failed, 0);
    const collection = JSON.parse(readFileSync(collectionFile, 'utf8')) as PostmanCollection;
    const items = collection.item.flatMap((f) => f.item);
    assert.equal(executions.length, items.length, 'each request ran once');
    for (const execution of executions) {
      const name = execution.item.name;
      assert.equal(execution.requestError, undefined, name);
      assert.ok((execution.assertions ?? []).length > 0, `${name}: asserts something`);
      // The Visits folder's visit has no recipients (and this server no SMTP_URL): the documented 400.
      if (name.startsWith("Send a link's notice again")) {
        assert.equal(execution.response?.code, 400, name);
        continue;
      }
      assert.ok(execution.response && execution.response.code < 400, `${name}: ${execution.response?.code}`);
    }
    // With the bot on the server, the notify example is the 201 with deliveries, not the 400.
    const notify = executions.find((e) => e.item.name.includes('the bot sends the links'));
    assert.equal(notify?.response?.code, 201);
    assert.equal(executions.at(-1)?.item.name, 'Cancel a visit', 'the cancellation comes last');
  });

  test('a second run on the same server is as green, with new subjects: another meeting space', async () => {
    const second = await runNewman(dir, collectionFile, environmentFile, 'second');
    assert.deepEqual(failuresOf(second), [], second.stdout);
    assert.equal(second.code, 0, second.stdout);
    assert.equal(second.report.run.stats.assertions.failed, 0);
    const first = runs[0];
    assert.ok(first, 'the first run ran');
    assert.equal(second.report.run.stats.assertions.total, first.report.run.stats.assertions.total);
    // Same subject, same meeting space: a run's links must not land in the last run's space.
    const space = 'Who a link is, and its meeting space (GET)';
    assert.notEqual(answerOf(second, space)['spaceId'], answerOf(first, space)['spaceId']);
  });

  test('the token is only in the environment a user filled in, never in the exported files', () => {
    for (const file of ['instant-connect.postman.json', 'instant-connect.postman.environment.json']) {
      assert.ok(!readFileSync(join(dir, file), 'utf8').includes(server.key), file);
    }
  });
});
