import { describe, expect, it } from 'vitest';
import { renderCaret } from '../src/lib/caret';

describe('renderCaret', () => {
  it('points at the reported column', () => {
    const view = renderCaret('2 * (3 + )', 9);
    expect(view.text).toBe('2 * (3 + )');
    expect(view.caret).toBe('         ^');
    expect(view.column).toBe(9);
    expect(view.text[view.column]).toBe(')');
  });

  it('points just past the end for an unexpected end', () => {
    const view = renderCaret('1 +', 3);
    expect(view.caret).toBe('   ^');
  });

  it('clamps positions outside the source', () => {
    expect(renderCaret('12', 99).caret).toBe('  ^');
    expect(renderCaret('12', -4).caret).toBe('^');
  });

  it('keeps columns when the source has tabs', () => {
    const view = renderCaret('1\t+\t)', 4);
    expect(view.text).toBe('1 + )');
    expect(view.caret).toBe('    ^');
  });

  it('shows only the line holding the position', () => {
    const view = renderCaret('1 +\n2 * x', 8);
    expect(view.text).toBe('2 * x');
    expect(view.caret).toBe('    ^');
  });

  it('windows long lines around the position and keeps the caret under the same character', () => {
    const source = `${'1 + '.repeat(100)}@ + 2`;
    const position = source.indexOf('@');
    const view = renderCaret(source, position, 40);
    expect(view.text.length).toBeLessThanOrEqual(40);
    expect(view.text.startsWith('…')).toBe(true);
    expect(view.text.endsWith('…')).toBe(false);
    expect(view.text[view.column]).toBe('@');
    expect(view.caret).toBe(`${' '.repeat(view.column)}^`);
  });

  it('windows the middle of a long line with ellipses on both sides', () => {
    const source = `${'7'.repeat(200)}#${'8'.repeat(200)}`;
    const view = renderCaret(source, 200, 30);
    expect(view.text.startsWith('…')).toBe(true);
    expect(view.text.endsWith('…')).toBe(true);
    expect(view.text[view.column]).toBe('#');
  });
});
