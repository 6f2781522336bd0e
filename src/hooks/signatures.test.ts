import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseTriggerSignatures,
  sparkSignature,
  triggerSignature,
  verifySparkSignature,
  verifyTriggerSignature,
} from './signatures.js';

test('X-Spark-Signature: HMAC-SHA1 hex of the raw bytes, known answer, case of the header ignored', () => {
  // Known answer: HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog") (RFC 2104 examples, Wikipedia).
  assert.equal(
    sparkSignature('key', 'The quick brown fox jumps over the lazy dog'),
    'de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9',
  );
  const raw = Buffer.from('{"name":"caf\\u00e9"}');
  const sig = sparkSignature('s3cret', raw);
  assert.equal(verifySparkSignature('s3cret', raw, sig), true);
  assert.equal(verifySparkSignature('s3cret', raw, sig.toUpperCase()), true);
  // Re-serialising the parsed JSON changes the bytes: the signature must not verify.
  assert.equal(
    verifySparkSignature('s3cret', Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), sig),
    false,
  );
  for (const bad of [undefined, '', 'zz', sig.slice(1), `${sig}0`, sparkSignature('other', raw)]) {
    assert.equal(verifySparkSignature('s3cret', raw, bad), false, String(bad));
  }
});

test('trigger signatures: valid, stale, malformed, mismatched', () => {
  const raw = Buffer.from('{"guests":2}');
  const now = 1_795_876_200;
  const ok = (o: Partial<Parameters<typeof verifyTriggerSignature>[0]> = {}) =>
    verifyTriggerSignature({
      secret: 'hook-secret',
      rawBody: raw,
      timestamp: String(now),
      signature: triggerSignature('hook-secret', now, raw),
      now,
      ...o,
    });
  assert.deepEqual(ok(), { ok: true, timestamp: now });
  assert.equal(ok({ now: now + 299 }).ok, true);
  const stale = ok({ now: now + 301 });
  assert.equal(stale.ok === false && stale.reason, 'stale');
  const future = ok({ now: now - 301 });
  assert.equal(future.ok === false && future.reason, 'stale');
  assert.equal((ok({ signature: undefined }) as { reason: string }).reason, 'missing');
  assert.equal((ok({ timestamp: 'yesterday' }) as { reason: string }).reason, 'malformed');
  assert.equal((ok({ signature: 'sha256=abc' }) as { reason: string }).reason, 'malformed');
  assert.equal((ok({ secret: 'other' }) as { reason: string }).reason, 'mismatch');
  assert.equal((ok({ rawBody: Buffer.from('{"guests":3}') }) as { reason: string }).reason, 'mismatch');
  assert.equal(
    (ok({ signature: triggerSignature('hook-secret', now - 1, raw) }) as { reason: string }).reason,
    'mismatch',
    'the timestamp is part of what is signed',
  );
});

test('trigger signatures: one canonical spelling; NO-BREAK SPACE, other Unicode spaces and controls refused', () => {
  const raw = Buffer.from('{"guests":2}');
  const now = 1_795_876_200;
  const good = triggerSignature('hook-secret', now, raw);
  const check = (signature: string) =>
    verifyTriggerSignature({ secret: 'hook-secret', rawBody: raw, timestamp: String(now), signature, now });
  assert.equal(check(good).ok, true);
  // Node's HTTP parser drops leading and trailing SP/HTAB itself; anything else around or inside
  // the value is not trimmed away: it is refused before any HMAC is computed.
  for (const extra of [
    '\u00a0',
    '\u2007',
    '\u202f',
    '\u3000',
    '\ufeff',
    '\u2028',
    '\u0085',
    '\t',
    '\r',
    '\u0000',
  ]) {
    for (const variant of [`${good}${extra}`, `${extra}${good}`, `v1=${extra}${good.slice(3)}`]) {
      const r = check(variant);
      assert.equal(r.ok === false && r.reason, 'malformed', JSON.stringify(variant));
      assert.match((r as { message: string }).message, /printable ASCII/);
    }
  }
  for (const variant of [
    good.toUpperCase(),
    `V1=${good.slice(3)}`,
    `v1=${good.slice(3).toUpperCase()}`,
    `${good}0`,
    `${good},`,
    `,${good}`,
    `v1=${good}`,
    `${good} ${good}`,
  ]) {
    const r = check(variant);
    assert.equal(r.ok === false && r.reason, 'malformed', variant);
  }
  // Parsed into canonical bytes: the same HMAC whatever the allowed spacing around a comma.
  const parsed = parseTriggerSignatures(`${good} , ${good}`);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.signatures, [Buffer.from(good.slice(3), 'hex'), Buffer.from(good.slice(3), 'hex')]);
});

test('trigger signatures: two v1 values (a secret rotation), any one matching is enough, at most two', () => {
  const raw = Buffer.from('{"guests":2}');
  const now = 1_795_876_200;
  const oldSig = triggerSignature('old-secret', now, raw);
  const newSig = triggerSignature('new-secret', now, raw);
  const wrong = triggerSignature('not-a-secret', now, raw);
  const check = (signature: string, secret: string | string[] = 'new-secret') =>
    verifyTriggerSignature({ secret, rawBody: raw, timestamp: String(now), signature, now });
  for (const header of [
    `${oldSig},${newSig}`,
    `${newSig},${oldSig}`,
    `${wrong}, ${newSig}`,
    `${newSig} ,${wrong}`,
  ]) {
    assert.deepEqual(check(header), { ok: true, timestamp: now }, header);
  }
  assert.equal((check(`${oldSig},${wrong}`) as { reason: string }).reason, 'mismatch');
  // The server side of a rotation: the new and (during its grace period) the old secret.
  assert.equal(check(oldSig, ['new-secret', 'old-secret']).ok, true);
  assert.equal(check(newSig, ['new-secret', 'old-secret']).ok, true);
  assert.equal((check(wrong, ['new-secret', 'old-secret']) as { reason: string }).reason, 'mismatch');
  const three = check(`${wrong},${wrong},${newSig}`);
  assert.equal(three.ok === false && three.reason, 'malformed');
  assert.match((three as { message: string }).message, /at most 2/);
});
