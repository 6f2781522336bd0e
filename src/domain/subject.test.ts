import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSubject } from './subject.js';

test('generated subjects are readable, safe and unique', () => {
  const now = Date.UTC(2026, 10, 28, 14, 30) / 1000;
  const subject = generateSubject({ now });
  assert.match(subject, /^visit-20261128-1430-[a-z2-9]{8}$/);
  assert.match(generateSubject({ prefix: 'Dr Who clinic!', now }), /^Dr-Who-clinic-20261128-1430-/);
  const many = new Set(Array.from({ length: 2000 }, () => generateSubject({ now })));
  assert.equal(many.size, 2000);
});
