import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  countSegments,
  fitSms,
  gsmSeptets,
  isE164,
  isGsm7,
  linkSms,
  normalizePhone,
  OPT_IN_KEYWORDS,
  OPT_OUT_KEYWORDS,
  optKeyword,
} from './sms.js';

const BASIC = '@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà';
const gsmText = fc.string({ unit: fc.constantFrom(...BASIC, '€', '[', '~') });

describe('GSM-7', () => {
  test('€ and the other extension characters are 2 septets; ç lowercase is not GSM-7 but Ç is', () => {
    assert.equal(gsmSeptets('€'), 2);
    for (const c of '^{}\\[~]|') assert.equal(gsmSeptets(c), 2, c);
    assert.equal(gsmSeptets('Ç'), 1);
    assert.equal(gsmSeptets('ç'), undefined);
    assert.equal(isGsm7('Ça va'), true);
    assert.equal(isGsm7('ça va'), false);
    assert.equal(isGsm7('hello 😀'), false);
    assert.deepEqual(countSegments('€'), { encoding: 'GSM-7', units: 2, segments: 1 });
  });

  test('160 septets are one segment, 161 two (153 a part); 80 € are 160 septets, 81 two segments', () => {
    assert.equal(countSegments('a'.repeat(160)).segments, 1);
    assert.equal(countSegments('a'.repeat(161)).segments, 2);
    assert.equal(countSegments('a'.repeat(306)).segments, 2);
    assert.equal(countSegments('a'.repeat(307)).segments, 3);
    assert.equal(countSegments('€'.repeat(80)).segments, 1);
    assert.deepEqual(countSegments('€'.repeat(81)), { encoding: 'GSM-7', units: 162, segments: 2 });
    // A part never splits an escape: 152 septets then a € (2) starts the second part.
    assert.equal(countSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`).segments, 3);
    assert.equal(countSegments('').segments, 0);
  });

  test('UCS-2: 70 units are one segment, 71 two (67 a part); an emoji is 2 units and never split', () => {
    assert.deepEqual(countSegments(`ç${'a'.repeat(69)}`), { encoding: 'UCS-2', units: 70, segments: 1 });
    assert.equal(countSegments(`ç${'a'.repeat(70)}`).segments, 2);
    assert.equal(countSegments(`ç${'a'.repeat(133)}`).segments, 2);
    assert.equal(countSegments(`ç${'a'.repeat(134)}`).segments, 3);
    assert.equal(countSegments('😀'.repeat(35)).segments, 1);
    // 66 units then an emoji (2) does not fit the first part of 67.
    assert.equal(countSegments(`${'a'.repeat(66)}😀${'a'.repeat(66)}`).segments, 3);
  });

  test('property: GSM-7 segments are 1 up to 160 septets, else at least ceil(septets / 153) and at most one more per 76 parts', () => {
    fc.assert(
      fc.property(gsmText, (text) => {
        const c = countSegments(text);
        assert.equal(c.encoding, 'GSM-7');
        const septets = [...text].reduce((n, ch) => n + (gsmSeptets(ch) ?? 0), 0);
        assert.equal(c.units, septets);
        if (septets === 0) assert.equal(c.segments, 0);
        else if (septets <= 160) assert.equal(c.segments, 1);
        else {
          assert.ok(c.segments >= Math.ceil(septets / 153));
          assert.ok(c.segments <= Math.ceil(septets / 152));
        }
      }),
    );
  });

  test('property: one character outside GSM-7 makes the whole text UCS-2', () => {
    fc.assert(
      fc.property(gsmText, gsmText, (a, b) => {
        assert.equal(countSegments(`${a}ç${b}`).encoding, 'UCS-2');
      }),
    );
  });
});

describe('E.164', () => {
  test('written numbers normalised; national numbers and nonsense refused', () => {
    assert.equal(normalizePhone('+1 (415) 555-0100'), '+14155550100');
    assert.equal(normalizePhone('0044 20 7946 0958'), '+442079460958');
    assert.equal(normalizePhone(' +33.6.12.34.56.78 '), '+33612345678');
    for (const bad of [
      '4155550100',
      '+0123456789',
      '+1 415',
      '+1234567890123456',
      'call me',
      '+1415555abcd',
      '',
    ])
      assert.equal(normalizePhone(bad), undefined, bad);
    assert.equal(isE164('+14155550100'), true);
    assert.equal(isE164('+1 4155550100'), false);
  });

  test('property: normalising is idempotent and answers E.164 only', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'+0123456789 -().') }), (raw) => {
        const phone = normalizePhone(raw);
        if (phone === undefined) return;
        assert.ok(isE164(phone));
        assert.equal(normalizePhone(phone), phone);
      }),
    );
  });
});

describe('opt-out keywords', () => {
  test('STOP and its kin opt out, START and its kin opt in, in any case and whitespace; a sentence is no keyword', () => {
    for (const word of OPT_OUT_KEYWORDS) assert.deepEqual(optKeyword(word), { action: 'out', keyword: word });
    for (const word of OPT_IN_KEYWORDS) assert.deepEqual(optKeyword(word), { action: 'in', keyword: word });
    assert.deepEqual(optKeyword('  stop\n'), { action: 'out', keyword: 'STOP' });
    assert.deepEqual(optKeyword('\tUnStOp '), { action: 'in', keyword: 'UNSTOP' });
    assert.deepEqual(optKeyword('yes'), { action: 'in', keyword: 'YES' });
    for (const other of ['please stop', 'STOP!', 'stopp', '', 'no'])
      assert.equal(optKeyword(other), undefined, other);
  });

  test('property: any casing and surrounding whitespace of a keyword is recognised', () => {
    const keyword = fc.constantFrom(...OPT_OUT_KEYWORDS, ...OPT_IN_KEYWORDS);
    const space = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r') });
    fc.assert(
      fc.property(
        keyword,
        fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }),
        space,
        space,
        (w, up, a, b) => {
          const cased = [...w].map((c, i) => (up[i] ? c : c.toLowerCase())).join('');
          assert.equal(optKeyword(`${a}${cased}${b}`)?.keyword, w);
        },
      ),
    );
  });
});

describe('fitting a link in a budget of segments', () => {
  const link = 'https://visits.example.org/s/Ab3dE5gH';

  test('a short name is kept whole; a long one is shortened, never the link, to two segments', () => {
    const short = linkSms({ name: 'Dr. Who follow-up', link });
    assert.equal(short.text, `Dr. Who follow-up: ${link}`);
    assert.equal(short.shortened, false);
    assert.equal(short.segments, 1);
    const long = linkSms({ name: 'Visit '.repeat(80), link, when: 'Tue 8 Dec 10:30' });
    assert.equal(long.shortened, true);
    assert.equal(long.fits, true);
    assert.equal(long.segments, 2);
    assert.ok(long.text.endsWith(` ${link}`));
    assert.ok(long.text.includes('...:'));
    assert.ok(long.text.includes('Tue 8 Dec 10:30'));
    assert.equal(linkSms({ name: 'x'.repeat(400), link, maxSegments: 1 }).segments, 1);
  });

  test('a name with a character outside GSM-7 is cut until it fits (possibly back to GSM-7)', () => {
    const fitted = linkSms({ name: `${'a'.repeat(150)}ç`, link, maxSegments: 1 });
    assert.equal(fitted.segments, 1);
    assert.ok(fitted.text.endsWith(link));
  });

  test('when even no name cannot fit, the text without a name is answered, flagged', () => {
    const fitted = fitSms((name) => `${name} ${'y'.repeat(400)}`, 'name', 2);
    assert.equal(fitted.fits, false);
    assert.equal(fitted.text, ` ${'y'.repeat(400)}`);
  });

  test('property: the link is always whole and the text fits whenever the rest does', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.integer({ min: 1, max: 3 }), (name, budget) => {
        const fitted = linkSms({ name, link, maxSegments: budget });
        assert.ok(fitted.text.endsWith(` ${link}`));
        assert.equal(fitted.fits, true);
        assert.ok(fitted.segments <= budget);
        if (!fitted.shortened) assert.ok(fitted.text.startsWith(name));
      }),
    );
  });
});
