/**
 * The one HTTP error shape `{error: {code, message}}`: writing it, and mapping thrown errors to it
 * (shared by the API, the course protocol and the cluster proxy).
 */
import type { ErrorRequestHandler, Response } from 'express';
import {
  ERROR_CODES,
  ExpressionistError,
  errorMessage,
  type ErrorCode,
  type ErrorParams,
} from '@expressionist/core';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { RateLimitedError } from './auth/limits.js';

type Extra = { position?: number; field?: string };

/**
 * Writes the one error shape `{"error": {code, message, position?, field?}}`. Every 429 carries
 * `Retry-After` (seconds): the wait when known, else one second.
 */
function writeError(
  res: Response,
  code: ErrorCode,
  message: string,
  extra: Extra,
  retryAfterS?: number,
): void {
  const status = ERROR_CODES[code].status;
  if (status === 429 || code === 'LEADER_UNAVAILABLE')
    res.setHeader('retry-after', String(Math.max(1, retryAfterS ?? 1)));
  res.status(status).json({ error: { code, message, ...extra } });
}

/** Answers with `code`, its message filled in from the registry's template. */
export function sendError<C extends ErrorCode>(
  res: Response,
  code: C,
  params: ErrorParams<C>,
  extra: Extra = {},
): void {
  const seconds = (params as Record<string, unknown>)['seconds'];
  writeError(
    res,
    code,
    errorMessage(code, params),
    extra,
    typeof seconds === 'number' ? seconds : undefined,
  );
}

/** zod failure → the first issue as `field: message`. */
export function describeIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  const field = issue?.path.join('.') ?? '';
  return {
    field,
    message: field ? `${field}: ${issue?.message ?? 'invalid'}` : (issue?.message ?? 'invalid'),
  };
}

/** Maps thrown errors to responses: expected ones by their code, anything else to 500 INTERNAL. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof ExpressionistError) {
      writeError(
        res,
        err.code,
        err.message,
        err.position === undefined ? {} : { position: err.position },
        err instanceof RateLimitedError ? err.seconds : undefined,
      );
      return;
    }
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.too.large') {
      sendError(res, 'BODY_TOO_LARGE', {});
      return;
    }
    if (
      type === 'entity.parse.failed' ||
      type === 'encoding.unsupported' ||
      type === 'charset.unsupported'
    ) {
      sendError(res, 'BODY_INVALID', { reason: 'The request body is not valid JSON.' });
      return;
    }
    // Other client errors raised by Express or body-parser are the request's fault, not a 500:
    // a path parameter that is not valid percent-encoding, or a body that cannot be read (a
    // corrupt gzip/deflate stream).
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      if (err instanceof URIError) {
        sendError(res, 'NOT_FOUND', {
          method: req.method,
          path: `${req.path} (the URL could not be decoded)`,
        });
      } else {
        sendError(res, 'BODY_INVALID', { reason: 'The request body could not be read.' });
      }
      return;
    }
    log.error(
      { err, requestId: res.locals.requestId as unknown, method: req.method, url: req.originalUrl },
      'request failed',
    );
    sendError(res, 'INTERNAL', {});
  };
}
