import { describe, expect, it } from 'vitest';
import { formatDuration, operatorSymbol, truncateMiddle } from '../src/lib/format';
import {
  AGENT_FIELDS,
  DATA_FIELDS,
  DURATION_FIELDS,
  checkSetting,
  settingBounds,
  settingSymbol,
  toSettingField,
} from '../src/lib/settings-form';

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
