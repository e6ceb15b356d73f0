/**
 * The `/ui` namespace's rooms: who is in which (admins in `all`, each user in their own), and the
 * rooms of dashboards watching one expression's operations.
 */
import type { UiNamespace } from './io.js';

/** Dashboards of admins (everyone in open mode) watching an expression's operations. */
export const room = (expressionId: string): string => `expr:${expressionId}`;
/** Its owner's dashboards watching it: operations with agents as users see them. */
export const userOpsRoom = (expressionId: string): string => `expr-u:${expressionId}`;
/** Dashboards that see every expression (admins; everyone in open mode). */
export const ALL = 'all';
/** Dashboards of one user, who sees only their own expressions. */
export const userRoom = (userId: string): string => `user:${userId}`;

/** Whether any user's dashboard (not an admin's) is connected here. */
export function hasUserRooms(nsp: UiNamespace): boolean {
  for (const name of nsp.adapter.rooms.keys()) if (name.startsWith('user:')) return true;
  return false;
}
