import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
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
  assert.deepEqual(ok(), { ok: true });
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
