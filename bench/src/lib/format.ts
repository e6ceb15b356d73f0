/** Plain-text output: aligned tables and number formatting. */

export type Cell = string | number;

/** Renders rows as an aligned table; numbers are right-aligned, text left-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => row.map((cell) => String(cell)));
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...text.map((row) => (row[i] ?? '').length)),
  );
  const numeric = headers.map(
    (_, i) =>
      rows.length > 0 &&
      rows.every(
        (row) =>
          typeof row[i] === 'number' || /^[-+]?[\d.,]+\s*[a-zA-Z%×/]*$/.test(String(row[i] ?? '')),
      ),
  );
  const line = (cells: readonly string[], header: boolean): string =>
    cells
      .map((cell, i) =>
        numeric[i] && !header ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [
    line(headers, true),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...text.map((row) => line(row, false)),
  ].join('\n');
}

/** Fixed decimals. */
export const fixed = (value: number, digits = 2): string =>
  Number.isFinite(value) ? value.toFixed(digits) : String(value);

/** Integer with thousands separators. */
export const int = (value: number): string =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : String(value);

/** "met" / "MISSED" for a target line. */
export const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');

export function heading(title: string): void {
  console.log(`\n=== ${title} ===`);
}
