/**
 * Actions the dashboard runs on a click: a call whose outcome is a toast (`withToast`), and
 * cancelling an expression, which the list and the detail page share.
 */
import { cancelExpression } from './api';
import { errorText } from './error-text';
import { t } from './locale.svelte';
import { toasts, type ToastKind } from './toast.svelte';

/**
 * Runs `action`; a failure becomes an error toast in the user's language, a success the toast
 * `success` returns (if any). Resolves to whether the action succeeded; never rejects.
 */
export async function withToast<T>(
  action: () => Promise<T>,
  success?: (result: T) => string | { message: string; kind: ToastKind },
): Promise<boolean> {
  try {
    const result = await action();
    const shown = success?.(result);
    if (typeof shown === 'string') toasts.show(shown, 'success');
    else if (shown) toasts.show(shown.message, shown.kind);
    return true;
  } catch (err) {
    toasts.show(errorText(err), 'error');
    return false;
  }
}

/** Cancels expression `id`, saying so (or why not) in a toast. */
export function cancel(id: string): Promise<boolean> {
  return withToast(
    () => cancelExpression(id),
    () => ({ message: t('expr.canceledToast'), kind: 'info' }),
  );
}
