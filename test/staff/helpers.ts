/**
 * A tiny browser for the staff page's HTTP tests: real requests with fetch, redirects never
 * followed, the session cookie kept by hand, forms posted urlencoded.
 */
import assert from 'node:assert/strict';
import { testFetch } from '../support/inject-fetch.js';
import type { TestServer } from '../support/server.js';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Every Set-Cookie line. */
  setCookies: string[];
  location: string | null;
}

export class StaffClient {
  /** `ic_session=…`, as the browser would send it; undefined when signed out. */
  cookie: string | undefined;

  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Answer> {
    const headers = new Headers(init.headers);
    if (this.cookie && !headers.has('cookie')) headers.set('cookie', this.cookie);
    const response = await testFetch(new URL(path, this.base), { redirect: 'manual', ...init, headers });
    const text = await response.text();
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = ''] = line.split(';');
      const [name, value = ''] = pair.split('=');
      if (name !== 'ic_session') continue;
      const cleared = value === '' || /max-age=0\b/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line);
      this.cookie = cleared ? undefined : pair;
    }
    if ((response.headers.get('content-type') ?? '').startsWith('text/html')) assertCspSafe(text, path);
    return {
      status: response.status,
      headers: response.headers,
      text,
      setCookies,
      location: response.headers.get('location'),
    };
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    return this.request(path, { headers });
  }

  post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Signs in with the key and checks the 303 to `/`. */
  async signIn(key: string): Promise<Answer> {
    const answer = await this.post('/session', { key });
    assert.equal(answer.status, 303, answer.text);
    assert.equal(answer.location, '/');
    assert.ok(this.cookie, 'a session cookie was set');
    return answer;
  }

  /** The CSRF token of the page at `path` (the dashboard by default). */
  async csrf(path = '/'): Promise<string> {
    const page = await this.get(path);
    assert.equal(page.status, 200, page.text);
    return csrfOf(page.text);
  }
}

function csrfOf(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  assert.ok(match, 'the page has a _csrf field');
  return match[1]!;
}

/** The CSP forbids inline script and style: no `<script>` without src, no style attribute. */
function assertCspSafe(html: string, where: string): void {
  for (const tag of html.match(/<script\b[^>]*>/gi) ?? []) {
    assert.match(tag, /\ssrc="\/assets\/[^"]+"/, `${where}: inline script ${tag}`);
  }
  assert.doesNotMatch(html, /<style\b/i, `${where}: a <style> element`);
  assert.doesNotMatch(html, /\sstyle\s*=/i, `${where}: a style attribute`);
  assert.doesNotMatch(html, /\son[a-z]+\s*=\s*["']/i, `${where}: an inline event handler`);
  // Every resource the page loads is this server's own (no CDN).
  for (const tag of html.match(/<(script|link|img|iframe|source|video|audio|object|embed)\b[^>]*>/gi) ?? []) {
    const url = /\s(?:src|href|data)="([^"]*)"/i.exec(tag)?.[1];
    if (url !== undefined) assert.match(url, /^\/(?!\/)/, `${where}: ${tag} loads from elsewhere`);
  }
}

/** The element with this id and everything up to its closing `</div>` (a form field). */
export function fieldBlock(html: string, id: string): string {
  const start = html.lastIndexOf('<div class="field', html.indexOf(`id="${id}"`));
  assert.ok(start >= 0, `field ${id} is on the page`);
  return html.slice(start, html.indexOf('</div>', start) + '</div>'.length);
}

/** The opening tag of the element with this id. */
export function tagOf(html: string, id: string): string {
  const match = new RegExp(`<(input|textarea|select)\\b[^>]*\\bid="${id}"[^>]*>`).exec(html);
  assert.ok(match, `element #${id} is on the page`);
  return match[0];
}

/** The HTML of the `<section>` whose class contains `cls`. */
export function section(html: string, cls: string): string {
  const start = html.indexOf(`<section class="links ${cls}"`);
  assert.ok(start >= 0, `section ${cls} is on the page`);
  return html.slice(start, html.indexOf('</section>', start));
}

/** GET a JSON API path with the test key. */
export async function api(server: TestServer, path: string, init: RequestInit = {}): Promise<any> {
  const response = await testFetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json', ...init.headers },
  });
  const body = await response.json();
  assert.ok(response.ok, JSON.stringify(body));
  return body;
}

/** The form a browser would post for a new visit, with the defaults, plus `extra`. */
export function visitForm(csrf: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    _csrf: csrf,
    timeZone: 'UTC',
    subject: '',
    start: '',
    duration: '30',
    hosts: '1',
    guests: '1',
    devices: '',
    shortUrls: 'on',
    vertical: 'hc',
    hostLogin: 'on',
    ...extra,
  };
}
