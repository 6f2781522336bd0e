import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { base64url, compactDecrypt, SignJWT } from 'jose';
import jose from 'node-jose';
import {
  AUDIENCE,
  ENCS,
  type Enc,
  JWE_ALGS,
  JWS_ALGS,
  type JweAlg,
  type JwsAlg,
} from '../domain/constants.js';
import { InstantConnectError, TokenError, type TokenFailure, ValidationError } from '../errors.js';
import { type BrokerKey, generateBrokerKey } from './keys.js';
import {
  type BrokerClaims,
  DECRYPT_OPTIONS,
  issueToken,
  MAX_TOKEN_LENGTH,
  openToken,
  readTokenHeader,
  sealCompact,
  type TokenParams,
} from './tokens.js';

const NOW = 1_790_000_000;
const ORG = '9b5cbbf6-f9bc-42ef-a20c-14028b25372b';
const CISCO_ORDER = ['p2s', 'p2c', 'aud', 'iss', 'cty', 'enc', 'alg', 'kid'];
const FAST: TokenParams = {
  jweAlg: 'PBES2-HS512+A256KW',
  enc: 'A256GCM',
  jwsAlg: 'HS512',
  saltLength: 16,
  iterations: 1000,
};
const OPEN = { now: NOW, audience: AUDIENCE };

const key = generateBrokerKey(NOW - 86_400);

/** A full claim set; an override of `undefined` removes that claim. */
function claims(overrides: Partial<BrokerClaims> = {}): BrokerClaims {
  const all: Record<string, unknown> = {
    sub: 'visit 42: Dr Who',
    aud: AUDIENCE,
    iss: ORG,
    iat: NOW - 60,
    exp: NOW + 900,
    jti: '5f1c8a0e-9a86-4c4e-bd8a-4f4f5a0f8e61',
    role: 'host',
    vrt: 'hc',
    hl: true,
    flow: { id: 'sip-no-knock', data: [{ uri: 'room@example.room.wbx2.com' }] },
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(all).filter(([, v]) => v !== undefined),
  ) as unknown as BrokerClaims;
}

function headerOf(cipher: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(cipher.split('.')[0]!, 'base64url').toString());
}

/** Re-encodes the first segment with `edit` applied to the decoded header (a forgery). */
function forgeHeader(cipher: string, edit: (header: Record<string, unknown>) => unknown): string {
  const [, ...rest] = cipher.split('.');
  const header = Buffer.from(JSON.stringify(edit(headerOf(cipher)))).toString('base64url');
  return [header, ...rest].join('.');
}

/** Asserts a TokenError with `code` (and `reason`), and that its message leaks no token part. */
async function refused(
  promise: Promise<unknown>,
  code: TokenError['code'],
  reason?: TokenFailure,
  cipher?: string,
): Promise<TokenError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof TokenError, `expected a TokenError, got ${String(caught)}`);
  assert.ok(caught instanceof InstantConnectError);
  assert.equal(caught.code, code);
  if (reason) assert.equal(caught.reason, reason);
  if (cipher) {
    for (const segment of cipher.split('.')) {
      if (segment.length >= 8)
        assert.ok(!caught.message.includes(segment.slice(0, 8)), 'message quotes the token');
    }
  }
  return caught;
}

