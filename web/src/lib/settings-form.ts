/**
 * Client-side checks for the settings form. Fields, bounds and which operator each one times
 * come from core's `SETTINGS_FIELDS`, the same table the server validates with, so the form
 * cannot drift from the API.
 */
import {
  DAY_MS,
  SETTINGS_BY_KEY,
  SETTINGS_FIELDS,
  settingsField,
  type SettingsKey,
} from '@expressionist/core';
import { operatorSymbol } from './format';

export type SettingField = SettingsKey;

/** Every field, in the table's order. */
export const SETTING_FIELDS: readonly SettingField[] = SETTINGS_FIELDS.map((f) => f.key);

/** Fields that time an operator (the "Operation times" group). */
export const DURATION_FIELDS: readonly SettingField[] = SETTINGS_FIELDS.flatMap((f) =>
  f.operator === null ? [] : [f.key],
);

/** Fields about what the store keeps (the "Stored data" group). */
export const DATA_FIELDS: readonly SettingField[] = ['retentionMs'];

/** Other fields that time no operator (the "Agents" group). */
export const AGENT_FIELDS: readonly SettingField[] = SETTINGS_FIELDS.flatMap((f) =>
  f.operator === null && !DATA_FIELDS.includes(f.key) ? [f.key] : [],
);

/** Narrows the `field` of a SETTINGS_INVALID answer to a known form field. */
export function toSettingField(value: string | undefined): SettingField | null {
  return value === undefined ? null : (settingsField(value)?.key ?? null);
}

export function settingBounds(field: SettingField): { min: number; max: number } {
  const { min, max } = SETTINGS_BY_KEY[field];
  return { min, max };
}

/** The operator sign shown beside a duration field, or '' for a field that times none. */
export function settingSymbol(field: SettingField): string {
  const { operator } = SETTINGS_BY_KEY[field];
  return operator === null ? '' : operatorSymbol(operator);
}

/** One empty input value per field. */
export function emptySettingValues(): Record<SettingField, string> {
  return Object.fromEntries(SETTING_FIELDS.map((f) => [f, ''])) as Record<SettingField, string>;
}

/** The unit a field is typed in: milliseconds, or days for how long data is kept. */
export type SettingUnit = 'ms' | 'days';

/** Days are typed with up to this many decimals (0.000001 day is 86.4 ms). */
const DAY_DECIMALS = 6;

/**
 * The unit `field` is shown and typed in: the one its environment variable takes (the table's
 * `envUnitMs`), so retention is days as `RETENTION_DAYS` is — 30 days is 2,592,000,000 ms, a
 * number nobody should have to type; the API keeps milliseconds.
 */
export function settingUnit(field: SettingField): SettingUnit {
  const spec = SETTINGS_BY_KEY[field];
  return 'envUnitMs' in spec && spec.envUnitMs === DAY_MS ? 'days' : 'ms';
}

/** Milliseconds in one of `field`'s units. */
function unitMs(field: SettingField): number {
  return settingUnit(field) === 'days' ? DAY_MS : 1;
}

/** A stored value (ms) as the form shows it, in the field's unit: `30`, `2.5`, `1500`. */
export function toSettingText(field: SettingField, ms: number): string {
  const unit = unitMs(field);
  if (unit === 1) return String(ms);
  return String(Number((ms / unit).toFixed(DAY_DECIMALS)));
}

/** The field's bounds in its own unit (for messages and hints). */
export function settingBoundsInUnit(field: SettingField): { min: number; max: number } {
  const { min, max } = settingBounds(field);
  const unit = unitMs(field);
  return { min: min / unit, max: max / unit };
}

export type SettingCheck =
  | { ok: true; value: number }
  | { ok: false; reason: 'integer' }
  | { ok: false; reason: 'number' }
  | { ok: false; reason: 'range'; min: number; max: number };

/**
 * Reads what was typed (surrounding spaces allowed) into milliseconds within the field's bounds:
 * a whole number of milliseconds, or of days with up to six decimals (point or comma) for a
 * field kept in days.
 * A range error states the bounds in the field's unit.
 */
export function checkSetting(field: SettingField, raw: string): SettingCheck {
  const days = settingUnit(field) === 'days';
  // Days may be typed with a decimal comma too (`2,5` in Russian).
  const text = days ? raw.trim().replace(',', '.') : raw.trim();
  const pattern = days ? new RegExp(`^\\d+(\\.\\d{1,${DAY_DECIMALS}})?$`) : /^\d+$/;
  if (!pattern.test(text)) return { ok: false, reason: days ? 'number' : 'integer' };
  const value = Math.round(Number(text) * unitMs(field));
  const { min, max } = settingBounds(field);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    return { ok: false, reason: 'range', ...settingBoundsInUnit(field) };
  }
  return { ok: true, value };
}
