/**
 * The rules of an SMS, pure: which characters GSM-7 carries (3GPP TS 23.038: the basic set, and
 * the extension table whose characters take an escape and so count 2 septets), how many segments a
 * text takes (GSM-7: 160 septets alone, 153 a part when concatenated; otherwise UCS-2: 70 UTF-16
 * units alone, 67 a part; a part never splits an escape or a surrogate pair), E.164 numbers, the
 * opt-out keywords carriers and Twilio honour, and a text builder that keeps a message with its
 * link within a budget of segments by shortening the visit's name, never the link.
 */

/** The GSM 03.38 basic character set (ESC, 0x1B, aside: it only introduces the extension table). */
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
/** The extension table: each is ESC + a character, 2 septets. */
const GSM_EXTENSION = new Set('\f^{}\\[~]|€');

type SmsEncoding = 'GSM-7' | 'UCS-2';

const SMS_LIMITS = {
  'GSM-7': { single: 160, part: 153 },
  'UCS-2': { single: 70, part: 67 },
} as const;

/** Septets of one character in GSM-7: 1 (basic), 2 (extension), undefined (not GSM-7). */
export function gsmSeptets(char: string): 1 | 2 | undefined {
  if (GSM_BASIC.has(char)) return 1;
  if (GSM_EXTENSION.has(char)) return 2;
  return undefined;
}

/** Whether every character of the text is in GSM-7 (basic set or extension table). */
export function isGsm7(text: string): boolean {
  for (const char of text) if (gsmSeptets(char) === undefined) return false;
  return true;
}

export interface SegmentCount {
  encoding: SmsEncoding;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
  /** Segments the text takes (0 for an empty text). */
  segments: number;
}

/** The encoding, the size and the segments of a text, as a handset and a carrier count them. */
export function countSegments(text: string): SegmentCount {
  const encoding: SmsEncoding = isGsm7(text) ? 'GSM-7' : 'UCS-2';
  // Each character's size in units: a part never splits one (an escape pair, a surrogate pair).
  const sizes: number[] = [];
  for (const char of text) sizes.push(encoding === 'GSM-7' ? (gsmSeptets(char) as number) : char.length);
  const units = sizes.reduce((a, b) => a + b, 0);
  const limits = SMS_LIMITS[encoding];
  if (units === 0) return { encoding, units, segments: 0 };
  if (units <= limits.single) return { encoding, units, segments: 1 };
  let segments = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > limits.part) {
      segments++;
      used = 0;
    }
    used += size;
  }
  return { encoding, units, segments };
}

/** E.164: `+`, a country code not starting with 0, at most 15 digits in all (at least 8 here). */
const E164 = /^\+[1-9]\d{7,14}$/;

export function isE164(phone: string): boolean {
  return E164.test(phone);
}

/**
 * A phone number as written by people (`+1 (415) 555-0100`, `0044 20 7946 0958`) in E.164, or
 * undefined when it is not an international number: spaces, dots, dashes and parentheses go, an
 * international `00` prefix becomes `+`. A national number (no `+` or `00`) is refused, never
 * guessed: its country is unknown.
 */
export function normalizePhone(input: string): string | undefined {
  let phone = input.trim().replace(/[\s.\-()\u00a0]/g, '');
  if (phone.startsWith('00')) phone = `+${phone.slice(2)}`;
  return isE164(phone) ? phone : undefined;
}

/** Replies that stop messages, and those that start them again (Twilio's and the CTIA's). */
export const OPT_OUT_KEYWORDS = ['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'] as const;
export const OPT_IN_KEYWORDS = ['START', 'UNSTOP', 'YES'] as const;

export interface OptKeyword {
  action: 'out' | 'in';
  /** The keyword, upper case. */
  keyword: string;
}

/**
 * What a reply asks for: the whole message is one keyword, in any case, with any whitespace
 * around it (`stop`, ` Stop \n`); anything else (`please stop`) is no keyword.
 */
export function optKeyword(body: string): OptKeyword | undefined {
  const word = body.trim().toUpperCase();
  if ((OPT_OUT_KEYWORDS as readonly string[]).includes(word)) return { action: 'out', keyword: word };
  if ((OPT_IN_KEYWORDS as readonly string[]).includes(word)) return { action: 'in', keyword: word };
  return undefined;
}

export interface FittedSms extends SegmentCount {
  text: string;
  /** The name was shortened to fit. */
  shortened: boolean;
  /** Within the budget (false only when even without a name the rest does not fit). */
  fits: boolean;
}

/** What a shortened name ends with (GSM-7, so shortening never switches the text to UCS-2). */
const ELLIPSIS = '...';

/**
 * The text `render(name)` within `maxSegments` segments (default 2): the name is cut, a character
 * at a time from its end and marked with `...`, until the text fits; the rest of the text (the
 * link above all) is never touched. When even an empty name does not fit, the text without a
 * name is answered with `fits: false`.
 */
export function fitSms(render: (name: string) => string, name: string, maxSegments = 2): FittedSms {
  const full = render(name);
  const count = countSegments(full);
  if (count.segments <= maxSegments) return { text: full, ...count, shortened: false, fits: true };
  const chars = [...name];
  for (let keep = chars.length - 1; keep >= 0; keep--) {
    const cut = keep === 0 ? '' : `${chars.slice(0, keep).join('').trimEnd()}${ELLIPSIS}`;
    const text = render(cut);
    const c = countSegments(text);
    if (c.segments <= maxSegments) return { text, ...c, shortened: true, fits: true };
  }
  const text = render('');
  return { text, ...countSegments(text), shortened: name !== '', fits: false };
}

/**
 * The invitation SMS of a link: `<name>: <link>` with the time when there is one, within the
 * budget of segments (the name shortened, never the link).
 */
export function linkSms(input: {
  name: string;
  link: string;
  when?: string;
  maxSegments?: number;
}): FittedSms {
  const when = input.when ? ` ${input.when}` : '';
  return fitSms(
    (name) => `${name ? `${name}:` : 'Your video visit:'}${when} ${input.link}`,
    input.name,
    input.maxSegments ?? 2,
  );
}
