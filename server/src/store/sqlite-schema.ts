/**
 * The embedded store's schema, its migrations, row shapes and prepared statements. Kept apart
 * from the store class so each reads on its own: the SQL here, the behaviour there.
 */
export { SCHEMA_VERSION, SCHEMA, migrate } from './sqlite-ddl.js';
export {
  OUT_OF_LINE_CHARS,
  type UserRow,
  type UserPatchParams,
  type CredentialRow,
  type ExpressionRow,
  type OpResultRow,
  type PatchParams,
  fromUserRow,
  fromCredentialRow,
  type QuarantineRow,
  toRow,
  isOutOfLine,
  fromRow,
  fromOpRow,
} from './sqlite-rows.js';
export {
  type Statement,
  type Statements,
  EXPRESSION_COLUMNS,
  prepare,
} from './sqlite-statements.js';

/** File name of the database inside the data directory. */
export const SQLITE_FILE_NAME = 'expressionist.db';