describe('issueToken and openToken: every jweAlg × enc × jwsAlg, cross-checked by node-jose', () => {
  const saltLengths = [8, 16, 36, 72, 128];
  let index = 0;
  for (const jweAlg of JWE_ALGS) {
    for (const enc of ENCS) {
      for (const jwsAlg of JWS_ALGS) {
        const saltLength = saltLengths[index % saltLengths.length]!;
        const role = index++ % 2 ? 'guest' : 'host';
        test(`${jweAlg} / ${enc} / ${jwsAlg} (salt ${saltLength}, ${role})`, async () => {
          const input = claims(role === 'guest' ? { role, hl: undefined } : {});
          const cipher = await issueToken(input, { jweAlg, enc, jwsAlg, saltLength, iterations: 1000 }, key);

          // The envelope: Cisco's header order with kid last, the salt and count asked for.
          assert.ok(cipher.startsWith('eyJwMnMiOi'));
          const header = headerOf(cipher);
          assert.deepEqual(Object.keys(header), CISCO_ORDER);
          assert.deepEqual(header, {
            p2s: header.p2s,
            p2c: 1000,
            aud: AUDIENCE,
            iss: ORG,
            cty: 'JWT',
            enc,
            alg: jweAlg,
            kid: key.kid,
          });
          assert.equal(base64url.decode(header.p2s as string).length, saltLength);

          // Our own open path.
          const opened = await openToken(cipher, [key], OPEN);
          assert.deepEqual(opened.claims, input);
          assert.equal(opened.kid, key.kid);
          assert.deepEqual(opened.header, header);

          // The independent implementation: decrypt with the password, verify with the HMAC key.
          const password = await jose.JWK.asKey({ kty: 'oct', k: base64url.encode(key.encryptionSecret) });
          const decrypted = await jose.JWE.createDecrypt(password).decrypt(cipher);
          assert.equal(decrypted.header.alg, jweAlg);
          assert.equal(decrypted.header.enc, enc);
          const hmacKey = await jose.JWK.asKey({ kty: 'oct', k: base64url.encode(key.signingSecret) });
          const verified = await jose.JWS.createVerify(hmacKey).verify(decrypted.payload.toString());
          assert.deepEqual(verified.header, { alg: jwsAlg, typ: 'JWT' });
          assert.deepEqual(JSON.parse(verified.payload.toString()), input);
        });
      }
    }
  }
});

describe('tokens made by node-jose open with openToken (interoperability the other way)', () => {
  for (const jweAlg of JWE_ALGS) {
    for (const enc of ENCS) {
      test(`${jweAlg} / ${enc}`, async () => {
        const input = claims();
        const hmacKey = await jose.JWK.asKey({ kty: 'oct', k: base64url.encode(key.signingSecret) });
        const jws = await jose.JWS.createSign(
          { format: 'compact', fields: { alg: 'HS256', typ: 'JWT' } },
          hmacKey,
        )
          .update(JSON.stringify(input))
          .final();
        // node-jose always writes a kid (its own random one unless the JWK has one): give it ours.
        const password = await jose.JWK.asKey({
          kty: 'oct',
          k: base64url.encode(key.encryptionSecret),
          kid: key.kid,
        });
        const fields = {
          alg: jweAlg,
          enc,
          p2s: base64url.encode(crypto.getRandomValues(new Uint8Array(24))),
          p2c: 1200,
          aud: AUDIENCE,
          iss: ORG,
          cty: 'JWT',
        };
        const cipher = await jose.JWE.createEncrypt({ format: 'compact', fields }, password)
          .update(jws)
          .final();
        assert.equal(headerOf(cipher).kid, key.kid);
        const opened = await openToken(cipher, [generateBrokerKey(NOW), key], OPEN);
        assert.deepEqual(opened.claims, input);
        assert.equal(opened.kid, key.kid);
      });
    }
  }
});

describe('salt and iteration bounds', () => {
  for (const saltLength of [8, 128]) {
    for (const iterations of [1000, 32767]) {
      test(`salt ${saltLength} bytes, p2c ${iterations} issues and opens`, async () => {
        const cipher = await issueToken(claims(), { ...FAST, saltLength, iterations }, key);
        const header = readTokenHeader(cipher);
        assert.equal(header.p2c, iterations);
        assert.equal(base64url.decode(header.p2s).length, saltLength);
        assert.deepEqual((await openToken(cipher, [key], OPEN)).claims, claims());
      });
    }
  }

  test("p2c 32767 opens with our options, where jose's default maxPBES2Count (10000) refuses it", async () => {
    const cipher = await issueToken(claims(), { ...FAST, iterations: 32767 }, key);
    await assert.rejects(
      compactDecrypt(cipher, key.encryptionSecret, {
        keyManagementAlgorithms: [...JWE_ALGS],
        contentEncryptionAlgorithms: [...ENCS],
      }),
      { code: 'ERR_JWE_INVALID', message: /p2c/ },
    );
    await compactDecrypt(cipher, key.encryptionSecret, { ...DECRYPT_OPTIONS });
    assert.equal((await openToken(cipher, [key], OPEN)).claims.sub, claims().sub);
  });
});

