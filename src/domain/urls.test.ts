import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENVIRONMENTS, forcedLoginUrl, longUrl, parseLink, resolveEnvironment, shortUrl } from './urls.js';

test('environments: commercial and US government hosts', () => {
  assert.equal(ENVIRONMENTS.commercial.brokerUrl, 'https://mtg-broker-a.wbx2.com');
  assert.equal(ENVIRONMENTS.commercial.linkBaseUrl, 'https://instant.webex.com');
  assert.equal(ENVIRONMENTS.commercial.webexApiUrl, 'https://webexapis.com/v1');
  assert.equal(ENVIRONMENTS.usgov.brokerUrl, 'https://mtg-broker.gov.ciscospark.com');
  assert.equal(ENVIRONMENTS.usgov.linkBaseUrl, 'https://instant-usgov.webex.com');
  assert.equal(ENVIRONMENTS.usgov.webexApiUrl, 'https://api-usgov.webex.com/v1');
});

test('a custom broker URL serves its own long links; bad URLs are refused', () => {
  const env = resolveEnvironment('http://127.0.0.1:8080/');
  assert.deepEqual(env, {
    name: 'custom',
    brokerUrl: 'http://127.0.0.1:8080',
    linkBaseUrl: 'http://127.0.0.1:8080',
  });
  assert.equal(resolveEnvironment('usgov', 'https://links.example/').linkBaseUrl, 'https://links.example');
  assert.throws(() => resolveEnvironment('prod'), /commercial.*usgov.*URL/);
  assert.throws(() => resolveEnvironment('ftp://x'), /http or https/);
  assert.throws(() => resolveEnvironment('https://user:pw@x.example'), /credentials/);
});

test('long URLs: hosts log in unless told not to, guests talk, vertical chooses the path', () => {
  const base = { linkBaseUrl: 'https://instant.webex.com', cipher: 'a.b.c.d.e' };
  assert.equal(
    longUrl({ ...base, vertical: 'gen', role: 'host', hostLogin: true }),
    'https://instant.webex.com/gen/v1/login?int=jose&v=1&data=a.b.c.d.e',
  );
  assert.equal(
    longUrl({ ...base, vertical: 'hc', role: 'host', hostLogin: false }),
    'https://instant.webex.com/hc/v1/talk?int=jose&v=1&data=a.b.c.d.e',
  );
  assert.equal(
    longUrl({ ...base, vertical: 'hc', role: 'guest', hostLogin: true }),
    'https://instant.webex.com/hc/v1/talk?int=jose&v=1&data=a.b.c.d.e',
  );
  assert.equal(
    forcedLoginUrl({ ...base, vertical: 'hc' }),
    'https://instant.webex.com/hc/v1/login?int=jose&v=1&fli=true&data=a.b.c.d.e',
  );
});

test('short URLs are baseUrl + short, never a double slash', () => {
  assert.equal(
    shortUrl('https://instant.webex.com/visit/', 'Kuyqdx3'),
    'https://instant.webex.com/visit/Kuyqdx3',
  );
  assert.equal(
    shortUrl('https://instant.webex.com/visit', 'Kuyqdx3'),
    'https://instant.webex.com/visit/Kuyqdx3',
  );
});

test('parseLink tells the form of a link', () => {
  assert.deepEqual(parseLink('https://instant.webex.com/hc/v1/talk?int=jose&v=1&data=a.b.c.d.e'), {
    form: 'long',
    origin: 'https://instant.webex.com',
    vertical: 'hc',
    page: 'talk',
    cipher: 'a.b.c.d.e',
  });
  assert.equal(
    parseLink('https://instant.webex.com/hc/v1/login?int=jose&v=1&fli=true&data=a.b.c.d.e')?.form,
    'forced-login',
  );
  assert.deepEqual(parseLink('https://instant-usgov.webex.com/visit/yqju5qi'), {
    form: 'short',
    origin: 'https://instant-usgov.webex.com',
    short: 'yqju5qi',
  });
  assert.deepEqual(parseLink('eyJ.a.b.c.d'), { form: 'cipher', cipher: 'eyJ.a.b.c.d' });
  assert.equal(parseLink('not a link'), undefined);
});
