/** A source excerpt and the line under it that points at one column. */
export interface CaretView {
  /** The source line (windowed with `…` when it is long). Tabs and returns become spaces. */
  text: string;
  /** Spaces and a `^` under the reported column; same monospace width as `text`. */
  caret: string;
  /** 0-based column of the caret within `text`. */
  column: number;
}

/**
 * Renders the line of `source` that holds `position` (a 0-based UTF-16 column, as the server
 * reports it) with a caret under it. A position at the very end — "the expression ends where an
 * operand was expected" — points just past the last character. Lines longer than `maxWidth`
 * are cut to a window around the position so the caret stays on screen.
 */
export function renderCaret(source: string, position: number, maxWidth = 80): CaretView {
  const pos = Math.min(Math.max(0, Math.trunc(position)), source.length);
  const lineStart = source.lastIndexOf('\n', pos - 1) + 1;
  const newline = source.indexOf('\n', pos);
  const lineEnd = newline === -1 ? source.length : newline;
  // One character in, one character out: keeps every column where the server counted it.
  const line = source.slice(lineStart, lineEnd).replace(/[\t\r\v\f]/g, ' ');
  const col = pos - lineStart;

  const width = Math.max(8, maxWidth);
  if (line.length + 1 <= width) {
    return { text: line, caret: `${' '.repeat(col)}^`, column: col };
  }
  const room = width - 2; // one `…` on each side
  let start = Math.max(0, col - Math.floor(room / 2));
  const end = Math.min(line.length, start + room);
  start = Math.max(0, end - room);
  const prefix = start > 0 ? '…' : '';
  const suffix = end < line.length ? '…' : '';
  const column = prefix.length + col - start;
  return {
    text: `${prefix}${line.slice(start, end)}${suffix}`,
    caret: `${' '.repeat(column)}^`,
    column,
  };
}
