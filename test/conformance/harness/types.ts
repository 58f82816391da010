import type { Connector } from '../../../recipes/options.ts';

/**
 * What the conformance suite needs from each connector's real server. Every harness creates a
 * fresh table per `setup()` with these columns:
 *   id    text primary key
 *   first text of at most 20 characters   (a longer value must be refused)
 *   last  text
 *   age   32-bit integer                   ('notanumber' must be refused)
 *   extra text, never mapped               (an upsert must leave it alone)
 * The suite maps first_name->first, last_name->last, age->age.
 */
export interface ConnectorHarness {
  readonly name: string;
  /** False when the database has no length limit on text (Cassandra): a long value is then not refused. */
  readonly limitsText?: boolean;
  /** Undefined when the server answers; otherwise why the suite is skipped for it. */
  unavailable(): Promise<string | undefined>;
  /**
   * Creates a fresh table and returns a connector for it whose credentials (if the database has
   * any) are functions reading `configGet(params.user)` / `configGet(params.password)`.
   */
  setup(): Promise<HarnessTable>;
}

export interface HarnessTable {
  readonly connector: Connector;
  /** Parameter values that connect successfully. */
  readonly params: Readonly<Record<string, string>>;
  /** Parameter values that the server refuses (wrong password or user), or undefined when it has no credentials. */
  readonly badParams: Readonly<Record<string, string>> | undefined;
  /** Every row, values as text (null for NULL), ordered by id. */
  rows(): Promise<Array<{ id: string; first: string | null; last: string | null; age: string | null; extra: string | null }>>;
  /** Sets the unmapped `extra` column of a row directly in the database. */
  setExtra(id: string, value: string): Promise<void>;
  /** Makes the server drop every connection of the connector's user (kill sessions). */
  dropConnections(): Promise<void>;
  teardown(): Promise<void>;
}
