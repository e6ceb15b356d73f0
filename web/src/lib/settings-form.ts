/**
 * Client-side checks for the settings form. Fields, bounds and which operator each one times
 * come from core's `SETTINGS_FIELDS`, the same table the server validates with, so the form
 * cannot drift from the API.
 */
import {
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

export type SettingCheck =
  | { ok: true; value: number }
  | { ok: false; reason: 'integer' }
  | { ok: false; reason: 'range'; min: number; max: number };

/** Accepts a whole number of milliseconds within the field's bounds (surrounding spaces allowed). */
export function checkSetting(field: SettingField, raw: string): SettingCheck {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) return { ok: false, reason: 'integer' };
  const value = Number(text);
  const { min, max } = settingBounds(field);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    return { ok: false, reason: 'range', min, max };
  }
  return { ok: true, value };
}
