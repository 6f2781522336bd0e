import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CATALOGS, composeNotice, escapeHtml, hasCatalog } from './index.js';

const base = {
  role: 'guest' as const,
  subject: 'Check-up <img src=x onerror=alert(1)> & "more"',
  name: "O'Brien <b>",
  timeZone: 'Europe/Madrid',
  start: Date.UTC(2026, 11, 8, 9, 30) / 1000,
  end: Date.UTC(2026, 11, 8, 10, 15) / 1000,
  url: 'https://visits.example/visit/Ab12?x=1&y=2',
};

test('a creation notice: the link in full in both parts, the times in the zone, what people wrote escaped in HTML', () => {
  const n = composeNotice({ ...base, kind: 'created' });
  assert.equal(n.subject, `Your video visit: ${base.subject}`);
  assert.ok(n.text.includes(base.url));
  assert.ok(n.text.includes('10:30'), n.text); // 09:30 UTC is 10:30 in Madrid in December
  assert.ok(n.text.includes('(Europe/Madrid)'));
  assert.ok(n.html.includes('<a href="https://visits.example/visit/Ab12?x=1&amp;y=2">'), n.html);
  assert.ok(!n.html.includes('<img'), n.html);
  assert.ok(n.html.includes('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;more&quot;'));
  assert.ok(n.html.includes('O&#39;Brien &lt;b&gt;'));
  assert.ok(!n.text.includes('do not share'), 'guests are not told of host links');
  assert.ok(composeNotice({ ...base, kind: 'created', role: 'host' }).text.includes('do not share'));
});

test('Spanish, by language tag (es-MX falls back to es); an unknown language is English', () => {
  const es = composeNotice({ ...base, kind: 'created', language: 'es-MX' });
  assert.ok(es.subject.startsWith('Su videoconsulta: '));
  assert.ok(es.text.startsWith("Hola, O'Brien <b>:"));
  assert.ok(es.text.includes('diciembre'), es.text);
  assert.ok(
    composeNotice({ ...base, kind: 'created', language: 'de' }).subject.startsWith('Your video visit'),
  );
  assert.ok(hasCatalog('ES') && hasCatalog('en-US') && !hasCatalog('fr'));
});

test('a cancel notice has no link', () => {
  for (const language of Object.keys(CATALOGS)) {
    const n = composeNotice({ ...base, kind: 'cancelled', language });
    assert.ok(!n.text.includes(base.url) && !n.html.includes('visits.example'), language);
  }
  assert.equal(
    composeNotice({ ...base, kind: 'cancelled', language: 'es' }).subject,
    `Cancelada: ${base.subject}`,
  );
});

test('a reminder: the visit starts at the time in the zone and language, with the link; a headline for SMS', () => {
  const en = composeNotice({ ...base, kind: 'reminder' });
  assert.ok(en.subject.startsWith('Reminder: '), en.subject);
  assert.ok(en.text.includes('Your video visit starts at'), en.text);
  assert.ok(en.text.includes(base.url), en.text);
  assert.ok(en.html.includes(`<a href="${escapeHtml(base.url)}">`), en.html);
  assert.ok(en.headline?.startsWith('Your video visit starts at'), en.headline);
  const es = composeNotice({ ...base, kind: 'reminder', language: 'es' });
  assert.ok(es.subject.startsWith('Recordatorio: '), es.subject);
  assert.ok(es.headline?.startsWith('Su videoconsulta empieza el'), es.headline);
  assert.equal(composeNotice({ ...base, kind: 'created' }).headline, undefined);
});

test('every catalog has every message (a third language is one file)', () => {
  const keys = Object.keys(CATALOGS['en']!).sort();
  for (const [language, catalog] of Object.entries(CATALOGS))
    assert.deepEqual(Object.keys(catalog).sort(), keys, language);
});

test('escapeHtml', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});
