/** Client-side checks for the settings form, mirroring `SettingsSchema` bounds from core. */
import { SETTINGS_LIMITS, type Settings } from '@expressionist/core';

export const SETTING_FIELDS = [
  'additionMs',
  'subtractionMs',
  'multiplicationMs',
  'divisionMs',
  'lostAgentRetentionMs',
] as const satisfies readonly (keyof Settings)[];

export type SettingField = (typeof SETTING_FIELDS)[number];

/** Narrows the `field` of a SETTINGS_INVALID answer to a known form field. */
export function toSettingField(value: string | undefined): SettingField | null {
  return SETTING_FIELDS.find((f) => f === value) ?? null;
}

export function settingBounds(field: SettingField): { min: number; max: number } {
  return field === 'lostAgentRetentionMs'
    ? { min: SETTINGS_LIMITS.minRetentionMs, max: SETTINGS_LIMITS.maxRetentionMs }
    : { min: 0, max: SETTINGS_LIMITS.maxOperationMs };
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
