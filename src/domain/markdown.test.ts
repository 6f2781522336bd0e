import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { foreignLinks, liveLinks } from '../../test/support/markdown-links.js';
import { escapeMarkdown } from './markdown.js';

/** Subjects a hostile caller might send, with what must not survive as markdown. */
const HOSTILE = [
  '[Click here](https://evil.example)',
  '[Click here](https://evil.example "title")',
  '![x](https://evil.example/pixel.png)',
  'https://evil.example/login',
  'HTTP://EVIL.EXAMPLE',
  'see www.evil.example now',
  'evil.example',
  'mail me: victim@evil.example',
  'mailto:victim@evil.example',
  'tel:+15555550100',
  'javascript:alert(1)',
  '<https://evil.example>',
  '<@personEmail:ceo@clinic.example>',
  '<@all>',
  '<b>bold</b><script>x</script>',
  '[a][1]\n\n[1]: https://evil.example',
  '`code` and ``double`` and `https://evil.example`',
  '\\[escaped\\](https://evil.example)',
  '**bold** __under__ ~~strike~~ *em* _em_',
  '# heading\n> quote\n- item\n+ item\n1. item\n| a | b |',
  'line one\r\nline two\u2028three',
  'evil.example)](https://evil.example',
  'x`https://evil.example`y',
];

describe('escapeMarkdown', () => {
  for (const subject of HOSTILE) {
    test(`no live link, mention or block from ${JSON.stringify(subject)}`, () => {
      const out = escapeMarkdown(subject);
      assert.deepEqual(liveLinks(out), [], `live in: ${out}`);
      assert.ok(!/[\r\n\u2028\u2029]/.test(out), 'one line');
      // Nothing a block could start with is left unescaped at the start.
      assert.ok(!/^[#>+\-|]/.test(out), `starts a block: ${out}`);
    });
  }

  test('the check can fail: unescaped, these subjects are live', () => {
    for (const subject of HOSTILE.slice(0, 16)) assert.notDeepEqual(liveLinks(subject), [], subject);
  });

  test('inside the bot\u2019s message, only our link is live', () => {
    const ours = 'https://visits.clinic.example/visit/Ab3dE5f';
    for (const subject of HOSTILE) {
      const markdown = `**Join the visit: ${escapeMarkdown(subject)}**\n\n- Guest 1: ${ours}`;
      assert.deepEqual(foreignLinks(markdown, [ours]), [], markdown);
      assert.deepEqual(liveLinks(markdown), [ours]);
    }
  });

  test('each special character is backslash-escaped; plain words are left alone', () => {
    assert.equal(escapeMarkdown('Dr Smith follow up'), 'Dr Smith follow up');
    assert.equal(escapeMarkdown('a*b_c'), 'a\\*b\\_c');
    assert.equal(
      escapeMarkdown('\\ * _ [ ] ( ) < > # + - ! | ` ~'),
      '\\\\ \\* \\_ \\[ \\] \\( \\) \\< \\> \\# \\+ \\- \\! \\| \\` \\~',
    );
    assert.equal(escapeMarkdown('visit-20261202-0453-k7qm2xab'), 'visit\\-20261202\\-0453\\-k7qm2xab');
    // Numbers and abbreviations with dots are not domains.
    assert.equal(escapeMarkdown('1.5h, e.g. now'), '1.5h, e.g. now');
  });

  test('URLs, domains and addresses are kept as typed, in code spans', () => {
    assert.equal(escapeMarkdown('go to https://evil.example/x?y=1'), 'go to `https://evil.example/x?y=1`');
    assert.equal(escapeMarkdown('evil.example'), '`evil.example`');
    assert.equal(escapeMarkdown('a@evil.example'), '`a@evil.example`');
    assert.equal(
      escapeMarkdown('[Click here](https://evil.example)'),
      '\\[Click here\\]\\(`https://evil.example)`',
    );
  });

  test('line breaks and control characters become spaces', () => {
    assert.equal(escapeMarkdown('a\nb\r\nc\u0000d\u2029e'), 'a b  c d e');
  });
});
