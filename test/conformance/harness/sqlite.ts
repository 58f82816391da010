import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteConnection, SqliteConnector } from '../../../recipes/index.ts';
import { uid } from '../../helpers/wait.ts';
import type { ConnectorHarness, HarnessTable } from './types.ts';

/** SQLite: a fresh database file per setup, in its own temporary directory. */
export const sqliteHarness: ConnectorHarness = {
  name: 'sqlite',

  async unavailable() {
    // Nothing to reach: the library is in-process and the file is created on demand.
    return undefined;
  },

  async setup(): Promise<HarnessTable> {
    const dir = mkdtempSync(join(tmpdir(), 'wbsync-sqlite-'));
    const path = join(dir, 'conformance.db');
    const table = `conf_${uid()}`;
    const q = `"${table}"`;
    const db = new Database(path);
    db.pragma('journal_mode = WAL'); // as the driver opens it: the harness reads while the runtime writes
    db.exec(`CREATE TABLE ${q} (id TEXT PRIMARY KEY, first VARCHAR(20), last TEXT, age INTEGER, extra TEXT)`);
    return {
      connector: new SqliteConnector(new SqliteConnection(path), table, 'id'),
      params: {},
      // A file has no credentials to refuse.
      badParams: undefined,
      async rows() {
        // SQLite's default BINARY collation orders ids byte-wise, as a JavaScript sort of ASCII ids does.
        return db.prepare(`SELECT id, first, last, CAST(age AS TEXT) AS age, extra FROM ${q} ORDER BY id`).all() as Array<{
          id: string; first: string | null; last: string | null; age: string | null; extra: string | null;
        }>;
      },
      async setExtra(id, value) {
        db.prepare(`UPDATE ${q} SET extra = ? WHERE id = ?`).run(value, id);
      },
      async dropConnections() {
        // SQLite has no server and no sessions to kill: the runtime's handle is a file it opened
        // in its own process. Deleting or locking the file would test something else (data loss,
        // SQLITE_BUSY), not a dropped connection; so there is nothing to do.
      },
      async teardown() {
        if (db.open) db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
