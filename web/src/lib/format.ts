/** Pure formatting helpers shared by pages (no reactive state; the locale is passed in). */

/** Unit labels for `formatDuration`, taken from the current locale's table. */
export interface DurationUnits {
  ms: string;
  s: string;
  min: string;
  h: string;
}

/**
 * A short human duration: `850 ms`, `4.2 s`, `2 min 5 s`, `1 h 3 min`. Two units at most,
 * because an ETA that claims second precision over an hour would be false precision.
 */
export function formatDuration(ms: number, units: DurationUnits, locale = 'en'): string {
  const value = Math.max(0, Math.round(ms));
  if (value < 1000) return `${value} ${units.ms}`;
  if (value < 10_000) {
    const seconds = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(
      Math.floor(value / 100) / 10,
    );
    return `${seconds} ${units.s}`;
  }
  const totalSeconds = Math.round(value / 1000);
  if (totalSeconds < 60) return `${totalSeconds} ${units.s}`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 60) {
    const s = totalSeconds % 60;
    return s === 0
      ? `${totalMinutes} ${units.min}`
      : `${totalMinutes} ${units.min} ${s} ${units.s}`;
  }
  const hours = Math.floor(totalMinutes / 60);
  const m = totalMinutes % 60;
  return m === 0 ? `${hours} ${units.h}` : `${hours} ${units.h} ${m} ${units.min}`;
}

/** Shortens a long decimal for a small box: `3.14159265358…` (the full value goes in a title). */
export function truncateMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const keep = Math.max(1, max - 1);
  return `${text.slice(0, keep)}…`;
}

/** The typographic operator shown to people; the wire uses ASCII. */
export function operatorSymbol(op: '+' | '-' | '*' | '/'): string {
  switch (op) {
    case '+':
      return '+';
    case '-':
      return '−';
    case '*':
      return '×';
    case '/':
      return '÷';
  }
}

/** Whether two instants (epoch ms) fall on the same day in the local time zone. */
export function sameLocalDay(a: number, b: number): boolean {
  return new Date(a).toDateString() === new Date(b).toDateString();
}
