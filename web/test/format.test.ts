import { describe, expect, it } from 'vitest';
import { formatDuration, operatorSymbol, truncateMiddle } from '../src/lib/format';
import {
  AGENT_FIELDS,
  DATA_FIELDS,
  DURATION_FIELDS,
  checkSetting,
  settingBounds,
  settingBoundsInUnit,
  settingSymbol,
  settingUnit,
  toSettingField,
  toSettingText,
} from '../src/lib/settings-form';

const DAY = 86_400_000;

const units = { ms: 'ms', s: 's', min: 'min', h: 'h' };

describe('formatDuration', () => {
  it('uses at most two units', () => {
    expect(formatDuration(850, units)).toBe('850 ms');
    expect(formatDuration(4240, units)).toBe('4.2 s');
    expect(formatDuration(42_000, units)).toBe('42 s');
    expect(formatDuration(125_000, units)).toBe('2 min 5 s');
    expect(formatDuration(120_000, units)).toBe('2 min');
    expect(formatDuration(3_780_000, units)).toBe('1 h 3 min');
    expect(formatDuration(-5, units)).toBe('0 ms');
  });
});

describe('small helpers', () => {
  it('shows typographic operators', () => {
    const ops = ['+', '-', '*', '/'] as const;
    expect(ops.map((op) => operatorSymbol(op))).toEqual(['+', '−', '×', '÷']);
  });

  it('shortens long values', () => {
    expect(truncateMiddle('3.14159', 10)).toBe('3.14159');
    expect(truncateMiddle('3.14159265358979', 6)).toBe('3.141…');
  });
});

describe('checkSetting', () => {
  it('accepts whole milliseconds within bounds', () => {
    expect(checkSetting('additionMs', ' 200 ')).toEqual({ ok: true, value: 200 });
    expect(checkSetting('lostAgentRetentionMs', '0')).toEqual({ ok: true, value: 0 });
  });

  it('rejects fractions, signs, words and out-of-range values', () => {
    expect(checkSetting('additionMs', '1.5')).toEqual({ ok: false, reason: 'integer' });
    expect(checkSetting('additionMs', '-1')).toEqual({ ok: false, reason: 'integer' });
    expect(checkSetting('additionMs', '')).toEqual({ ok: false, reason: 'integer' });
    expect(checkSetting('divisionMs', '3600001')).toMatchObject({ ok: false, reason: 'range' });
  });
});

describe('retention is typed in days', () => {
  it('reads days (point or comma, up to six decimals) into milliseconds', () => {
    expect(settingUnit('retentionMs')).toBe('days');
    expect(settingUnit('additionMs')).toBe('ms');
    expect(checkSetting('retentionMs', ' 30 ')).toEqual({ ok: true, value: 30 * DAY });
    expect(checkSetting('retentionMs', '2.5')).toEqual({ ok: true, value: 2.5 * DAY });
    expect(checkSetting('retentionMs', '2,5')).toEqual({ ok: true, value: 2.5 * DAY });
    expect(checkSetting('retentionMs', '0')).toEqual({ ok: true, value: 0 });
  });

  it('refuses what is not a number of days, and states the bounds in days', () => {
    expect(checkSetting('retentionMs', '1.1234567')).toEqual({ ok: false, reason: 'number' });
    expect(checkSetting('retentionMs', '-1')).toEqual({ ok: false, reason: 'number' });
    expect(checkSetting('retentionMs', '30d')).toEqual({ ok: false, reason: 'number' });
    expect(checkSetting('retentionMs', '36501')).toEqual({
      ok: false,
      reason: 'range',
      min: 0,
      max: 36_500,
    });
    expect(settingBoundsInUnit('retentionMs')).toEqual({ min: 0, max: 36_500 });
    expect(settingBoundsInUnit('additionMs')).toEqual(settingBounds('additionMs'));
  });

  it("shows a stored value in the field's unit", () => {
    expect(toSettingText('retentionMs', 30 * DAY)).toBe('30');
    expect(toSettingText('retentionMs', 2.5 * DAY)).toBe('2.5');
    expect(toSettingText('retentionMs', 3_600_000)).toBe('0.041667');
    expect(toSettingText('additionMs', 1500)).toBe('1500');
  });
});

describe('settings form fields (from core SETTINGS_FIELDS)', () => {
  it('groups the fields by whether they time an operator', () => {
    expect(DURATION_FIELDS).toEqual([
      'additionMs',
      'subtractionMs',
      'multiplicationMs',
      'divisionMs',
    ]);
    expect(AGENT_FIELDS).toEqual(['lostAgentRetentionMs']);
    expect(DATA_FIELDS).toEqual(['retentionMs']);
  });

  it('takes bounds and symbols from the table', () => {
    expect(settingBounds('multiplicationMs')).toEqual({ min: 0, max: 3_600_000 });
    expect(settingBounds('lostAgentRetentionMs')).toEqual({ min: 0, max: 604_800_000 });
    expect(settingSymbol('divisionMs')).toBe('÷');
    expect(settingSymbol('lostAgentRetentionMs')).toBe('');
    expect(toSettingField('subtractionMs')).toBe('subtractionMs');
    expect(toSettingField('nope')).toBeNull();
  });
});
