/**
 * A coarse family of a User-Agent, the only trace of a browser an event keeps (never the whole
 * header, never an address): enough to tell "opened in the Webex app" from "opened in Safari".
 */
const UA_FAMILIES = ['webex', 'edge', 'firefox', 'chrome', 'safari', 'other'] as const;
export type UaFamily = (typeof UA_FAMILIES)[number];

export function uaFamily(userAgent: string | undefined): UaFamily {
  const ua = (userAgent ?? '').slice(0, 512);
  // Order matters: Edge and Webex's embedded browsers say Chrome and Safari too; Chrome says Safari.
  if (/webex|spark|cisco/i.test(ua)) return 'webex';
  if (/\bEdg(e|A|iOS)?\//.test(ua)) return 'edge';
  if (/\b(Firefox|FxiOS)\//.test(ua)) return 'firefox';
  if (/\b(OPR|Opera)\//.test(ua)) return 'other';
  if (/\b(Chrome|Chromium|CriOS)\//.test(ua)) return 'chrome';
  if (/\bSafari\//.test(ua) || /\bAppleWebKit\//.test(ua)) return 'safari';
  return 'other';
}