describe('issueToken validates its input before any crypto', () => {
  const bad: Array<[string, Partial<Record<keyof TokenParams, unknown>>, string]> = [
    ['iterations below 1000', { iterations: 999 }, 'iterations'],
    ['iterations above 32767', { iterations: 32768 }, 'iterations'],
    ['fractional iterations', { iterations: 1000.5 }, 'iterations'],
    ['iterations as a string', { iterations: '2000' }, 'iterations'],
    ['salt of 7 bytes', { saltLength: 7 }, 'saltLength'],
    ['salt of 129 bytes', { saltLength: 129 }, 'saltLength'],
    ['a non-PBES2 alg', { jweAlg: 'RSA-OAEP' }, 'jweAlg'],
    ['dir', { jweAlg: 'dir' }, 'jweAlg'],
    ['an unknown enc', { enc: 'A512GCM' }, 'enc'],
    ['jwsAlg none', { jwsAlg: 'none' }, 'jwsAlg'],
    ['an asymmetric jwsAlg', { jwsAlg: 'RS256' }, 'jwsAlg'],
  ];
  for (const [name, override, path] of bad) {
    test(`refuses ${name}`, async () => {
      const params = { ...FAST, ...override } as TokenParams;
      await assert.rejects(issueToken(claims(), params, key), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.equal(error.code, 'ERR_VALIDATION');
        assert.deepEqual(
          error.issues.map((i) => i.path),
          [path],
        );
        return true;
      });
    });
  }

  test('reports every bad parameter and claim at once', async () => {
    const params = {
      jweAlg: 'x',
      enc: 'y',
      jwsAlg: 'z',
      saltLength: 0,
      iterations: 0,
    } as unknown as TokenParams;
    const input = { ...claims(), role: 'admin', exp: Date.now() } as unknown as BrokerClaims;
    await assert.rejects(issueToken(input, params, key), (error: unknown) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual(
        error.issues.map((i) => i.path),
        ['jweAlg', 'enc', 'jwsAlg', 'saltLength', 'iterations', 'claims.exp', 'claims.role', 'claims.hl'],
      );
      return true;
    });
  });

  const badClaims: Array<[string, Record<string, unknown>, string]> = [
    ['a blank subject', { sub: '   ' }, 'claims.sub'],
    ['a missing jti', { jti: undefined }, 'claims.jti'],
    ['exp in milliseconds', { exp: (NOW + 900) * 1000 }, 'claims.exp'],
    ['a fractional nbf', { nbf: NOW + 0.5 }, 'claims.nbf'],
    ['an unknown vertical', { vrt: 'edu' }, 'claims.vrt'],
    ['hl on a guest token', { role: 'guest', hl: true }, 'claims.hl'],
    [
      'a flow with a non-SIP device',
      { flow: { id: 'sip-no-knock', data: [{ uri: 'not a uri' }] } },
      'claims.flow.data[0]',
    ],
    ['a flow with no devices', { flow: { id: 'sip-no-knock', data: [] } }, 'claims.flow.data'],
    ['an unknown flow id', { flow: { id: 'knock', data: [{ uri: 'a@b.com' }] } }, 'claims.flow.id'],
  ];
  for (const [name, override, path] of badClaims) {
    test(`refuses claims with ${name}`, async () => {
      const input = { ...claims(), ...override } as BrokerClaims;
      await assert.rejects(issueToken(input, FAST, key), (error: unknown) => {
        assert.ok(error instanceof ValidationError);
        assert.deepEqual(
          error.issues.map((i) => i.path),
          [path],
        );
        return true;
      });
    });
  }

  test('refuses a malformed key with ERR_INTERNAL (a server fault, not the caller’s)', async () => {
    const short = { ...key, signingSecret: key.signingSecret.slice(0, 32) };
    await assert.rejects(issueToken(claims(), FAST, short), { code: 'ERR_INTERNAL' });
  });

  test('drops claims it does not know and writes the rest in a fixed order', async () => {
    const input = { ...claims({ hl: undefined, role: 'guest' }), extra: 'x' } as BrokerClaims;
    const cipher = await issueToken(input, FAST, key);
    const { claims: out } = await openToken(cipher, [key], OPEN);
    assert.deepEqual(Object.keys(out), ['sub', 'aud', 'iss', 'iat', 'exp', 'jti', 'role', 'vrt', 'flow']);
    assert.ok(!('extra' in out));
  });
});

