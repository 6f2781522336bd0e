import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUDIENCE } from '../domain/constants.js';
import { InstantConnectError, OverloadedError } from '../errors.js';
import { generateBrokerKey } from './keys.js';
import { WorkLimiter } from './limiter.js';
import { issueToken, openToken } from './tokens.js';

/** A job the test finishes by hand. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test('never runs more than `concurrency` jobs; the rest wait in order and all finish', async () => {
  const limiter = new WorkLimiter({ concurrency: 2, maxQueue: 10 });
  const gates = Array.from({ length: 6 }, () => deferred());
  const started: number[] = [];
  let running = 0;
  let peak = 0;
  const results = gates.map((gate, i) =>
    limiter.run(async () => {
      started.push(i);
      running++;
      peak = Math.max(peak, running);
      await gate.promise;
      running--;
      return i * 10;
    }),
  );
  await tick();
  assert.deepEqual(started, [0, 1]);
  assert.equal(limiter.inFlight, 2);
  assert.equal(limiter.queued, 4);

  gates[1]!.resolve();
  await tick();
  assert.deepEqual(started, [0, 1, 2]);
  assert.equal(limiter.inFlight, 2);
  assert.equal(limiter.queued, 3);

  for (const gate of gates) gate.resolve();
  assert.deepEqual(await Promise.all(results), [0, 10, 20, 30, 40, 50]);
  assert.equal(peak, 2);
  assert.equal(limiter.inFlight, 0);
  assert.equal(limiter.queued, 0);
});

test('a full queue refuses at once with ERR_OVERLOADED (503) and a Retry-After hint', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 1 });
  const gate = deferred();
  let secondRan = false;
  const first = limiter.run(() => gate.promise);
  const second = limiter.run(() => {
    secondRan = true;
  });
  // The third is refused while the first is still running: no waiting.
  let refusal: unknown;
  await limiter
    .run(() => assert.fail('must not run'))
    .catch((error: unknown) => {
      refusal = error;
    });
  assert.ok(refusal instanceof OverloadedError);
  assert.ok(refusal instanceof InstantConnectError);
  assert.equal(refusal.code, 'ERR_OVERLOADED');
  assert.equal(refusal.httpStatus, 503);
  assert.ok(Number.isInteger(refusal.retryAfter) && refusal.retryAfter >= 1 && refusal.retryAfter <= 60);
  assert.equal(limiter.inFlight, 1);
  assert.equal(limiter.queued, 1);
  assert.equal(secondRan, false);

  gate.resolve();
  await Promise.all([first, second]);
  assert.equal(secondRan, true);
});

test('maxQueue 0: only what fits the running slots is accepted', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 0 });
  const gate = deferred();
  const first = limiter.run(() => gate.promise);
  await assert.rejects(
    limiter.run(() => 1),
    { code: 'ERR_OVERLOADED' },
  );
  gate.resolve();
  await first;
  assert.equal(await limiter.run(() => 2), 2);
});

test('errors in jobs (thrown or rejected) reach the caller and free the slot', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 5 });
  const gate = deferred();
  const blocked = limiter.run(() => gate.promise);
  const thrown = limiter.run(() => {
    throw new Error('sync boom');
  });
  const rejected = limiter.run(async () => {
    throw new Error('async boom');
  });
  const after = limiter.run(() => 'still served');
  gate.reject(new Error('gate boom'));
  await assert.rejects(blocked, /gate boom/);
  await assert.rejects(thrown, /sync boom/);
  await assert.rejects(rejected, /async boom/);
  assert.equal(await after, 'still served');
  assert.equal(limiter.inFlight, 0);
  assert.equal(limiter.queued, 0);
});

test('a waiting job whose signal aborts leaves the queue; a running one is not interrupted', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 2 });
  const gate = deferred();
  const controller = new AbortController();
  const running = limiter.run(() => gate.promise.then(() => 'done'), { signal: controller.signal });
  const waitingController = new AbortController();
  let waitingRan = false;
  const waiting = limiter.run(
    () => {
      waitingRan = true;
    },
    { signal: waitingController.signal },
  );
  assert.equal(limiter.queued, 1);
  waitingController.abort(new Error('client went away'));
  await assert.rejects(waiting, /client went away/);
  assert.equal(limiter.queued, 0);
  controller.abort();
  gate.resolve();
  assert.equal(await running, 'done');
  assert.equal(waitingRan, false);
  await assert.rejects(
    limiter.run(() => 1, { signal: AbortSignal.abort(new Error('already')) }),
    /already/,
  );
});

test('the Retry-After hint grows with the backlog and stays within 1..60 s', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 1000 });
  const gate = deferred();
  const jobs = Array.from({ length: 1001 }, () => limiter.run(() => gate.promise));
  const refusal = await limiter.run(() => 0).catch((error: unknown) => error);
  assert.ok(refusal instanceof OverloadedError);
  assert.ok(refusal.retryAfter > 1, 'a 1001-job backlog at ≈25 ms each is more than a second');
  assert.ok(refusal.retryAfter <= 60);
  gate.resolve();
  await Promise.all(jobs);
  assert.equal(limiter.retryAfter, 1);
});

test('refuses nonsense options', () => {
  assert.throws(() => new WorkLimiter({ concurrency: 0, maxQueue: 1 }), { code: 'ERR_INTERNAL' });
  assert.throws(() => new WorkLimiter({ concurrency: 1.5, maxQueue: 1 }), { code: 'ERR_INTERNAL' });
  assert.throws(() => new WorkLimiter({ concurrency: 1, maxQueue: -1 }), { code: 'ERR_INTERNAL' });
});

test('bounds real PBKDF2 work: issuing and opening tokens through the limiter', async () => {
  const limiter = new WorkLimiter({ concurrency: 2, maxQueue: 16 });
  const key = generateBrokerKey(1_790_000_000);
  const now = 1_790_000_000;
  let peak = 0;
  const measure = <T>(job: () => Promise<T>) =>
    limiter.run(async () => {
      peak = Math.max(peak, limiter.inFlight);
      return job();
    });
  const ciphers = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      measure(() =>
        issueToken(
          {
            sub: `visit ${i}`,
            aud: AUDIENCE,
            iss: 'org',
            iat: now,
            exp: now + 900,
            jti: `j${i}`,
            role: 'guest',
          },
          { jweAlg: 'PBES2-HS512+A256KW', enc: 'A256GCM', jwsAlg: 'HS512', saltLength: 16, iterations: 2000 },
          key,
        ),
      ),
    ),
  );
  const opened = await Promise.all(
    ciphers.map((cipher) => measure(() => openToken(cipher, [key], { now, audience: AUDIENCE }))),
  );
  assert.deepEqual(
    opened.map((o) => o.claims.sub),
    ciphers.map((_, i) => `visit ${i}`),
  );
  assert.equal(peak, 2);
});

test('weights: many light jobs run together, a full job waits for room, and order is kept', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 100 });
  const light = Array.from({ length: 4 }, () => deferred());
  const heavy = deferred();
  const started: string[] = [];
  const runs = light.map((gate, i) =>
    limiter.run(
      async () => {
        started.push(`light${i}`);
        await gate.promise;
      },
      { weight: 0.25 },
    ),
  );
  const heavyRun = limiter.run(async () => {
    started.push('heavy');
    await heavy.promise;
  });
  const late = limiter.run(async () => started.push('late'), { weight: 0.25 });
  await tick();
  assert.deepEqual(started, ['light0', 'light1', 'light2', 'light3'], 'four quarter-jobs fill one slot');
  assert.equal(limiter.inFlight, 4);
  light[0]!.resolve();
  await tick();
  assert.deepEqual(
    started.length,
    4,
    'the full job waits until all its room is free; the late light one does not overtake',
  );
  for (const gate of light.slice(1)) gate.resolve();
  await tick();
  assert.deepEqual(started, ['light0', 'light1', 'light2', 'light3', 'heavy']);
  heavy.resolve();
  await Promise.all([...runs, heavyRun, late]);
  assert.deepEqual(started.at(-1), 'late');
});

test('weights are clamped: a tiny weight still counts, so jobs in flight stay bounded', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 1000 });
  const gate = deferred();
  const runs = Array.from({ length: 100 }, () => limiter.run(() => gate.promise, { weight: 0.0001 }));
  await tick();
  assert.equal(limiter.inFlight, 32);
  gate.resolve();
  await Promise.all(runs);
});

test('the priority lane goes ahead of waiting bulk work, and has its own queue bound', async () => {
  const limiter = new WorkLimiter({ concurrency: 1, maxQueue: 1, maxPriorityQueue: 2 });
  const gate = deferred();
  const order: string[] = [];
  const first = limiter.run(() => gate.promise);
  const bulk = limiter.run(async () => order.push('bulk'));
  await assert.rejects(
    limiter.run(async () => order.push('bulk2')),
    OverloadedError,
    'bulk queue full',
  );
  const page = limiter.run(async () => order.push('page'), { priority: true });
  const page2 = limiter.run(async () => order.push('page2'), { priority: true });
  await assert.rejects(
    limiter.run(async () => 0, { priority: true }),
    OverloadedError,
    'priority queue full',
  );
  gate.resolve();
  await Promise.all([first, bulk, page, page2]);
  assert.deepEqual(order, ['page', 'page2', 'bulk']);
});

test('the low lane holds at most lowConcurrency running and maxLowQueue waiting, and goes after the other lanes', async () => {
  const limiter = new WorkLimiter({ concurrency: 3, maxQueue: 10, lowConcurrency: 1, maxLowQueue: 2 });
  const gates = Array.from({ length: 6 }, () => deferred());
  const order: string[] = [];
  const job = (name: string, gate: { promise: Promise<void> }) => async () => {
    order.push(name);
    await gate.promise;
  };
  const low = [0, 1, 2].map((i) => limiter.run(job(`low${i}`, gates[i]!), { lane: 'low' }));
  await assert.rejects(limiter.run(job('low3', gates[5]!), { lane: 'low' }), OverloadedError);
  await tick();
  assert.deepEqual(order, ['low0'], 'one low job at a time, though there is room for three');
  // Priority and normal work still starts at once beside it.
  const normal = limiter.run(job('normal', gates[3]!));
  const priority = limiter.run(job('priority', gates[4]!), { priority: true });
  await tick();
  assert.deepEqual(order, ['low0', 'normal', 'priority']);
  for (const gate of gates) gate.resolve();
  await Promise.all([...low, normal, priority]);
  assert.deepEqual(order, ['low0', 'normal', 'priority', 'low1', 'low2']);
  assert.deepEqual(limiter.started, { priority: 1, normal: 1, low: 3 });
});
