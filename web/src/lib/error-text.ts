/** One readable, translated sentence for a failed call, for toasts and form errors. */
import { ApiError } from './api';
import { t } from './locale.svelte';

/** The message to show for `err`: rate limits with their wait, network trouble, else the server's. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'RATE_LIMITED') {
      return err.retryAfter === undefined
        ? t('auth.rateLimitedSoon')
        : t('auth.rateLimited', { seconds: err.retryAfter });
    }
    if (err.code === 'NETWORK') return t('error.network');
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
