/**
 * The one registry of error codes. Every error the system reports — in an HTTP body, on an
 * expression, over a socket — carries one of these codes. `status` is the HTTP status used when
 * the error is the answer to a request; `summary` is the generic human text (messages may be
 * more specific). The README's error table is checked against this registry by a test.
 */
export const ERROR_CODES = {
  EXPR_EMPTY: { status: 422, summary: 'The expression is empty.' },
  EXPR_UNEXPECTED_CHAR: { status: 422, summary: 'A character that is not part of the grammar.' },
  EXPR_UNEXPECTED_END: {
    status: 422,
    summary: 'The expression ends where an operand was expected.',
  },
  EXPR_UNEXPECTED_TOKEN: {
    status: 422,
    summary: 'An operator or parenthesis where an operand was expected.',
  },
  EXPR_MISSING_OPERATOR: {
    status: 422,
    summary: 'Two operands in a row with no operator between them.',
  },
  EXPR_UNCLOSED_PAREN: { status: 422, summary: 'An opening parenthesis is never closed.' },
  EXPR_UNMATCHED_PAREN: { status: 422, summary: 'A closing parenthesis has no opening one.' },
  EXPR_BAD_NUMBER: { status: 422, summary: 'A malformed number such as `1..2` or `1.`.' },
  EXPR_TOO_LONG: { status: 422, summary: 'The expression is longer than the configured maximum.' },
  EXPR_TOO_DEEP: {
    status: 422,
    summary: 'Parentheses or unary signs nest deeper than the configured maximum.',
  },
  EXPR_DIV_ZERO: { status: 422, summary: 'Division by zero.' },
  EXPR_OP_FAILED: { status: 500, summary: 'An operation failed on every allowed attempt.' },
  EXPR_CANCELED: { status: 409, summary: 'The expression was canceled.' },
  BODY_INVALID: {
    status: 400,
    summary: 'The request body is not valid JSON or has the wrong shape.',
  },
  BODY_TOO_LARGE: { status: 413, summary: 'The request body is larger than the limit.' },
  QUERY_INVALID: { status: 400, summary: 'A query parameter has an invalid value.' },
  NOT_FOUND: { status: 404, summary: 'No such route.' },
  EXPRESSION_NOT_FOUND: { status: 404, summary: 'No expression with this id.' },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    summary: 'This id was already used for a different expression.',
  },
  ALREADY_FINISHED: { status: 409, summary: 'The expression has already finished.' },
  SETTINGS_INVALID: { status: 422, summary: 'A setting is out of range or of the wrong type.' },
  TASK_NOT_FOUND: { status: 404, summary: 'No task with this id is leased out.' },
  TASK_RESULT_INVALID: { status: 422, summary: 'The task result is malformed.' },
  TASK_RESULT_WRONG: { status: 422, summary: 'The task result does not match the verified value.' },
  STORE_UNAVAILABLE: { status: 503, summary: 'The database is unreachable; nothing was accepted.' },
  SHUTTING_DOWN: { status: 503, summary: 'The orchestrator is shutting down.' },
  INTERNAL: { status: 500, summary: 'An unexpected server fault.' },
} as const satisfies Record<string, { status: number; summary: string }>;

/** A code from the registry. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Plain, serializable error description used in HTTP bodies and on expressions. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  /** 0-based column in the expression source, when the error has one. */
  position?: number;
}

/** An expected failure with a registry code (parse errors, division by zero, bad requests). */
export class ExpressionistError extends Error {
  readonly code: ErrorCode;
  readonly position: number | undefined;

  constructor(code: ErrorCode, message: string, position?: number) {
    super(message);
    this.name = 'ExpressionistError';
    this.code = code;
    this.position = position;
  }

  /** HTTP status for this code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  /** The serializable form. */
  toInfo(): ErrorInfo {
    return this.position === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, position: this.position };
  }
}
