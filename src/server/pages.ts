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

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f7fa;color:#1b1f24}
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.5rem;margin-top:0}.state{display:inline-block;padding:.2rem .6rem;border-radius:999px;font-weight:600}
.ok{background:#dff5e3;color:#0b5d1e}.wait{background:#fff4d6;color:#6b4e00}.bad{background:#fde2e1;color:#8a1c14}
.note{color:#555;font-size:.9rem;border-top:1px solid #eee;margin-top:2rem;padding-top:1rem}code{word-break:break-all}`;

/** A whole page. `body` must already be escaped HTML. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
<p class="note">This is the instant-connect project's own broker: it checks links and shows visits, with no audio or video. Links made with Cisco's brokers open Webex Instant Connect itself.</p>
</main>
</body>
</html>
`;
}

export function notFoundPage(what: string): string {
  return page(
    'Link not found',
    `<h1>Link not found</h1><p>${escapeHtml(what)}</p><p>Check the link you were sent, or ask for a new one.</p>`,
  );
}
