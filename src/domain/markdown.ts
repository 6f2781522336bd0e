/**
 * Text from people (subjects, names, the words of a message) inside the markdown the bot posts.
 * Webex renders CommonMark-like markdown and also turns bare URLs, `www.` names, domain names and
 * email addresses into links, and `<@personEmail:…>` / `<@all>` into mentions. A subject must
 * never become a link, a mention, a heading or a list in a patient's space: the links we make
 * are the only links in a message.
 *
 * `escapeMarkdown` makes any text inline and inert:
 *   - line breaks and other control characters become spaces (no new block: no heading, quote, list);
 *   - every character markdown gives a meaning to (`\ * _ [ ] ( ) < > # + - ! | \` ~`) is
 *     backslash-escaped, so `[Click here](https://evil.example)` shows as typed and `<@all>` is no
 *     mention;
 *   - anything a linkifier would turn into a link (`scheme://…`, `mailto:`/`tel:`/`sip:`…, `www.…`,
 *     `name.tld`, `someone@name.tld`) is shown as inline code: code spans are never linkified,
 *     and the text stays exactly as typed (a reader can still copy it; nobody can click it).
 * Inline code was chosen over breaking the scheme with a zero-width character: an invisible
 * character hides the trick from the reader, linkifiers differ on which characters end a URL,
 * and a bare domain (`evil.example`) has no scheme to break.
 */

/** Characters with a meaning in Webex markdown, escaped with a backslash outside code spans. */
const SPECIAL = /[\\*_[\]()<>#+\-!|`~]/g;

/**
 * What a linkifier might turn into a link: a scheme URL, a scheme-only URI of a kind clients
 * open, or a dotted name whose last label starts with a letter and has two characters or more
 * (`www.x.org`, a domain, an email address; `e.g.` and `1.5` are left alone).
 * Backticks never belong to a token, so a token is always a valid single-backtick code span.
 */
const LINKABLE =
  /(?:[A-Za-z][A-Za-z0-9+.-]{0,30}:\/\/|(?:mailto|tel|sip|sips|callto|im|xmpp|webexteams|spark|ciscospark|javascript|data|file):)[^\s`]*|(?:[^\s`]*@)?(?:[A-Za-z0-9_-]+\.)+[A-Za-z][A-Za-z0-9-]+[^\s`]*/gi;

/** Control characters, line and paragraph separators: all become a space (inline text only). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what is replaced
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` as inert inline markdown: shown as typed, never a link, a mention or a block. */
export function escapeMarkdown(text: string): string {
  const flat = String(text).replace(CONTROL, ' ');
  let out = '';
  let last = 0;
  for (const m of flat.matchAll(LINKABLE)) {
    out += flat.slice(last, m.index).replace(SPECIAL, '\\$&');
    out += `\`${m[0]}\``;
    last = m.index + m[0].length;
  }
  return out + flat.slice(last).replace(SPECIAL, '\\$&');
}
