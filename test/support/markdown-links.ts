/**
 * What a Webex client would make clickable (or a mention) in a message's markdown: markdown links
 * and images `[text](url)`, autolinks and mentions `<…>`, reference definitions, and what its
 * linkifier picks out of plain text (scheme URLs, `www.`, domain names, email addresses). Code
 * spans are inert and backslash-escaped characters are literal, as in CommonMark. Deliberately
 * broad: it over-reports rather than misses, so "only our links" is a strong claim.
 */
export function liveLinks(markdown: string): string[] {
  // Backslash escapes first (an escaped backtick opens no code span), then code spans.
  let text = markdown.replace(/\\[!-/:-@[-`{-~]/g, '\uE000');
  text = text.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, ' ');
  const found: string[] = [];
  const take = (re: RegExp, group = 0) => {
    text = text.replace(re, (...m: string[]) => {
      found.push(m[group]!);
      return ' ';
    });
  };
  take(/!?\[[^\]\uE000]*\]\(\s*([^)\s\uE000]*)[^)]*\)/g, 1); // [text](url), ![alt](url)
  take(/^\s*\[[^\]]+\]:\s*(\S+)/gm, 1); // [ref]: url
  take(/<([^>\s\uE000]+)>/g, 1); // <https://…>, <a@b.c>, <@personEmail:…>, <@all>
  take(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s<>\uE000]*/g); // scheme URLs
  take(/\b(?:mailto|tel|sip|sips|javascript|data|webexteams):[^\s<>\uE000]+/gi);
  take(/[^\s<>\uE000]*@?\b(?:[A-Za-z0-9_-]+\.)+[A-Za-z][A-Za-z0-9-]+\b[^\s<>\uE000]*/g); // www., domains, emails
  return found;
}

/** The live links of `markdown` that are not in `ours` (each of ours may appear any number of times). */
export function foreignLinks(markdown: string, ours: readonly string[]): string[] {
  return liveLinks(markdown).filter((l) => !ours.includes(l.replace(/[.,;:)]+$/, '')));
}
