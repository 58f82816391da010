import { cassandraHarness } from './cassandra.ts';
import { mysqlHarness } from './mysql.ts';
import { postgresHarness } from './postgres.ts';
import { sqliteHarness } from './sqlite.ts';
import type { ConnectorHarness } from './types.ts';

/** Every connector with a live server here. */
export const HARNESSES: readonly ConnectorHarness[] = [mysqlHarness, postgresHarness, sqliteHarness, cassandraHarness];
