import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { storeContract } from '../../test/support/store-contract.js';
import { SqliteStore } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'ic-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('SQLite file', async () => new SqliteStore(join(dir, 'store.db')));
