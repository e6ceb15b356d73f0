import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  ExpressionistError,
  errorMessage,
  parse,
  type ErrorCode,
  type ErrorParams,
} from '@expressionist/core';
import {
  en,
  ru,
  ruErrors,
  paramsFromMessage,
  translate,
  translateError,
  toLocale,
  LOCALES,
} from '../src/lib/i18n';
import { defineMessages } from '../src/lib/i18n/types';

const placeholders = (text: string): string[] =>
  [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** What the server would say for `code`, every parameter filled with a recognizable value. */
function serverError(code: ErrorCode): { code: ErrorCode; message: string; values: string[] } {
  const names = placeholders(ERROR_CODES[code].message);
  const params = Object.fromEntries(
    names.map((name) => [name, name === 'column' ? 41 : `<${name}>`]),
  ) as ErrorParams<typeof code>;
  const values = names.map((name) => (name === 'column' ? '42' : `<${name}>`));
  return { code, message: errorMessage(code, params), values };
}

/** The error the parser raises for `source`, as the server reports it. */
function parseFailure(source: string): { code: string; message: string; position?: number } {
  try {
    parse(source);
  } catch (e) {
    if (e instanceof ExpressionistError) return e.toInfo();
  }
  throw new Error(`${source} parsed`);
}

describe('i18n tables', () => {
  it('have identical key sets in English and Russian', () => {
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
  });

  it('have no empty strings', () => {
    for (const table of [en, ru, ruErrors]) {
      for (const [key, value] of Object.entries(table)) expect(value.trim(), key).not.toBe('');
    }
  });

  it('use the same placeholders in both languages', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(ru[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it('fill placeholders', () => {
    expect(translate('en', 'agent.summary', { running: 2, done: 17 })).toBe(
      'Agent: 2 running · 17 done',
    );
    expect(translate('ru', 'agent.summary', { running: 2, done: 17 })).toBe(
      'Агент: в работе 2 · готово 17',
    );
    expect(translate('ru', 'nav.agents')).toBe('Агенты');
  });

  it('make the compiler require every parameter and every key', () => {
    // @ts-expect-error -- {done} is missing
    expect(translate('en', 'agent.summary', { running: 1 })).toBe('Agent: 1 running · {done} done');
    // @ts-expect-error -- a message with placeholders needs its parameters
    translate('en', 'agent.summary');
    // @ts-expect-error -- there is no such key
    translate('en', 'agent.nope');
    const define = defineMessages<{ a: 'A {x}'; b: 'B' }>();
    expect(define({ a: 'а {x}', b: 'б' })).toEqual({ a: 'а {x}', b: 'б' });
    // @ts-expect-error -- the placeholder differs from the original's
    define({ a: 'а {y}', b: 'б' });
    // @ts-expect-error -- a key is missing
    define({ a: 'а {x}' });
    // @ts-expect-error -- a key the original lacks
    define({ a: 'а {x}', b: 'б', c: 'в' });
  });

  it('narrows browser language tags to supported locales', () => {
    expect(toLocale('ru-RU')).toBe('ru');
    expect(toLocale('en-GB')).toBe('en');
    expect(toLocale('de')).toBeNull();
    expect(toLocale(null)).toBeNull();
  });
});

describe('server errors in the user’s language', () => {
  it('translate every code of core’s registry, with the registry’s placeholders', () => {
    expect(Object.keys(ruErrors).sort()).toEqual([...CODES].sort());
    for (const code of CODES) {
      expect(placeholders(ruErrors[code]), code).toEqual(placeholders(ERROR_CODES[code].message));
    }
  });

  it('show each code with its parameters in every language; English as the server says it', () => {
    for (const code of CODES) {
      const error = serverError(code);
      expect(translateError('en', error), code).toBe(error.message);
      for (const locale of LOCALES) {
        const text = translateError(locale, error);
        for (const value of error.values) expect(text, `${locale} ${code}`).toContain(value);
        if (locale !== 'en') expect(text, `${locale} ${code}`).not.toBe(error.message);
      }
    }
  });

  it('name the column counted from 1, from the 0-based position', () => {
    const error = parseFailure('2 * (3 + )');
    expect(error.position).toBe(9);
    expect(translateError('ru', error)).toBe(
      "Неожиданный ')' в столбце 10: ожидалось число, '(' или знак",
    );
    expect(translateError('en', error)).toBe(
      "Unexpected ')' at column 10: expected a number, '(' or a sign",
    );
  });

  it('translate the parser’s reasons too', () => {
    for (const source of ['2 *', '1..2', '5.', '2 * (3 + )']) {
      const text = translateError('ru', parseFailure(source));
      expect(text, source).not.toMatch(/expected|decimal point|number/);
    }
  });

  it('fall back to the server’s message for unknown codes and foreign messages', () => {
    expect(translateError('ru', { code: 'SOMETHING_NEW', message: 'A new failure.' })).toBe(
      'A new failure.',
    );
    expect(translateError('ru', { code: 'EXPR_DIV_ZERO', message: 'Division by zero.' })).toBe(
      'Division by zero.',
    );
  });

  it('read parameters back from a filled template', () => {
    expect(
      paramsFromMessage(
        ERROR_CODES.EXPR_OP_FAILED.message,
        'Operation + at column 3 failed on 5 attempts (last: agent error X: lie (twice)).',
      ),
    ).toEqual({ op: '+', column: '3', attempts: '5', reason: 'agent error X: lie (twice)' });
    expect(paramsFromMessage(ERROR_CODES.EXPR_EMPTY.message, 'The expression is empty')).toEqual(
      {},
    );
    expect(paramsFromMessage(ERROR_CODES.EXPR_EMPTY.message, 'Something else')).toBeNull();
  });
});
