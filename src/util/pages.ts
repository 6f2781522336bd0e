/**
 * Server-rendered pages: no client framework, no CDN, no inline script. Everything a page shows
 * goes through `escapeHtml`; a raw token never reaches the HTML.
 */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

export interface PageOptions {
  /** Scripts under /assets/ (never inline: the CSP forbids it). */
  scripts?: string[];
  /** Omit the note about this broker (staff pages). */
  brokerNote?: boolean;
  /** More stylesheets under /assets/, after app.css. */
  styles?: string[];
  /** Escaped HTML before `<main>` (a banner with navigation). */
  header?: string;
}

/** A whole page. `body` must already be escaped HTML. */
export function page(title: string, body: string, options: PageOptions = {}): string {
  const scripts = (options.scripts ?? [])
    .map((s) => `<script src="/assets/${escapeHtml(s)}" defer></script>`)
    .join('\n');
  const styles = (options.styles ?? [])
    .map((s) => `\n<link rel="stylesheet" href="/assets/${escapeHtml(s)}">`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/app.css">${styles}
${scripts}
</head>
<body>
${options.header ?? ''}<main id="main">
${body}
${options.brokerNote === false ? '' : BROKER_NOTE}
</main>
</body>
</html>
`;
}

const BROKER_NOTE =
  "<p class=\"note\">This is the instant-connect project's own broker: it checks links and runs the visit's lobby, with no audio or video. Links made with Cisco's brokers open Webex Instant Connect itself.</p>";

export function notFoundPage(what: string): string {
  return page(
    'Link not found',
    `<h1>Link not found</h1><p>${escapeHtml(what)}</p><p>Check the link you were sent, or ask for a new one.</p>`,
  );
}
