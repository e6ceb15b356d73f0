/**
 * The one formatter of failures for toasts, form errors and expression errors: server errors in
 * the user's language (by code, with their parameters), network trouble, rate limits.
 */
import { ApiError } from './api';
import type { ReportedError } from './i18n';
import { t, tError } from './locale.svelte';

/** The message to show for `err`, a caught exception or an error the server reported. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'RATE_LIMITED') {
      return err.retryAfter === undefined
        ? t('auth.rateLimitedSoon')
        : t('auth.rateLimited', { seconds: err.retryAfter });
    }
    if (err.code === 'NETWORK') return t('error.network');
    return tError(err);
  }
  if (isReported(err)) return tError(err);
  return err instanceof Error ? err.message : String(err);
}

function isReported(value: unknown): value is ReportedError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}
