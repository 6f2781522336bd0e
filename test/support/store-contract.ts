/**
 * The behaviour every Store must have. Each backend's test file runs this same suite
 * (the same tests, not a copy), so SQLite and PostgreSQL cannot drift apart.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ApiKeyRecord, ShortLinkRecord, Store } from '../../src/store/types.js';

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    const org = { id: randomUUID(), name: 'Clinic', createdAt: 1_795_876_200 };
    before(async () => {
      store = await open();
      await store.migrate();
      await store.migrate(); // idempotent
      await store.createOrg(org);
    });
    after(async () => {
      await store.close();
    });

    test('ping and organisations', async () => {
      await store.ping();
      assert.deepEqual(await store.getOrg(org.id), org);
      assert.equal(await store.getOrg(randomUUID()), undefined);
      assert.ok(await store.getDefaultOrg());
    });

    test('API keys: create, find by hash, touch coarsely, list, revoke once', async () => {
      const key: ApiKeyRecord = {
        id: `key_${randomUUID()}`,
        orgId: org.id,
        name: 'ehr',
        prefix: 'ick_ab',
        hash: randomUUID().replaceAll('-', ''),
        createdAt: 100,
      };
      await store.createApiKey(key);
      assert.deepEqual(await store.findApiKeyByHash(key.hash), key);
      await store.touchApiKey(key.id, 200);
      assert.equal((await store.findApiKeyByHash(key.hash))?.lastUsedAt, 200);
      await store.touchApiKey(key.id, 230, 60); // within a minute: no write
      assert.equal((await store.findApiKeyByHash(key.hash))?.lastUsedAt, 200);
      await store.touchApiKey(key.id, 300, 60);
      assert.equal((await store.findApiKeyByHash(key.hash))?.lastUsedAt, 300);
      assert.ok((await store.listApiKeys(org.id)).some((k) => k.id === key.id));
      assert.equal(await store.revokeApiKey(org.id, key.id, 400), true);
      assert.equal(await store.revokeApiKey(org.id, key.id, 500), false);
      assert.equal((await store.findApiKeyByHash(key.hash))?.revokedAt, 400);
      assert.equal(await store.revokeApiKey(randomUUID(), key.id, 500), false);
      await assert.rejects(store.createApiKey({ ...key, id: 'other' }), 'a hash is unique');
    });

    test('broker keys: one active at a time, newest first', async () => {
      await store.addBrokerKey({ kid: 'k1', material: 'm1', createdAt: 1, active: true });
      await store.addBrokerKey({ kid: 'k2', material: 'm2', createdAt: 2, active: true });
      const keys = await store.listBrokerKeys();
      assert.deepEqual(
        keys.map((k) => [k.kid, k.active]),
        [
          ['k2', true],
          ['k1', false],
        ],
      );
    });

    test('short links: stored whole, all or none on a taken code', async () => {
      const link = (code: string): ShortLinkRecord => ({
        code,
        orgId: org.id,
        cipher: `cipher-${code}`,
        role: 'host',
        vertical: 'gen',
        hostLogin: false,
        subject: 'Visit 42',
        expiresAt: 2_000_000_000,
        createdAt: 1_795_876_200,
      });
      assert.deepEqual(await store.insertShortLinks([link('Abc1234'), link('Abc1235')]), []);
      assert.deepEqual(await store.getShortLink('Abc1234'), link('Abc1234'));
      assert.equal(await store.getShortLink('abc1234'), undefined, 'codes are case-sensitive');
      assert.deepEqual(await store.insertShortLinks([link('Zzz9999'), link('Abc1235')]), ['Abc1235']);
      assert.equal(
        await store.getShortLink('Zzz9999'),
        undefined,
        'nothing inserted when one code was taken',
      );
      assert.deepEqual(await store.insertShortLinks([link('Dup0000'), link('Dup0000')]), ['Dup0000']);
    });

    test('spaces: same subject, same space; concurrent first use makes one', async () => {
      let made = 0;
      const make = () => {
        made += 1;
        return { id: randomUUID(), createdAt: 5 };
      };
      const [a, b] = await Promise.all([
        store.getOrCreateSpace(org.id, 'Visit 42', make),
        store.getOrCreateSpace(org.id, 'Visit 42', make),
      ]);
      assert.equal(a.id, b.id);
      const c = await store.getOrCreateSpace(org.id, 'Visit 43', make);
      assert.notEqual(c.id, a.id);
      assert.ok(c.seq > a.seq);
      assert.ok(made >= 2);
    });
  });
}
