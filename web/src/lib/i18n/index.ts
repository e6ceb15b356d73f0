/**
 * Lookup of the dashboard's messages and of server errors in the user's language: `translate`
 * for the UI's own keys (typed parameters), `translateError` for an error the server reported
 * as `{code, message, position?}`.
 */
import { ERROR_CODES, type ErrorCode } from '@expressionist/core';
import { en, type MessageKey } from './en';
import { ru } from './ru';
import { ruErrors, ruWords } from './errors-ru';
import { fill, type ParamArgs, type Placeholders } from './types';

export { en, ru, ruErrors };
export type { MessageKey };
export type { ParamArgs, ParamsOf, Placeholders } from './types';

export const LOCALES = ['en', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];

export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', ru: 'Русский' };

/** The English message of `K`, as a literal type: where its parameters come from. */
export type English<K extends MessageKey> = (typeof en)[K];

/** A key whose message takes no parameters (so `t(key)` alone is complete). */
export type PlainKey = {
  [K in MessageKey]: [Placeholders<English<K>>] extends [never] ? K : never;
}[MessageKey];

const tables: Record<Locale, Readonly<Record<MessageKey, string>>> = { en, ru };

/** Looks up `key` in `locale` and fills its placeholders (the compiler requires every one). */
export function translate<K extends MessageKey>(
  locale: Locale,
  key: K,
  ...params: ParamArgs<English<K>>
): string {
  const template = tables[locale][key];
  const [values] = params;
  return values === undefined ? template : fill(template, values);
}

/** Narrows an arbitrary string (localStorage, navigator.language) to a supported locale. */
export function toLocale(value: string | null | undefined): Locale | null {
  if (!value) return null;
  const base = value.toLowerCase().split('-')[0];
  return LOCALES.find((l) => l === base) ?? null;
}

/** An error as the server reports it (HTTP bodies, expressions, socket refusals). */
export interface ReportedError {
  code: string;
  message: string;
  /** 0-based offset in the expression; the message counts columns from 1. */
  position?: number | undefined;
}

const errorTemplates: Record<Locale, (code: ErrorCode) => string> = {
  en: (code) => ERROR_CODES[code].message,
  ru: (code) => ruErrors[code],
};

/** Fixed English parameter phrases in each language (English needs none). */
const words: Record<Locale, Readonly<Record<string, string>>> = { en: {}, ru: ruWords };

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The parameters the server filled into `template` to make `message`, read back from the
 * message (the body carries only the filled sentence), or null when it does not match.
 */
export function paramsFromMessage(
  template: string,
  message: string,
): Record<string, string> | null {
  const names: string[] = [];
  const pattern = template
    .split(/\{(\w+)\}/)
    .map((part, i) => {
      if (i % 2 === 0) return escapeRegExp(part);
      names.push(part);
      return '([\\s\\S]*?)';
    })
    .join('');
  const match = new RegExp(`^${pattern}$`).exec(message);
  if (!match) return null;
  const params: Record<string, string> = {};
  names.forEach((name, i) => {
    params[name] = match[i + 1] ?? '';
  });
  return params;
}

/**
 * The error in `locale`: its code's template filled with the parameters of the server's
 * message (a column from `position`, counted from 1). An unknown code, or a message that does
 * not come from its code's template, is shown as the server wrote it.
 */
export function translateError(locale: Locale, error: ReportedError): string {
  if (!isErrorCode(error.code)) return error.message;
  const params = paramsFromMessage(ERROR_CODES[error.code].message, error.message);
  if (params === null) return error.message;
  const dictionary = words[locale];
  for (const [name, value] of Object.entries(params)) params[name] = dictionary[value] ?? value;
  if (error.position !== undefined && 'column' in params)
    params['column'] = String(error.position + 1);
  return fill(errorTemplates[locale](error.code), params);
}
