/**
 * The expression grammar: a single-pass, explicit-stack parser and the canonical printer.
 *
 * ```
 * expr    := term (('+' | '-') term)*
 * term    := unary (('*' | '/') unary)*
 * unary   := ('-' | '+')* primary
 * primary := number | '(' expr ')'
 * number  := digits ('.' digits)? | '.' digits
 * ```
 *
 * Decisions:
 * - Numbers are plain decimals. `.5` is accepted (it means `0.5`); `5.` is rejected with
 *   `EXPR_BAD_NUMBER` at the column of the dot; `1..2` and `1.2.3` are rejected at the column
 *   of the second dot. Exponents are not part of the grammar: in `2e5` the `e` is an
 *   `EXPR_UNEXPECTED_CHAR` at column 1. Leading zeros are allowed (`007` is 7). A number whose
 *   canonical text is longer than 99,999 characters is `EXPR_BAD_NUMBER` at its first column:
 *   with a sign it must still fit the wire's 100,000-character `DecimalString`.
 * - `num` nodes hold the canonical plain text of the number: no leading zeros, no trailing
 *   fraction zeros, `0.5` for `.5`.
 * - Unary signs bind tighter than any binary operator (`-2*3` is `(-2)*3`; the value is the same
 *   either way). Unary minus becomes a `neg` node, unary plus produces no node (it only widens the
 *   operand's span). Binary operators are left associative with the usual precedence.
 * - Whitespace is space, tab, CR, LF, vertical tab and form feed; any other character outside
 *   the grammar (including non-ASCII spaces) is `EXPR_UNEXPECTED_CHAR`.
 * - Columns are 0-based indexes into the JavaScript string (UTF-16 code units) and the messages
 *   quote the same numbers. Spans are half-open; a parenthesized sub-expression's span includes
 *   its parentheses.
 * - `EXPR_UNCLOSED_PAREN` points at the innermost parenthesis still open at the end.
 * - Depth counts open parentheses plus pending unary signs; exceeding `maxDepth` is
 *   `EXPR_TOO_DEEP` at the column of the token that went one level too deep.
 *
 * Nothing here recurses: the parser keeps its own operand and operator stacks and `normalize`
 * walks the tree with an explicit stack, so a 100,000-deep left spine is as safe as a flat one.
 */
import { ExpressionistError } from './errors.js';
import type { Ast, Operator, ParseLimits } from './types.js';

/** Limits used when `parse` is called without any: 1,000,000 characters, 1,000 levels. */
export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxLength: 1_000_000, maxDepth: 1000 };

// Operator-stack entry kinds.
const LPAREN = 0;
const NEG = 1;
const PLUS = 2;
const ADD = 3;
const SUB = 4;
const MUL = 5;
const DIV = 6;

const C_TAB = 9; // ...LF 10, VT 11, FF 12...
const C_CR = 13;
const C_SPACE = 32;
const C_LPAREN = 40;
const C_RPAREN = 41;
const C_STAR = 42;
const C_PLUS = 43;
const C_MINUS = 45;
const C_DOT = 46;
const C_SLASH = 47;
const C_0 = 48;
const C_9 = 57;

// A literal, with a sign the planner may fold into it, must fit a `DecimalString` (protocol.ts,
// at most 100,000 characters) to travel to an agent.
const MAX_NUMBER_LENGTH = 99_999;

const EXPECTED_OPERAND = "expected a number, '(' or a sign";
const ONE_POINT = 'a number has at most one decimal point';
const DIGITS_AFTER_POINT = 'a decimal point must be followed by digits';

function isSpace(c: number): boolean {
  return c === C_SPACE || (c >= C_TAB && c <= C_CR);
}

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

/** Quote one source character for a message; invisible or non-ASCII ones as `U+XXXX`. */
function describeChar(source: string, at: number): string {
  const cp = source.codePointAt(at) ?? 0;
  if (cp > 32 && cp < 127) return `'${String.fromCharCode(cp)}'`;
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  const ch = String.fromCodePoint(cp);
  return /\p{L}|\p{N}|\p{P}|\p{S}/u.test(ch) ? `'${ch}' (U+${hex})` : `U+${hex}`;
}

function binKind(c: number): number {
  return c === C_PLUS ? ADD : c === C_MINUS ? SUB : c === C_STAR ? MUL : DIV;
}

function kindOperator(kind: number): Operator {
  return kind === ADD ? '+' : kind === SUB ? '-' : kind === MUL ? '*' : '/';
}

