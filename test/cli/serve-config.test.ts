/** The operations variables of `serve` (TRUST_PROXY, METRICS_*, pruning): a bad value exits 2 naming it. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { removeDir, runCli, show, tempDir } from './run-cli.js';

let cwd: string;
before(() => {
  cwd = tempDir();
});
after(() => removeDir(cwd));

describe('serve configuration', () => {
  for (const [name, value, rule] of [
    ['TRUST_PROXY', 'yes', /TRUST_PROXY must be true, false, a hop count, or a comma-separated list/],
    ['TRUST_PROXY', '10.0.0.0/40', /TRUST_PROXY must be/],
    ['METRICS_TOKEN', 'short', /METRICS_TOKEN must be 16 to 512 printable characters/],
    ['METRICS_PORT', '70000', /METRICS_PORT must be a port number/],
    ['PRUNE_INTERVAL_SECONDS', 'soon', /PRUNE_INTERVAL_SECONDS must be a whole number from 0/],
    ['DELIVERY_RETENTION_DAYS', '0', /DELIVERY_RETENTION_DAYS must be a whole number from 1/],
  ] as const) {
    test(`a bad ${name} exits 2 naming the variable`, async () => {
      const r = await runCli(['serve', '--port', '0', '--data', join(cwd, 'bad')], {
        env: { [name]: value },
      });
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, rule);
      if (name === 'METRICS_TOKEN') assert.doesNotMatch(r.stderr, /short/, 'never the value');
    });
  }
});
