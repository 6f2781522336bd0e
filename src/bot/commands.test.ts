import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommand } from './commands.js';

test('the command language', () => {
  assert.deepEqual(parseCommand(''), { kind: 'help' });
  assert.deepEqual(parseCommand('  HELP '), { kind: 'help' });
  assert.deepEqual(parseCommand('visit'), { kind: 'visit', hosts: 1, guests: 1 });
  assert.deepEqual(parseCommand('visit Dr Smith follow-up'), {
    kind: 'visit',
    hosts: 1,
    guests: 1,
    subject: 'Dr Smith follow-up',
  });
  assert.deepEqual(parseCommand('visit with 3 guests'), { kind: 'visit', hosts: 1, guests: 3 });
  assert.deepEqual(parseCommand('visit with 2 hosts and 3 guests'), { kind: 'visit', hosts: 2, guests: 3 });
  assert.deepEqual(parseCommand('visit at 14:30 for 45m'), {
    kind: 'visit',
    hosts: 1,
    guests: 1,
    start: '14:30',
    duration: '45m',
  });
  assert.deepEqual(parseCommand('visit Knee review at 2026-12-01 09:30 for 1 hour with 2 guests'), {
    kind: 'visit',
    hosts: 1,
    guests: 2,
    subject: 'Knee review',
    start: '2026-12-01 09:30',
    duration: '1h',
  });
  assert.deepEqual(parseCommand('visit in 2h for 90 minutes'), {
    kind: 'visit',
    hosts: 1,
    guests: 1,
    start: '+2h',
    duration: '90m',
  });
  assert.deepEqual(
    parseCommand('visit with 999 guests').kind === 'visit' && parseCommand('visit with 999 guests'),
    {
      kind: 'visit',
      hosts: 1,
      guests: 50,
    },
  );
  assert.deepEqual(parseCommand('visits'), { kind: 'visits' });
  assert.deepEqual(parseCommand('cancel vis_abc123'), { kind: 'cancel', target: 'vis_abc123' });
  assert.deepEqual(parseCommand('cancel "Knee review"'), { kind: 'cancel', target: 'Knee review' });
  assert.deepEqual(parseCommand('cancel'), { kind: 'unknown', text: 'cancel' });
  assert.deepEqual(parseCommand('timezone Europe/Paris'), { kind: 'timezone', zone: 'Europe/Paris' });
  assert.deepEqual(parseCommand('tz'), { kind: 'timezone' });
  assert.deepEqual(parseCommand('make me a sandwich'), { kind: 'unknown', text: 'make me a sandwich' });
});