/**
 * Canonical text of an unsigned plain decimal given its integer and fraction digits:
 * no leading zeros in the integer part, no trailing zeros in the fraction, `0` for zero.
 */
function canonicalNumber(intDigits: string, fracDigits: string): string {
  let i = 0;
  while (i < intDigits.length - 1 && intDigits.charCodeAt(i) === C_0) i++;
  let int = i === 0 ? intDigits : intDigits.slice(i);
  if (int === '') int = '0';
  let f = fracDigits.length;
  while (f > 0 && fracDigits.charCodeAt(f - 1) === C_0) f--;
  return f === 0 ? int : `${int}.${fracDigits.slice(0, f)}`;
}

/**
 * Parse an expression into an AST.
 *
 * @throws ExpressionistError with a parse code (`EXPR_EMPTY`, `EXPR_UNEXPECTED_CHAR`, …) and the
 *   0-based column where the input went wrong. Nothing else is ever thrown.
 * @example parse('2 + 3 * 4') // bin('+', 2, bin('*', 3, 4))
 */
export function parse(source: string, limits?: Partial<ParseLimits>): Ast {
  const maxLength = limits?.maxLength ?? DEFAULT_PARSE_LIMITS.maxLength;
  const maxDepth = limits?.maxDepth ?? DEFAULT_PARSE_LIMITS.maxDepth;
  const n = source.length;
  if (n > maxLength) {
    throw ExpressionistError.of('EXPR_TOO_LONG', { length: n, max: maxLength }, maxLength);
  }

  const operands: Ast[] = [];
  const opKinds: number[] = [];
  const opPositions: number[] = [];
  let depth = 0;
  let expectOperand = true;
  let sawToken = false;

  const tooDeep = (at: number): ExpressionistError =>
    ExpressionistError.of('EXPR_TOO_DEEP', { max: maxDepth, column: at }, at);

  // Pop one binary operator and combine the top two operands.
  const reduceBinary = (): void => {
    const kind = opKinds.pop()!;
    const opPos = opPositions.pop()!;
    const right = operands.pop()!;
    const left = operands.pop()!;
    operands.push({
      kind: 'bin',
      op: kindOperator(kind),
      left,
      right,
      span: { start: left.span.start, end: right.span.end },
      opPos,
    });
  };

  // Apply the unary signs waiting directly above a just-completed operand.
  const reduceUnary = (): void => {
    let top = opKinds.length - 1;
    while (top >= 0) {
      const kind = opKinds[top]!;
      if (kind !== NEG && kind !== PLUS) break;
      const pos = opPositions[top]!;
      const operand = operands.pop()!;
      const span = { start: pos, end: operand.span.end };
      if (kind === NEG) {
        operands.push({ kind: 'neg', operand, span });
      } else {
        operand.span = span;
        operands.push(operand);
      }
      opKinds.pop();
      opPositions.pop();
      depth--;
      top--;
    }
  };

  let i = 0;
  while (i < n) {
    const c = source.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    sawToken = true;
    if (expectOperand) {
      if (isDigit(c) || c === C_DOT) {
        const start = i;
        while (i < n && isDigit(source.charCodeAt(i))) i++;
        const intEnd = i;
        let fracStart = i;
        if (i < n && source.charCodeAt(i) === C_DOT) {
          const dot = i;
          i++;
          fracStart = i;
          while (i < n && isDigit(source.charCodeAt(i))) i++;
          if (i === fracStart) {
            const second = i < n && source.charCodeAt(i) === C_DOT;
            const column = second ? i : dot;
            throw ExpressionistError.of(
              'EXPR_BAD_NUMBER',
              { column, reason: second ? ONE_POINT : DIGITS_AFTER_POINT },
              column,
            );
          }
        }
        if (i < n && source.charCodeAt(i) === C_DOT) {
          throw ExpressionistError.of('EXPR_BAD_NUMBER', { column: i, reason: ONE_POINT }, i);
        }
        const hasFrac = fracStart < i;
        const simple =
          intEnd > start &&
          (source.charCodeAt(start) !== C_0 || intEnd - start === 1) &&
          (!hasFrac || source.charCodeAt(i - 1) !== C_0);
        const value = simple
          ? source.slice(start, i)
          : canonicalNumber(source.slice(start, intEnd), hasFrac ? source.slice(fracStart, i) : '');
        if (value.length > MAX_NUMBER_LENGTH) {
          throw ExpressionistError.of(
            'EXPR_BAD_NUMBER',
            {
              column: start,
              reason: `it has ${value.length} significant characters; at most ${MAX_NUMBER_LENGTH} are allowed`,
            },
            start,
          );
        }
        operands.push({ kind: 'num', value, span: { start, end: i } });
        expectOperand = false;
        reduceUnary();
        continue;
      }
      if (c === C_LPAREN || c === C_MINUS || c === C_PLUS) {
        if (++depth > maxDepth) throw tooDeep(i);
        opKinds.push(c === C_LPAREN ? LPAREN : c === C_MINUS ? NEG : PLUS);
        opPositions.push(i);
        i++;
        continue;
      }
      if (c === C_RPAREN || c === C_STAR || c === C_SLASH) {
        throw ExpressionistError.of(
          'EXPR_UNEXPECTED_TOKEN',
          { char: describeChar(source, i), column: i, expected: EXPECTED_OPERAND },
          i,
        );
      }
    } else {
      if (c === C_PLUS || c === C_MINUS || c === C_STAR || c === C_SLASH) {
        const kind = binKind(c);
        const prec = kind >= MUL ? 2 : 1;
        for (;;) {
          const top = opKinds[opKinds.length - 1];
          if (top === undefined || top < ADD || (top >= MUL ? 2 : 1) < prec) break;
          reduceBinary();
        }
        opKinds.push(kind);
        opPositions.push(i);
        expectOperand = true;
        i++;
        continue;
      }
      if (c === C_RPAREN) {
        while (opKinds.length > 0 && opKinds[opKinds.length - 1]! >= ADD) reduceBinary();
        if (opKinds.length === 0) {
          throw ExpressionistError.of('EXPR_UNMATCHED_PAREN', { column: i }, i);
        }
        // Only an LPAREN can be on top here: unary signs are applied as soon as their operand ends.
        const open = opPositions.pop()!;
        opKinds.pop();
        depth--;
        operands[operands.length - 1]!.span = { start: open, end: i + 1 };
        i++;
        reduceUnary();
        continue;
      }
      if (isDigit(c) || c === C_DOT || c === C_LPAREN) {
        throw ExpressionistError.of(
          'EXPR_MISSING_OPERATOR',
          { char: describeChar(source, i), column: i },
          i,
        );
      }
    }
    throw ExpressionistError.of(
      'EXPR_UNEXPECTED_CHAR',
      { char: describeChar(source, i), column: i },
      i,
    );
  }

  if (!sawToken) throw ExpressionistError.of('EXPR_EMPTY', {}, 0);
  if (expectOperand) {
    throw ExpressionistError.of(
      'EXPR_UNEXPECTED_END',
      { column: n, expected: EXPECTED_OPERAND },
      n,
    );
  }
  while (opKinds.length > 0) {
    if (opKinds[opKinds.length - 1]! < ADD) {
      const open = opPositions[opPositions.length - 1]!;
      throw ExpressionistError.of('EXPR_UNCLOSED_PAREN', { column: open }, open);
    }
    reduceBinary();
  }
  return operands[0]!;
}

