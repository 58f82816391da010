import { errorRule } from '../classify.ts';
import type { FailureKind } from '../types.ts';

/**
 * The server errnos this connector knows (MySQL and MariaDB share the numbers below 1900; above,
 * each names its own). Anything else, client-side errors (negative errnos, CR_* 2xxx, none at
 * all) included, is retried: see `../classify.ts`.
 */
export const MYSQL_ERRORS = errorRule<number>({
  // One row's own values: isolated and dead-lettered.
  record: [
    1048, // ER_BAD_NULL_ERROR: column cannot be null
    1062, // ER_DUP_ENTRY: duplicate on a unique key other than the primary one
    1169, // ER_DUP_UNIQUE
    1216, 1217, // ER_NO_REFERENCED_ROW, ER_ROW_IS_REFERENCED (foreign keys)
    1451, 1452, // ER_ROW_IS_REFERENCED_2, ER_NO_REFERENCED_ROW_2 (foreign keys)
    1557, 1761, 1762, // ER_FOREIGN_DUPLICATE_KEY*: a cascade would duplicate a child's key
    1859, // ER_DUP_UNKNOWN_IN_INDEX
    1263, // ER_WARN_NULL_TO_NOTNULL
    1264, // ER_WARN_DATA_OUT_OF_RANGE
    1265, // WARN_DATA_TRUNCATED
    1292, // ER_TRUNCATED_WRONG_VALUE: incorrect date, time or other value
    1300, // ER_INVALID_CHARACTER_STRING: bad encoding
    1365, // ER_DIVISION_BY_ZERO (a generated column or a trigger, strict mode)
    1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: incorrect integer or string value
    1367, // ER_ILLEGAL_VALUE_FOR_TYPE
    1406, // ER_DATA_TOO_LONG
    1411, // ER_WRONG_VALUE_FOR_TYPE
    1416, // ER_CANT_CREATE_GEOMETRY_OBJECT
    1525, // ER_WRONG_VALUE
    1644, // ER_SIGNAL_EXCEPTION: a trigger refused the row (SIGNAL SQLSTATE '45000')
    1690, // ER_DATA_OUT_OF_RANGE
    3140, // ER_INVALID_JSON_TEXT (MySQL JSON column)
    3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
    4025, // ER_CONSTRAINT_FAILED (MariaDB CHECK; MySQL's 4025 is a DDL error no write raises)
  ],
  // The recipe and the table disagree: every row would fail alike.
  schema: [
    1054, // ER_BAD_FIELD_ERROR: no such column
    1064, // ER_PARSE_ERROR
    1110, // ER_FIELD_SPECIFIED_TWICE
    1142, // ER_TABLEACCESS_DENIED_ERROR
    1143, // ER_COLUMNACCESS_DENIED_ERROR
    1146, // ER_NO_SUCH_TABLE
    1288, 1471, // ER_NON_UPDATABLE_TABLE, ER_NON_INSERTABLE_TABLE (a view)
    1356, // ER_VIEW_INVALID
    1364, // ER_NO_DEFAULT_FOR_FIELD: an unmapped NOT NULL column without a default
  ],
  // The connection, the server's state, resources or the credentials.
  transient: [
    1021, // ER_DISK_FULL
    1037, 1038, 1041, // out of memory, sort memory, resources
    1040, // ER_CON_COUNT_ERROR
    1044, 1045, // access denied (the credentials may be tuned meanwhile)
    1049, // ER_BAD_DB_ERROR: the database does not exist (yet)
    1053, // ER_SERVER_SHUTDOWN
    1114, // ER_RECORD_FILE_FULL: "the table is full" until it is enlarged or emptied
    1152, 1184, // aborted connection
    1158, 1159, 1160, 1161, // ER_NET_READ_ERROR, _READ_INTERRUPTED, _ERROR_ON_WRITE, _WRITE_INTERRUPTED
    1180, 1181, // error during commit or rollback
    1203, 1226, // too many connections for the user, resource limit reached
    1205, // ER_LOCK_WAIT_TIMEOUT
    1213, // ER_LOCK_DEADLOCK
    1290, 1792, 1836, // read-only server or transaction
    1317, // ER_QUERY_INTERRUPTED (KILL QUERY)
    1637, // ER_TOO_MANY_CONCURRENT_TRXS
    1927, // ER_CONNECTION_KILLED (MariaDB)
    1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
    3024, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
    4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL)
  ],
});

/** Sorts a mysql2 error by its errno; a fatal error (the connection is gone) is retried whatever its errno. */
export function classifyMysqlError(err: unknown): FailureKind {
  const e = err as { errno?: unknown; fatal?: unknown } | null | undefined;
  const errno = typeof e?.errno === 'number' && e.fatal !== true ? e.errno : undefined;
  return MYSQL_ERRORS.classify([errno]);
}
