/** The current language, persisted in localStorage, and locale-aware formatting helpers. */
import {
  translate,
  translateError,
  toLocale,
  type English,
  type Locale,
  type MessageKey,
  type ParamArgs,
  type ReportedError,
} from './i18n';
import { formatDuration as formatDurationWith, sameLocalDay } from './format';

const STORAGE_KEY = 'expressionist.locale';

function readStored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled (privacy mode): fall back to the browser language
  }
}

function initialLocale(): Locale {
  if (typeof window === 'undefined') return 'en';
  return toLocale(readStored()) ?? toLocale(navigator.language) ?? 'en';
}

class LocaleState {
  current = $state<Locale>(initialLocale());

  set(next: Locale): void {
    this.current = next;
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not persisted; the choice still holds for this page
    }
    document.documentElement.lang = next;
  }
}

export const locale = new LocaleState();

/** Translates `key` in the current locale (reactive when read in a template). */
export function t<K extends MessageKey>(key: K, ...params: ParamArgs<English<K>>): string {
  return translate(locale.current, key, ...params);
}

/** A server error in the current locale (reactive when read in a template). */
export function tError(error: ReportedError): string {
  return translateError(locale.current, error);
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();
const relativeFormats = new Map<string, Intl.RelativeTimeFormat>();
const numberFormats = new Map<string, Intl.NumberFormat>();

function cached<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = make();
    cache.set(key, value);
  }
  return value;
}

/** `14:03:27` today, `12 Mar, 14:03:27` on other days. */
export function formatTime(iso: string | null, now = Date.now()): string {
  if (!iso) return '—';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '—';
  const sameDay = sameLocalDay(at, now);
  const l = locale.current;
  const format = sameDay
    ? cached(timeFormats, l, () => new Intl.DateTimeFormat(l, { timeStyle: 'medium' }))
    : cached(
        dateTimeFormats,
        l,
        () =>
          new Intl.DateTimeFormat(l, {
            day: 'numeric',
            month: 'short',
            hour: '2-digit',
            minute: '2-digit',
            second: '2-digit',
          }),
      );
  return format.format(at);
}

/** `5 seconds ago`, `in 2 minutes`, `now` — in the current language. */
export function formatRelative(iso: string | null, now: number): string {
  if (!iso) return '—';
  const diffMs = Date.parse(iso) - now;
  if (Number.isNaN(diffMs)) return '—';
  const l = locale.current;
  const format = cached(
    relativeFormats,
    l,
    () => new Intl.RelativeTimeFormat(l, { numeric: 'auto' }),
  );
  const abs = Math.abs(diffMs);
  if (abs < 1000) return format.format(0, 'second');
  if (abs < 60_000) return format.format(Math.round(diffMs / 1000), 'second');
  if (abs < 3_600_000) return format.format(Math.round(diffMs / 60_000), 'minute');
  if (abs < 86_400_000) return format.format(Math.round(diffMs / 3_600_000), 'hour');
  return format.format(Math.round(diffMs / 86_400_000), 'day');
}

/** A duration with localized units (`4.2 s`, `2 мин 5 с`). */
export function formatDuration(ms: number): string {
  return formatDurationWith(
    ms,
    { ms: t('unit.ms'), s: t('unit.s'), min: t('unit.min'), h: t('unit.h') },
    locale.current,
  );
}

/** A plain number with the locale's grouping (`12 345`). */
export function formatNumber(value: number, maximumFractionDigits = 0): string {
  const l = locale.current;
  return cached(
    numberFormats,
    `${l}:${maximumFractionDigits}`,
    () => new Intl.NumberFormat(l, { maximumFractionDigits }),
  ).format(value);
}