function precedence(node: Ast): number {
  if (node.kind === 'bin') return node.op === '+' || node.op === '-' ? 1 : 2;
  if (node.kind === 'neg' || node.value.startsWith('-')) return 3;
  return 4;
}

/**
 * Canonical compact text of a tree: no whitespace, only the parentheses the tree's shape needs,
 * numbers in canonical form. Inputs that differ only in spacing, redundant parentheses or number
 * spelling (`1.50`, `01.5`) normalize equally; it is the result-cache key. The output parses back
 * to the same tree.
 * @example normalize(parse(' ( 1.50 + (2) ) * 3 ')) // '(1.5+2)*3'
 */
export function normalize(ast: Ast): string {
  const out: string[] = [];
  const stack: (Ast | string)[] = [ast];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    if (item.kind === 'num') {
      out.push(item.value);
    } else if (item.kind === 'neg') {
      out.push('-');
      if (item.operand.kind === 'bin') stack.push(')', item.operand, '(');
      else stack.push(item.operand);
    } else {
      const p = precedence(item);
      // Left associativity: a right child of equal precedence keeps its parentheses.
      if (precedence(item.right) <= p) stack.push(')', item.right, '(');
      else stack.push(item.right);
      stack.push(item.op);
      if (precedence(item.left) < p) stack.push(')', item.left, '(');
      else stack.push(item.left);
    }
  }
  return out.join('');
}