describe('openToken refuses', () => {
  test('a flipped character in each of the five segments (middle and last character)', async () => {
    const cipher = await issueToken(claims(), FAST, key);
    const segments = cipher.split('.');
    for (let s = 0; s < 5; s++) {
      const segment = segments[s]!;
      for (const position of [Math.floor(segment.length / 2), segment.length - 1]) {
        const ch = segment[position]!;
        const flipped = ch === 'A' ? 'B' : 'A';
        const copy = [...segments];
        copy[s] = segment.slice(0, position) + flipped + segment.slice(position + 1);
        const forged = copy.join('.');
        assert.notEqual(forged, cipher);
        await refused(openToken(forged, [key], OPEN), 'ERR_TOKEN_INVALID', undefined, cipher);
      }
    }
  });

  test('a header re-serialised with the same members (another order, a changed iss): the AAD no longer matches', async () => {
    const cipher = await issueToken(claims(), FAST, key);
    const reordered = forgeHeader(cipher, (h) => Object.fromEntries(Object.entries(h).reverse()));
    assert.deepEqual(readTokenHeader(reordered), readTokenHeader(cipher));
    await refused(openToken(reordered, [key], OPEN), 'ERR_TOKEN_INVALID', 'decryption');
    const otherOrg = forgeHeader(cipher, (h) => ({ ...h, iss: '549daacb-bfee-4919-a4e4-c0944a64de25' }));
    await refused(openToken(otherOrg, [key], OPEN), 'ERR_TOKEN_INVALID', 'decryption');
  });

  test('an expired token (at exp and after), carrying expiredAt', async () => {
    const cipher = await issueToken(claims({ exp: NOW + 10 }), FAST, key);
    const atExp = await refused(
      openToken(cipher, [key], { ...OPEN, now: NOW + 10 }),
      'ERR_TOKEN_EXPIRED',
      'expired',
    );
    assert.equal(atExp.expiredAt, NOW + 10);
    assert.equal(atExp.httpStatus, 403);
    assert.match(atExp.message, /expired at 2026-/);
    await refused(openToken(cipher, [key], { ...OPEN, now: NOW + 1000 }), 'ERR_TOKEN_EXPIRED');
    assert.equal((await openToken(cipher, [key], { ...OPEN, now: NOW + 9 })).claims.exp, NOW + 10);
  });

  test('a token before its nbf, carrying notBefore; it opens at nbf', async () => {
    const nbf = NOW + 3600;
    const cipher = await issueToken(claims({ nbf, exp: nbf + 900 }), FAST, key);
    const early = await refused(openToken(cipher, [key], OPEN), 'ERR_TOKEN_NOT_YET_VALID', 'not-yet-valid');
    assert.equal(early.notBefore, nbf);
    assert.equal(early.httpStatus, 403);
    assert.match(early.message, /opens at 2026-/);
    assert.equal((await openToken(cipher, [key], { ...OPEN, now: nbf })).claims.nbf, nbf);
  });

  test('p2c 10,000,000 in a forged header, before any key is looked up (no PBKDF2)', async () => {
    const cipher = forgeHeader(await issueToken(claims(), FAST, key), (h) => ({ ...h, p2c: 10_000_000 }));
    let lookups = 0;
    const spy = () => {
      lookups++;
      return [key];
    };
    assert.throws(() => readTokenHeader(cipher), { code: 'ERR_TOKEN_INVALID', reason: 'header' });
    const started = performance.now();
    await refused(openToken(cipher, spy, OPEN), 'ERR_TOKEN_INVALID', 'header');
    assert.equal(lookups, 0);
    assert.ok(performance.now() - started < 1000);
  });

  test('other out-of-bounds or unexpected header members, all before any key is looked up', async () => {
    const cipher = await issueToken(claims(), FAST, key);
    const edits: Array<[string, (h: Record<string, unknown>) => unknown]> = [
      ['p2c 999', (h) => ({ ...h, p2c: 999 })],
      ['p2c 32768', (h) => ({ ...h, p2c: 32768 })],
      ['p2c fractional', (h) => ({ ...h, p2c: 1000.5 })],
      ['p2c as a string', (h) => ({ ...h, p2c: '1000' })],
      ['salt of 7 bytes', (h) => ({ ...h, p2s: base64url.encode(new Uint8Array(7)) })],
      ['salt of 129 bytes', (h) => ({ ...h, p2s: base64url.encode(new Uint8Array(129)) })],
      ['salt not base64url', (h) => ({ ...h, p2s: 'a+b/c=' })],
      ['no p2s', ({ p2s: _, ...h }) => h],
      ['alg dir', (h) => ({ ...h, alg: 'dir' })],
      ['alg RSA-OAEP', (h) => ({ ...h, alg: 'RSA-OAEP' })],
      ['enc unknown', (h) => ({ ...h, enc: 'A512GCM' })],
      ['cty missing', ({ cty: _, ...h }) => h],
      ['zip', (h) => ({ ...h, zip: 'DEF' })],
      ['crit', (h) => ({ ...h, crit: ['exp'] })],
      ['no aud', ({ aud: _, ...h }) => h],
      ['no iss', ({ iss: _, ...h }) => h],
      ['kid not a string', (h) => ({ ...h, kid: 7 })],
      ['an array', () => []],
      ['null', () => null],
    ];
    for (const [name, edit] of edits) {
      let lookups = 0;
      const spy = () => {
        lookups++;
        return [key];
      };
      await refused(openToken(forgeHeader(cipher, edit), spy, OPEN), 'ERR_TOKEN_INVALID');
      assert.equal(lookups, 0, name);
    }
  });

  test('segments whose sizes do not fit alg/enc, before any key is looked up', async () => {
    const cipher = await issueToken(claims(), FAST, key);
    const [h, k, i, c, t] = cipher.split('.') as [string, string, string, string, string];
    const cut = (s: string) => s.slice(0, -4);
    for (const forged of [
      [h, cut(k), i, c, t],
      [h, k, cut(i), c, t],
      [h, k, i, c, cut(t)],
    ]) {
      let lookups = 0;
      await refused(
        openToken(
          forged.join('.'),
          () => {
            lookups++;
            return [key];
          },
          OPEN,
        ),
        'ERR_TOKEN_INVALID',
        'malformed',
      );
      assert.equal(lookups, 0);
    }
  });

  test('a token from another BrokerKey (other kid: no crypto; same kid: decryption fails)', async () => {
    const cipher = await issueToken(claims(), FAST, key);
    const stranger = generateBrokerKey(NOW);
    await refused(openToken(cipher, [stranger], OPEN), 'ERR_TOKEN_INVALID', 'unknown-key');
    const impostor: BrokerKey = { ...stranger, kid: key.kid };
    await refused(openToken(cipher, [impostor], OPEN), 'ERR_TOKEN_INVALID', 'decryption');
    await refused(openToken(cipher, [], OPEN), 'ERR_TOKEN_INVALID', 'unknown-key');
  });

  test('a right password with a wrong HMAC key (the inner signature does not verify)', async () => {
    const cipher = await issueToken(claims(), FAST, key);
    const halfKey: BrokerKey = { ...key, signingSecret: generateBrokerKey(NOW).signingSecret };
    await refused(openToken(cipher, [halfKey], OPEN), 'ERR_TOKEN_INVALID', 'signature');
  });

  test('another audience (checked in the header, before any crypto)', async () => {
    const cipher = await issueToken(claims(), FAST, key);
    let lookups = 0;
    const spy = () => {
      lookups++;
      return [key];
    };
    await refused(
      openToken(cipher, spy, { ...OPEN, audience: 'someone-else' }),
      'ERR_TOKEN_INVALID',
      'audience',
    );
    assert.equal(lookups, 0);
  });

  test('header aud/iss that disagree with the signed claims (a well-formed, validly sealed forgery)', async () => {
    const jws = await new SignJWT({ ...claims(), iss: 'another-org' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(key.signingSecret);
    const header = {
      p2s: '',
      p2c: 0,
      aud: AUDIENCE,
      iss: ORG,
      cty: 'JWT',
      enc: 'A128GCM',
      alg: 'PBES2-HS256+A128KW',
      kid: key.kid,
    } as const;
    const pbes2 = { salt: new Uint8Array(8).fill(1), iterations: 1000 };
    const cipher = await sealCompact(new TextEncoder().encode(jws), header, key.encryptionSecret, pbes2);
    await refused(openToken(cipher, [key], OPEN), 'ERR_TOKEN_INVALID', 'claims');
  });

  test('signed content that is not one of our claim sets, or an unsigned/other-typ JWT inside', async () => {
    const seal = (text: string | Uint8Array) =>
      sealCompact(
        typeof text === 'string' ? new TextEncoder().encode(text) : text,
        {
          p2s: '',
          p2c: 0,
          aud: AUDIENCE,
          iss: ORG,
          cty: 'JWT',
          enc: 'A256GCM',
          alg: 'PBES2-HS512+A256KW',
          kid: key.kid,
        },
        key.encryptionSecret,
        { salt: new Uint8Array(16), iterations: 1000 },
      );
    const sign = (payload: Record<string, unknown>, typ = 'JWT') =>
      new SignJWT(payload).setProtectedHeader({ alg: 'HS512', typ }).sign(key.signingSecret);
    const unsigned = `${base64url.encode('{"alg":"none"}')}.${base64url.encode(JSON.stringify(claims()))}.`;
    const cases: Array<[string, string, TokenFailure]> = [
      ['role admin', await seal(await sign({ ...claims(), role: 'admin' })), 'claims'],
      ['no jti', await seal(await sign({ ...claims(), jti: undefined })), 'claims'],
      ['aud as an array', await seal(await sign({ ...claims(), aud: [AUDIENCE] })), 'claims'],
      ['typ not JWT', await seal(await sign({ ...claims() }, 'at+jwt')), 'claims'],
      ['alg none', await seal(unsigned), 'signature'],
      ['not a JWS', await seal('hello'), 'signature'],
      ['invalid UTF-8', await seal(Uint8Array.of(0x65, 0x79, 0xff, 0x2e)), 'signature'],
    ];
    for (const [name, cipher, reason] of cases) {
      const error = await refused(openToken(cipher, [key], OPEN), 'ERR_TOKEN_INVALID');
      assert.equal(error.reason, reason, name);
    }
  });

  test('garbage: empty, junk, wrong segment counts, non-JSON header, too long, not a string', async () => {
    const cipher = await issueToken(claims(), FAST, key);
    const [, k, i, c, t] = cipher.split('.');
    const notJson = Buffer.from('not json').toString('base64url');
    const cases: unknown[] = [
      '',
      'garbage',
      'a.b.c.d.e',
      '....',
      `${cipher}.extra`,
      cipher.split('.').slice(0, 4).join('.'),
      cipher.split('.').slice(0, 3).join('.'),
      [notJson, k, i, c, t].join('.'),
      [Buffer.from('"a string"').toString('base64url'), k, i, c, t].join('.'),
      [Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64url'), k, i, c, t].join('.'),
      `${cipher.slice(0, 10)} ${cipher.slice(11)}`,
      `${cipher.split('.')[0]}=.${[k, i, c, t].join('.')}`,
      'x'.repeat(MAX_TOKEN_LENGTH + 1),
      undefined,
      null,
      42,
    ];
    for (const input of cases) {
      await refused(
        openToken(input as string, () => assert.fail('no key lookup'), OPEN),
        'ERR_TOKEN_INVALID',
      );
    }
  });
});

describe('key rotation', () => {
  test('a token from the old key opens when keys = [new, old], and new tokens use the new key', async () => {
    const old = generateBrokerKey(NOW - 90 * 86_400);
    const fresh = generateBrokerKey(NOW);
    const oldToken = await issueToken(claims(), FAST, old);
    const newToken = await issueToken(claims(), FAST, fresh);
    assert.equal((await openToken(oldToken, [fresh, old], OPEN)).kid, old.kid);
    assert.equal((await openToken(newToken, [fresh, old], OPEN)).kid, fresh.kid);
    // Retire the old key: its tokens stop opening.
    await refused(openToken(oldToken, [fresh], OPEN), 'ERR_TOKEN_INVALID', 'unknown-key');
  });

  test('a key function is asked with the header kid', async () => {
    const old = generateBrokerKey(NOW - 90 * 86_400);
    const oldToken = await issueToken(claims(), FAST, old);
    const asked: Array<string | undefined> = [];
    const opened = await openToken(
      oldToken,
      (kid) => {
        asked.push(kid);
        return [key, old];
      },
      OPEN,
    );
    assert.deepEqual(asked, [old.kid]);
    assert.equal(opened.kid, old.kid);
  });

  test('a Cisco-shaped token (no kid) is tried with every key, wrong ones skipped', async () => {
    const jws = await new SignJWT({ ...claims() })
      .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
      .sign(key.signingSecret);
    const header = {
      p2s: '',
      p2c: 0,
      aud: AUDIENCE,
      iss: ORG,
      cty: 'JWT',
      enc: 'A256GCM',
      alg: 'PBES2-HS512+A256KW',
    } as const;
    const cipher = await sealCompact(new TextEncoder().encode(jws), header, key.encryptionSecret, {
      salt: crypto.getRandomValues(new Uint8Array(36)),
      iterations: 1000,
    });
    assert.deepEqual(Object.keys(headerOf(cipher)), CISCO_ORDER.slice(0, -1));
    const opened = await openToken(cipher, [generateBrokerKey(NOW), generateBrokerKey(NOW), key], OPEN);
    assert.equal(opened.kid, key.kid);
    assert.equal(opened.header.kid, undefined);
    await refused(openToken(cipher, [generateBrokerKey(NOW)], OPEN), 'ERR_TOKEN_INVALID', 'decryption');
  });
});

test('the default-like parameters of the request (PBES2-HS512+A256KW, A256GCM, HS512) at a random p2c', async () => {
  const iterations = 1000 + Math.floor(Math.random() * (32767 - 1000 + 1));
  const params = { jweAlg: 'PBES2-HS512+A256KW' as JweAlg, enc: 'A256GCM' as Enc, jwsAlg: 'HS512' as JwsAlg };
  const cipher = await issueToken(claims(), { ...params, saltLength: 36, iterations }, key);
  const { header } = await openToken(cipher, [key], OPEN);
  assert.equal(header.p2c, iterations);
  // Same segment sizes as Cisco's (reference §9.1): 40-byte wrapped key, 12-byte IV, 16-byte tag.
  const [, k, i, , t] = cipher.split('.') as [string, string, string, string, string];
  assert.deepEqual([k.length, i.length, t.length], [54, 16, 22]);
});
