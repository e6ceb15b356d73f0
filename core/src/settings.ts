/**
 * The runtime settings, declared once.
 *
 * Each row says everything the system needs to know about a
 * field: its key on the wire, the environment variable that seeds it on a fresh store, the
 * operator it times (if any), its bounds and its default. `SettingsSchema`, `DEFAULT_SETTINGS`,
 * `durationOf`, the orchestrator's environment schema and the dashboard's settings form are all
 * derived from this table, so adding or renaming a setting is a one-line change here that the
 * compiler then carries everywhere else. This module has no zod and no I/O, so the planner can
 * use it without pulling the wire contract in.
 */
import type { Operator } from './types.js';

/** Longest an operation may be set to take: one hour. */
const MAX_OPERATION_MS = 3_600_000;

/** One settings field. */
export interface SettingsFieldSpec {
  /** Key in `Settings` and in `PUT /api/v1/settings`. */
  readonly key: string;
  /** Environment variable that seeds the field when the store has no settings yet. */
  readonly env: string;
  /** The operator whose duration this is, or null for a field that times no operator. */
  readonly operator: Operator | null;
  /** Inclusive bounds, in whole milliseconds. */
  readonly min: number;
  readonly max: number;
  readonly default: number;
  /**
   * Milliseconds in one unit of the environment variable, when it is not milliseconds (days for
   * RETENTION_DAYS); such a variable may be fractional. The dashboard shows the field in it too.
   */
  readonly envUnitMs?: number;
}

/** One day in milliseconds: the unit `RETENTION_DAYS` is given in. */
export const DAY_MS = 86_400_000;

/** Every settings field, in the order forms and tables show them. */
export const SETTINGS_FIELDS = [
  {
    key: 'additionMs',
    env: 'TIME_ADDITION_MS',
    operator: '+',
    min: 0,
    max: MAX_OPERATION_MS,
    default: 200,
  },
  {
    key: 'subtractionMs',
    env: 'TIME_SUBTRACTION_MS',
    operator: '-',
    min: 0,
    max: MAX_OPERATION_MS,
    default: 200,
  },
  {
    key: 'multiplicationMs',
    // Plural as the course's environment spells it.
    env: 'TIME_MULTIPLICATIONS_MS',
    operator: '*',
    min: 0,
    max: MAX_OPERATION_MS,
    default: 1000,
  },
  {
    key: 'divisionMs',
    env: 'TIME_DIVISIONS_MS',
    operator: '/',
    min: 0,
    max: MAX_OPERATION_MS,
    default: 1000,
  },
  {
    key: 'lostAgentRetentionMs',
    env: 'LOST_AGENT_RETENTION_MS',
    operator: null,
    min: 0,
    max: 7 * 24 * 3_600_000,
    default: 60_000,
  },
  {
    // How long a finished expression (done, error, canceled) is kept; 0 keeps it forever.
    key: 'retentionMs',
    env: 'RETENTION_DAYS',
    envUnitMs: DAY_MS,
    operator: null,
    min: 0,
    max: 36_500 * DAY_MS,
    default: 30 * DAY_MS,
  },
] as const satisfies readonly SettingsFieldSpec[];

/** One row of `SETTINGS_FIELDS`, with its literal types. */
export type SettingsField = (typeof SETTINGS_FIELDS)[number];

/** A settings key: `additionMs`, …, `lostAgentRetentionMs`. */
export type SettingsKey = SettingsField['key'];

/** The rows that time an operator. */
export type DurationField = Extract<SettingsField, { operator: Operator }>;

/** A settings key that times an operator. */
export type DurationKey = DurationField['key'];

/** Milliseconds each operator takes on an agent. */
export type OperatorDurations = { [F in DurationField as F['key']]: number };

/** Settings key of each operator's duration. */
export const DURATION_KEYS = Object.fromEntries(
  SETTINGS_FIELDS.flatMap((f) => (f.operator === null ? [] : [[f.operator, f.key]])),
) as { readonly [F in DurationField as F['operator']]: F['key'] };

/** Each row by its key. */
export const SETTINGS_BY_KEY = Object.fromEntries(SETTINGS_FIELDS.map((f) => [f.key, f])) as {
  readonly [F in SettingsField as F['key']]: F;
};

/** Looks up a row by key (`undefined` for a string that is no settings key). */
export function settingsField(key: string): SettingsField | undefined {
  return SETTINGS_FIELDS.find((f) => f.key === key);
}
