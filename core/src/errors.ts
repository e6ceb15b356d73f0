/**
 * The one registry of error codes.
 *
 * Every error the system reports — in an HTTP body, on an
 * expression, over a socket — carries one of these codes. `status` is the HTTP status used when
 * the error is the answer to a request; `message` is the template call sites fill in with
 * `{name}` parameters (`errorInfo('EXPRESSION_NOT_FOUND', { id })`), so the wording of an error
 * lives here once. A `{column}` parameter is given the 0-based position (what `position` carries)
 * and printed counted from 1, as editors count: `2 * (3 + )` fails "at column 10", `position` 9.
 * `retry` says whether an operation that failed with this code may succeed on
 * another attempt (agents report codes; a deterministic failure is never retried). The README's
 * error table is checked against this registry by a test.
 */
export const ERROR_CODES = {
  EXPR_EMPTY: { status: 422, message: 'The expression is empty' },
  EXPR_UNEXPECTED_CHAR: { status: 422, message: 'Unexpected character {char} at column {column}' },
  EXPR_UNEXPECTED_END: {
    status: 422,
    message: 'Unexpected end of the expression at column {column}: {expected}',
  },
  EXPR_UNEXPECTED_TOKEN: {
    status: 422,
    message: 'Unexpected {char} at column {column}: {expected}',
  },
  EXPR_MISSING_OPERATOR: {
    status: 422,
    message: 'Missing operator before {char} at column {column}',
  },
  EXPR_UNCLOSED_PAREN: { status: 422, message: "The '(' at column {column} is never closed" },
  EXPR_UNMATCHED_PAREN: {
    status: 422,
    message: "Unmatched ')' at column {column}: there is no '(' to close",
  },
  EXPR_BAD_NUMBER: { status: 422, message: 'Malformed number at column {column}: {reason}' },
  EXPR_TOO_LONG: {
    status: 422,
    message: 'The expression is {length} characters long; the maximum is {max}',
  },
  EXPR_TOO_DEEP: {
    status: 422,
    message: 'Parentheses and signs nest deeper than {max} levels at column {column}',
  },
  EXPR_DIV_ZERO: {
    status: 422,
    message: 'Division by zero at column {column}: the divisor of \'/\' in "{snippet}" is 0.',
  },
  EXPR_RESULT_TOO_LARGE: {
    status: 422,
    message: 'Operation {op} at column {column}: {reason}.',
  },
  EXPR_OP_FAILED: {
    status: 500,
    message: 'Operation {op} at column {column} failed on {attempts} attempts (last: {reason}).',
  },
  EXPR_CANCELED: { status: 409, message: 'Canceled by request.' },
  BODY_INVALID: { status: 400, message: '{reason}' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the limit.' },
  QUERY_INVALID: { status: 400, message: '{reason}' },
  REQUEST_TARGET_INVALID: {
    status: 400,
    message: 'The request target must be a path beginning with "/" (this server is not a proxy).',
  },
  NOT_FOUND: { status: 404, message: 'No route {method} {path}.' },
  EXPRESSION_NOT_FOUND: { status: 404, message: 'No expression with id "{id}".' },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    message: 'Id "{id}" was already used for a different expression.',
  },
  ALREADY_FINISHED: { status: 409, message: 'Expression "{id}" has already finished ({status}).' },
  EXPRESSION_RUNNING: {
    status: 409,
    message: 'Expression "{id}" is still running: cancel it first, then delete it.',
  },
  SETTINGS_INVALID: { status: 422, message: '{reason}' },
  TASK_NOT_FOUND: { status: 404, message: '{reason}' },
  TASK_RESULT_INVALID: { status: 422, message: '{reason}' },
  TASK_RESULT_WRONG: { status: 422, message: '{reason}' },
  AGENT_QUARANTINED: {
    status: 403,
    message: 'This agent is quarantined: {reason}. An admin can release it.',
  },
  AGENT_ID_TAKEN: {
    status: 409,
    message:
      'The agent id "{id}" is held by another agent identity (or by a live guest connection); choose another id.',
  },
  AGENT_ADMISSION_BUSY: {
    status: 503,
    message:
      'Too many agents are connecting at once (this orchestrator admits {rate} a second); retry within {seconds} s.',
  },
  AGENT_NOT_QUARANTINED: { status: 404, message: 'No quarantined agent with id "{id}".' },
  AGENT_NOT_CONNECTED: { status: 404, message: 'No connected agent with id "{id}".' },
  UNAUTHENTICATED: { status: 401, message: 'Sign in first: {reason}' },
  FORBIDDEN: { status: 403, message: 'Only an admin may {action}.' },
  LOGIN_FAILED: { status: 401, message: 'Wrong login or password.' },
  LOGIN_TAKEN: { status: 409, message: 'The login "{login}" is taken.' },
  ACCOUNT_INVALID: { status: 422, message: '{reason}' },
  SETUP_INVALID: {
    status: 403,
    message: 'The setup link is not valid (already used, or an admin exists).',
  },
  CREDENTIAL_NOT_FOUND: { status: 404, message: 'No agent credential with id "{id}".' },
  ACCOUNT_DISABLED: { status: 403, message: 'This account is disabled; ask an admin.' },
  PASSWORD_WRONG: { status: 403, message: 'The current password is wrong.' },
  USER_NOT_FOUND: { status: 404, message: 'No user with id "{id}".' },
  USER_SELF: { status: 409, message: 'An admin cannot {action} their own account.' },
  RATE_LIMITED: { status: 429, message: 'Too many {what}; retry in {seconds} s.' },
  AGENT_PROTOCOL_MISMATCH: {
    status: 426,
    message:
      'This orchestrator speaks agent protocol {expected}; the agent speaks {got}. Update the agent (rebuild agent-node, or reload the dashboard tab).',
  },
  STORE_UNAVAILABLE: {
    status: 503,
    message: 'The database is unreachable; {what} Retry later.',
  },
  LEADER_UNAVAILABLE: {
    status: 503,
    message:
      'No orchestrator instance is leading right now ({reason}); nothing was accepted. Retry in a few seconds.',
  },
  SHUTTING_DOWN: { status: 503, message: 'The orchestrator is shutting down.' },
  INTERNAL: { status: 500, message: 'An unexpected server fault.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A code from the registry. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Names of the `{placeholders}` in a template string, as a union type. */
type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | Placeholders<Rest>
  : never;

/** The parameters the message template of `C` needs. */
export type ErrorParams<C extends ErrorCode> = Record<
  Placeholders<(typeof ERROR_CODES)[C]['message']>,
  string | number
>;

/** How a parameter is printed: a 0-based `column` counted from 1, anything else as it is. */
function printed(name: string, value: string | number): string {
  return name === 'column' && typeof value === 'number' ? String(value + 1) : String(value);
}

/** Fills in the message template of `code` (a numeric `column` is printed 1-based). */
export function errorMessage<C extends ErrorCode>(code: C, params: ErrorParams<C>): string {
  const values = params as Record<string, string | number>;
  return ERROR_CODES[code].message.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : printed(name, value);
  });
}

/** Plain, serializable error description used in HTTP bodies and on expressions. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  /** 0-based offset in the expression source, when the error has one (messages print it + 1). */
  position?: number;
}

/** An `ErrorInfo` whose message comes from the registry's template. */
export function errorInfo<C extends ErrorCode>(
  code: C,
  params: ErrorParams<C>,
  position?: number,
): ErrorInfo {
  const message = errorMessage(code, params);
  return position === undefined ? { code, message } : { code, message, position };
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

  /** An error whose message is the registry's template for `code` filled with `params`. */
  static of<C extends ErrorCode>(
    code: C,
    params: ErrorParams<C>,
    position?: number,
  ): ExpressionistError {
    return new ExpressionistError(code, errorMessage(code, params), position);
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
