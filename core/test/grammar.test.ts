import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PARSE_LIMITS,
  ExpressionistError,
  normalize,
  parse,
  type Ast,
  type ErrorCode,
} from '../src/index.js';

/** Compact Lisp-like rendering of a tree, to assert shapes. */
function shape(ast: Ast): string {
  switch (ast.kind) {
    case 'num':
      return ast.value;
    case 'neg':
      return `(neg ${shape(ast.operand)})`;
    case 'bin':
      return `(${ast.op} ${shape(ast.left)} ${shape(ast.right)})`;
  }
}

function parseError(source: string, limits?: Parameters<typeof parse>[1]): ExpressionistError {
  try {
    parse(source, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(ExpressionistError);
    return e as ExpressionistError;
  }
  throw new Error(`expected ${JSON.stringify(source)} to fail`);
}

describe('grammar: numbers', () => {
  it.each([
    ['3', '3'],
    ['3.25', '3.25'],
    ['0.5', '0.5'],
    ['.5', '0.5'],
    ['007', '7'],
    ['1.50', '1.5'],
    ['0.0', '0'],
    ['000', '0'],
    ['00.010', '0.01'],
    ['123456789012345678901234567890', '123456789012345678901234567890'],
  ])('%s is the number %s', (source, value) => {
    expect(parse(source)).toEqual({ kind: 'num', value, span: { start: 0, end: source.length } });
  });

  it('keeps whole-number spans with surrounding whitespace', () => {
    expect(parse('  42 ').span).toEqual({ start: 2, end: 4 });
  });
});

describe('grammar: operators', () => {
  it.each([
    ['1+2*3', '(+ 1 (* 2 3))'],
    ['1*2+3', '(+ (* 1 2) 3)'],
    ['1-2-3', '(- (- 1 2) 3)'],
    ['8/4/2', '(/ (/ 8 4) 2)'],
    ['1-2+3', '(+ (- 1 2) 3)'],
    ['2*3/4*5', '(* (/ (* 2 3) 4) 5)'],
    ['(1+2)*3', '(* (+ 1 2) 3)'],
    ['1-(2-3)', '(- 1 (- 2 3))'],
    ['((((7))))', '7'],
  ])('%s parses as %s', (source, expected) => {
    expect(shape(parse(source))).toBe(expected);
  });

  it.each([
    ['-3+5', '(+ (neg 3) 5)'],
    ['2*-3', '(* 2 (neg 3))'],
    ['2--3', '(- 2 (neg 3))'],
    ['-(2+3)', '(neg (+ 2 3))'],
    ['+4', '4'],
    ['--3', '(neg (neg 3))'],
    ['-+-3', '(neg (neg 3))'],
    ['2+ +3', '(+ 2 3)'],
    ['-2*3', '(* (neg 2) 3)'],
    ['-(-(1))', '(neg (neg 1))'],
  ])('unary: %s parses as %s', (source, expected) => {
    expect(shape(parse(source))).toBe(expected);
  });

  it('accepts spaces, tabs and newlines anywhere between tokens', () => {
    expect(shape(parse(' \t1\n+\r\n 2 *\t3 '))).toBe('(+ 1 (* 2 3))');
  });

  it('records spans (parentheses included) and operator columns', () => {
    const ast = parse('(1 + 2) * -3');
    expect(ast).toMatchObject({ kind: 'bin', op: '*', opPos: 8, span: { start: 0, end: 12 } });
    if (ast.kind !== 'bin') throw new Error('bin expected');
    expect(ast.left).toMatchObject({ kind: 'bin', op: '+', opPos: 3, span: { start: 0, end: 7 } });
    expect(ast.right).toMatchObject({ kind: 'neg', span: { start: 10, end: 12 } });
  });

  it('lets unary plus widen the span of its operand', () => {
    expect(parse('+4').span).toEqual({ start: 0, end: 2 });
  });
});

describe('grammar: errors carry code and column', () => {
  const cases: [string, ErrorCode, number][] = [
    ['', 'EXPR_EMPTY', 0],
    ['   \t\n', 'EXPR_EMPTY', 0],
    ['2 $ 3', 'EXPR_UNEXPECTED_CHAR', 2],
    ['2e5', 'EXPR_UNEXPECTED_CHAR', 1],
    ['1E5', 'EXPR_UNEXPECTED_CHAR', 1],
    ['x', 'EXPR_UNEXPECTED_CHAR', 0],
    ['2 +\u00a03', 'EXPR_UNEXPECTED_CHAR', 3],
    ['1 + 😀', 'EXPR_UNEXPECTED_CHAR', 4],
    ['2+', 'EXPR_UNEXPECTED_END', 2],
    ['2+   ', 'EXPR_UNEXPECTED_END', 5],
    ['(', 'EXPR_UNEXPECTED_END', 1],
    ['-', 'EXPR_UNEXPECTED_END', 1],
    ['2**3', 'EXPR_UNEXPECTED_TOKEN', 2],
    ['*3', 'EXPR_UNEXPECTED_TOKEN', 0],
    ['()', 'EXPR_UNEXPECTED_TOKEN', 1],
    [')', 'EXPR_UNEXPECTED_TOKEN', 0],
    ['2+/3', 'EXPR_UNEXPECTED_TOKEN', 2],
    ['(1+)', 'EXPR_UNEXPECTED_TOKEN', 3],
    ['2 3', 'EXPR_MISSING_OPERATOR', 2],
    ['2(3)', 'EXPR_MISSING_OPERATOR', 1],
    ['(1)(2)', 'EXPR_MISSING_OPERATOR', 3],
    ['(1) 2', 'EXPR_MISSING_OPERATOR', 4],
    ['2 .5', 'EXPR_MISSING_OPERATOR', 2],
    ['(2+3', 'EXPR_UNCLOSED_PAREN', 0],
    ['((2+3)', 'EXPR_UNCLOSED_PAREN', 0],
    ['1*((2+3)', 'EXPR_UNCLOSED_PAREN', 2],
    ['(1+(2', 'EXPR_UNCLOSED_PAREN', 3],
    ['2+3)', 'EXPR_UNMATCHED_PAREN', 3],
    ['(1))', 'EXPR_UNMATCHED_PAREN', 3],
    ['1..2', 'EXPR_BAD_NUMBER', 2],
    ['1.2.3', 'EXPR_BAD_NUMBER', 3],
    ['5.', 'EXPR_BAD_NUMBER', 1],
    ['5.+1', 'EXPR_BAD_NUMBER', 1],
    ['.', 'EXPR_BAD_NUMBER', 0],
    ['2*.', 'EXPR_BAD_NUMBER', 2],
  ];
  it.each(cases)('%j → %s at position %i', (source, code, position) => {
    const e = parseError(source);
    expect(e.code).toBe(code);
    expect(e.position).toBe(position);
    // Messages count columns from 1, as editors do; `position` stays 0-based.
    if (code !== 'EXPR_EMPTY') expect(e.message).toContain(`column ${position + 1}`);
  });

  it('counts message columns from 1: the 10th character is column 10, position 9', () => {
    const e = parseError('2 * (3 + )');
    expect(e.position).toBe(9);
    expect(e.message).toBe("Unexpected ')' at column 10: expected a number, '(' or a sign");
  });

  it('explains what was expected', () => {
    expect(parseError('2**3').message).toBe(
      "Unexpected '*' at column 3: expected a number, '(' or a sign",
    );
    expect(parseError('2 $ 3').message).toBe("Unexpected character '$' at column 3");
    expect(parseError('2 +\u00a03').message).toBe('Unexpected character U+00A0 at column 4');
  });

  it('EXPR_EMPTY says so', () => {
    expect(parseError('').message).toBe('The expression is empty');
  });

  it('EXPR_TOO_LONG reports the limit as column, before looking at the content', () => {
    const e = parseError('1+1+$', { maxLength: 4 });
    expect([e.code, e.position]).toEqual(['EXPR_TOO_LONG', 4]);
    expect(() => parse('1+11', { maxLength: 4 })).not.toThrow();
    expect(parseError('1'.repeat(DEFAULT_PARSE_LIMITS.maxLength + 1)).code).toBe('EXPR_TOO_LONG');
  });

  it('EXPR_TOO_DEEP points at the token that went one level too deep', () => {
    const parens = parseError('((((1))))', { maxDepth: 3 });
    expect([parens.code, parens.position]).toEqual(['EXPR_TOO_DEEP', 3]);
    const signs = parseError('1+---2', { maxDepth: 2 });
    expect([signs.code, signs.position]).toEqual(['EXPR_TOO_DEEP', 4]);
    const mixed = parseError('(-(-1))', { maxDepth: 3 });
    expect([mixed.code, mixed.position]).toEqual(['EXPR_TOO_DEEP', 3]);
    expect(() => parse('(((1)))', { maxDepth: 3 })).not.toThrow();
    // Sequential (not nested) parentheses do not add up.
    expect(() => parse('(1)+(2)+(3)+(4)', { maxDepth: 1 })).not.toThrow();
  });

  it('numbers that would not fit a wire DecimalString are EXPR_BAD_NUMBER at their start', () => {
    const e = parseError(`1+-${'9'.repeat(100_000)}`);
    expect([e.code, e.position]).toEqual(['EXPR_BAD_NUMBER', 3]);
    expect(parseError(`.${'5'.repeat(99_998)}`).code).toBe('EXPR_BAD_NUMBER');
    // Only the canonical text counts: leading zeros are free.
    expect(parse(`${'0'.repeat(200_000)}1`)).toMatchObject({ value: '1' });
    const longest = parse(`1+-${'9'.repeat(99_999)}`, { maxDepth: 5 });
    expect(longest.kind).toBe('bin');
  });

  it('the first error from the left wins', () => {
    expect(parseError('2 3 $').code).toBe('EXPR_MISSING_OPERATOR');
    expect(parseError('$ (').code).toBe('EXPR_UNEXPECTED_CHAR');
  });
});

describe('normalize', () => {
  it.each([
    [' ( 1.50 + (2) ) * 3 ', '(1.5+2)*3'],
    ['007 + .5', '7+0.5'],
    ['((1+2))+3', '1+2+3'],
    ['1+(2+3)', '1+(2+3)'],
    ['1-(2-3)', '1-(2-3)'],
    ['(1*2)*3', '1*2*3'],
    ['1/(2*3)', '1/(2*3)'],
    ['(1+2)*(3-4)', '(1+2)*(3-4)'],
    ['1+(2*3)', '1+2*3'],
    ['-(2+3)', '-(2+3)'],
    ['-(2*3)', '-(2*3)'],
    ['(-2)*3', '-2*3'],
    ['2*(-3)', '2*-3'],
    ['2-(-3)', '2--3'],
    ['-(-(3))', '--3'],
    ['+4', '4'],
    ['-(3)', '-3'],
  ])('%j → %j', (source, expected) => {
    expect(normalize(parse(source))).toBe(expected);
  });

  it('inputs differing only in spacing, parentheses and number spelling agree', () => {
    const variants = ['1.5 * (2 + 3)', '(1.50)*((2)+3.0)', ' 01.5*(2+3) ', '1.5*(+2+3)'];
    const keys = new Set(variants.map((v) => normalize(parse(v))));
    expect([...keys]).toEqual(['1.5*(2+3)']);
  });

  it('parses back to the same text', () => {
    for (const source of ['-(1-2)*-(3/4)/(5*6)', '1-(2-(3-(4)))', '--1---2']) {
      const once = normalize(parse(source));
      expect(normalize(parse(once))).toBe(once);
    }
  });
});
