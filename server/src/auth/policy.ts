/**
 * Who may do what: the one place that decides. Handlers and namespaces ask `authorize`; none of
 * them compares roles itself.
 */
import { ExpressionistError, type Role } from '@expressionist/core';

/** Who is calling. `open`: AUTH_MODE=open, where everyone may do everything and owns nothing. */
export type Principal =
  | { kind: 'user'; id: string; login: string; role: Role }
  | { kind: 'anonymous' }
  | { kind: 'open' };

/** What a caller may ask for. */
export type Action =
  /** Submit, list, read, watch and cancel one's own expressions; read settings and agents. */
  | 'use'
  /** See and cancel everyone's expressions. */
  | 'see-all'
  | 'change-settings'
  /** Release a quarantine, kick an agent. */
  | 'manage-agents'
  | 'manage-credentials'
  /** List, disable, enable and delete accounts. */
  | 'manage-users'
  | 'read-metrics';

/** Actions for what `describe` of FORBIDDEN says. */
const WORDS: Record<Action, string> = {
  use: 'use the API',
  'see-all': "see everyone's expressions",
  'change-settings': 'change settings',
  'manage-agents': 'manage agents',
  'manage-credentials': 'manage agent credentials',
  'manage-users': 'manage users',
  'read-metrics': 'read metrics',
};

/** Whether `p` may do `action`. */
export function may(p: Principal, action: Action): boolean {
  if (p.kind === 'open') return true;
  if (p.kind === 'anonymous') return false;
  return action === 'use' || p.role === 'admin';
}

/** Throws UNAUTHENTICATED (nobody signed in) or FORBIDDEN (wrong role) unless `p` may. */
export function authorize(p: Principal, action: Action): void {
  if (may(p, action)) return;
  if (p.kind === 'anonymous')
    throw ExpressionistError.of('UNAUTHENTICATED', {
      reason: 'send Authorization: Bearer <token> (POST /api/v1/login gives one).',
    });
  throw ExpressionistError.of('FORBIDDEN', { action: WORDS[action] });
}

/** Whose expressions `p` sees: undefined for everyone's (admin, open mode), else a user id. */
export function visibleOwner(p: Principal): string | undefined {
  return p.kind === 'user' && !may(p, 'see-all') ? p.id : undefined;
}

/**
 * Who reads agents' details (the scheduler's `Viewer`): null for whoever manages agents (admins,
 * open mode), else the user's id — they see their own agents, and others under aliases.
 */
export function agentViewer(p: Principal): string | null {
  if (may(p, 'manage-agents')) return null;
  return p.kind === 'user' ? p.id : '';
}

/** Who owns what `p` submits: its user id, or nobody in open mode. */
export function ownerOf(p: Principal): string | undefined {
  return p.kind === 'user' ? p.id : undefined;
}

/** Whether `p` may touch an expression owned by `owner`. */
export function canSee(p: Principal, owner: string | null): boolean {
  const only = visibleOwner(p);
  return only === undefined || only === owner;
}
