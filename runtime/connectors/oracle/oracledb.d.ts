/**
 * The part of node-oracledb (6.x) that the Oracle connector uses. The package ships no type
 * declarations and `@types/oracledb` is not a dependency, so this describes only what we call.
 * The default export is the driver's mutable module object: tests replace `getConnection` on it.
 */
declare module 'oracledb' {
  /** A database type constant such as `oracledb.DB_TYPE_VARCHAR`. */
  export interface DbType {
    readonly num: number;
    readonly name: string;
  }

  /** A result column's description, as given to `fetchTypeHandler`. */
  export interface Metadata {
    readonly name: string;
    readonly dbType?: DbType;
  }

  /** One bind position's type for `executeMany` (`maxSize` in bytes, required for strings). */
  export interface BindDefinition {
    readonly type: DbType;
    readonly maxSize?: number;
  }

  export interface ExecuteOptions {
    autoCommit?: boolean;
    outFormat?: number;
    bindDefs?: BindDefinition[];
    batchErrors?: boolean;
    fetchTypeHandler?: (metadata: Metadata) => { type: DbType } | undefined;
  }

  export interface Result<T> {
    rows?: T[];
    rowsAffected?: number;
    metaData?: Metadata[];
  }

  /** A bound value: text, bytes or NULL. */
  export type BindValue = string | number | Buffer | null;

  export interface Connection {
    /** Milliseconds any single round trip may take (0: unlimited). */
    callTimeout: number;
    execute<T = unknown>(sql: string, binds?: BindValue[], options?: ExecuteOptions): Promise<Result<T>>;
    executeMany(sql: string, binds: BindValue[][], options?: ExecuteOptions): Promise<Result<unknown>>;
    commit(): Promise<void>;
    rollback(): Promise<void>;
    close(): Promise<void>;
  }

  export interface ConnectionAttributes {
    user?: string;
    password?: string;
    connectString?: string;
    /** Seconds to establish the whole connection. */
    connectTimeout?: number;
    /** Seconds to establish the network transport. */
    transportConnectTimeout?: number;
  }

  export interface OracleDb {
    getConnection: (attributes: ConnectionAttributes) => Promise<Connection>;
    readonly OUT_FORMAT_ARRAY: number;
    readonly OUT_FORMAT_OBJECT: number;
    readonly STRING: DbType;
    readonly BUFFER: DbType;
    readonly DB_TYPE_VARCHAR: DbType;
    readonly DB_TYPE_NVARCHAR: DbType;
    readonly DB_TYPE_RAW: DbType;
    readonly DB_TYPE_LONG_RAW: DbType;
    readonly DB_TYPE_CLOB: DbType;
    readonly DB_TYPE_NCLOB: DbType;
    readonly DB_TYPE_BLOB: DbType;
    readonly DB_TYPE_NUMBER: DbType;
  }

  const oracledb: OracleDb;
  export default oracledb;
}
