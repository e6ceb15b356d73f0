import { describe, expect, it } from 'vitest';
import {
  ExpressionistError,
  errorInfo,
  errorMessage,
  evaluatePlan,
  plan,
  parse,
} from '../src/index.js';

describe('error messages', () => {
  it('print a 0-based column counted from 1 and keep position 0-based', () => {
    expect(errorMessage('EXPR_UNMATCHED_PAREN', { column: 0 })).toBe(
      "Unmatched ')' at column 1: there is no '(' to close",
    );
    expect(errorInfo('EXPR_UNCLOSED_PAREN', { column: 4 }, 4)).toEqual({
      code: 'EXPR_UNCLOSED_PAREN',
      message: "The '(' at column 5 is never closed",
      position: 4,
    });
  });

  it('print other parameters as they are', () => {
    expect(errorMessage('EXPR_TOO_LONG', { length: 12, max: 10 })).toBe(
      'The expression is 12 characters long; the maximum is 10',
    );
    expect(errorMessage('EXPRESSION_NOT_FOUND', { id: 'x' })).toBe('No expression with id "x".');
  });

  it('count from 1 in the reference evaluator’s division by zero too', () => {
    let caught: unknown;
    try {
      evaluatePlan(plan(parse('7 / 0')));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ExpressionistError);
    expect(caught).toMatchObject({ position: 2, message: 'Division by zero at column 3' });
  });
});
