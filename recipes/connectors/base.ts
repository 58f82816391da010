import { type Credential, isCredential } from '../credential.ts';
import { RecipeError } from '../errors.ts';

/** The databases wbsync writes to. */
export type ConnectorKind = 'mysql' | 'postgres' | 'sqlite' | 'cassandra' | 'oracle' | 'snowflake';

/** What every connection declaration offers: where it goes, safe to log. */
export interface ConnectionSpec {
  readonly kind: ConnectorKind;
  /** Where it connects, never with credentials. */
  describe(): string;
}

/** Checks a credential argument, naming the field on error. */
export function credential(value: unknown, field: string): Credential {
  if (!isCredential(value)) throw new RecipeError(`${field} must be a string or a function returning one (got ${typeof value})`);
  return value;
}

/** Checks a non-empty string argument, naming the field on error. */
export function nonEmpty(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new RecipeError(`${field} must be a non-empty string`);
  return value;
}

/** True for a plain options object (the single-argument form of every connection). */
export function isOptionsObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof value !== 'function';
}

/**
 * A connector: one table behind one connection. Pure data; the runtime owns the driver.
 * Every database's connector extends this with its own connection type.
 */
export abstract class BaseConnector<C extends ConnectionSpec = ConnectionSpec> {
  abstract readonly kind: ConnectorKind;
  readonly connection: C;
  readonly table: string;
  readonly pkColumn: string;

  /**
   * @param connection - where the table lives
   * @param table - table name (`table` or `schema.table`)
   * @param pkColumn - primary-key column; it receives the id taken from the Redis key
   */
  constructor(
    connection: C,
    table: string,
    pkColumn: string,
    connectionClass: abstract new (...args: never[]) => C,
  ) {
    this.connection = connection;
    this.table = table;
    this.pkColumn = pkColumn;
    const name = new.target.name;
    if (!(connection instanceof connectionClass)) throw new RecipeError(`${name} connection must be a ${connectionClass.name}`);
    nonEmpty(table, `${name} table`);
    nonEmpty(pkColumn, `${name} pkColumn`);
  }

  /** `<kind> <where> table <table>`, safe to log. */
  describe(): string {
    return `${this.kind} ${this.connection.describe()} table ${this.table}`;
  }
}
