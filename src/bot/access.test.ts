import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BotAccess, botAccessFromEnv, orgKey } from './access.js';

const ORG_UUID = '1eb65fdf-9643-417f-9974-ad72cae0e10f';
const ORG_ID = Buffer.from(`ciscospark://us/ORGANIZATION/${ORG_UUID}`).toString('base64');

describe('BotAccess', () => {
  test('closed without lists: everyone is refused, as closed', () => {
    const access = new BotAccess();
    assert.equal(access.closed, true);
    assert.deepEqual(access.check({ emails: ['a@clinic.example'], orgId: ORG_ID }), {
      allowed: false,
      reason: 'closed',
    });
    assert.equal(new BotAccess({ allowedDomains: [' '], allowedOrgs: [] }).closed, true);
  });

  test('domains: exact, case-insensitive; a subdomain or a look-alike is another domain', () => {
    const access = new BotAccess({ allowedDomains: ['Clinic.Example'] });
    assert.equal(access.check({ emails: ['dr@clinic.example'] }).allowed, true);
    assert.equal(access.check({ emails: ['DR@CLINIC.EXAMPLE'] }).allowed, true);
    for (const email of [
      'dr@mail.clinic.example',
      'dr@clinic.example.evil',
      'dr@evilclinic.example',
      'clinic.example@gmail.com',
      'dr@clinic.example@gmail.com',
      'no-at-sign',
    ])
      assert.deepEqual(access.check({ emails: [email] }), { allowed: false, reason: 'not allowed' }, email);
    assert.equal(access.check({}).allowed, false);
    assert.equal(access.check(undefined).allowed, false);
  });

  test('orgs: the base64 id or its uuid, either way round', () => {
    for (const listed of [ORG_ID, ORG_UUID, ORG_UUID.toUpperCase(), ORG_ID.replace(/=+$/, '')]) {
      const access = new BotAccess({ allowedOrgs: [listed] });
      assert.deepEqual(access.check({ emails: ['x@gmail.com'], orgId: ORG_ID }), {
        allowed: true,
        by: 'org',
      });
      assert.deepEqual(access.check({ emails: ['x@gmail.com'], orgId: ORG_UUID }), {
        allowed: true,
        by: 'org',
      });
      const other = Buffer.from('ciscospark://us/ORGANIZATION/00000000-0000-0000-0000-000000000000').toString(
        'base64',
      );
      assert.equal(access.check({ emails: ['x@gmail.com'], orgId: other }).allowed, false);
    }
    assert.equal(orgKey(` ${ORG_ID} `), ORG_UUID);
    assert.equal(orgKey('plain-id'), 'plain-id');
  });

  test('from the environment: comma lists; a malformed domain is refused at start', () => {
    assert.deepEqual(botAccessFromEnv({}), {});
    assert.deepEqual(botAccessFromEnv({ BOT_ALLOWED_DOMAINS: ' clinic.example, @other.example ,,' }), {
      allowedDomains: ['clinic.example', 'other.example'],
    });
    assert.deepEqual(botAccessFromEnv({ BOT_ALLOWED_ORGS: `${ORG_ID},${ORG_UUID}` }), {
      allowedOrgs: [ORG_ID, ORG_UUID],
    });
    assert.throws(() => botAccessFromEnv({ BOT_ALLOWED_DOMAINS: '*.example' }), /BOT_ALLOWED_DOMAINS/);
    assert.throws(() => botAccessFromEnv({ BOT_ALLOWED_DOMAINS: 'gmail' }), /not an email domain/);
  });

  test('describe: what serve prints', () => {
    assert.match(new BotAccess().describe(), /closed/);
    assert.match(new BotAccess({ allowedDomains: ['clinic.example'] }).describe(), /clinic\.example/);
    assert.match(new BotAccess({ allowedOrgs: [ORG_ID] }).describe(), /1 Webex organisation/);
  });
});
