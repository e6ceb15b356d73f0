import { describe, expect, it } from 'vitest';
import { en, ru, translate, toLocale } from '../src/lib/i18n';

const placeholders = (text: string): string[] =>
  [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

describe('i18n tables', () => {
  it('have identical key sets in English and Russian', () => {
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
  });

  it('have no empty strings', () => {
    for (const table of [en, ru]) {
      for (const [key, value] of Object.entries(table)) expect(value.trim(), key).not.toBe('');
    }
  });

  it('use the same placeholders in both languages', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(ru[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('en', 'agent.summary', { running: 2, done: 17 })).toBe(
      'Agent: 2 running · 17 done',
    );
    expect(translate('ru', 'agent.summary', { running: 2, done: 17 })).toBe(
      'Агент: в работе 2 · готово 17',
    );
    expect(translate('en', 'agent.summary', { running: 1 })).toBe('Agent: 1 running · {done} done');
  });

  it('narrows browser language tags to supported locales', () => {
    expect(toLocale('ru-RU')).toBe('ru');
    expect(toLocale('en-GB')).toBe('en');
    expect(toLocale('de')).toBeNull();
    expect(toLocale(null)).toBeNull();
  });
});
