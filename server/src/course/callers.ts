/**
 * Who is calling the course protocol: a credential's agent, a guest, or (open mode) a self-named
 * agent, worked out from `Authorization` and `X-Agent-Id` through the agent gate.
 */
import type { Request } from 'express';
import { z } from 'zod';
import type { AgentGate } from '../auth/agent-gate.js';
import type { AgentStanding } from '../scheduler/agent-lifecycle.js';

const AgentKeySchema = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/);

/**
 * Who is calling: `key` names it when it says who it is (`http-…`, else null: a lease-chain
 * guest), `standing` is how far it is trusted, `guest` whether the guest limits apply to it.
 */
export interface Caller {
  key: string | null;
  standing: AgentStanding;
  guest: boolean;
}

/** A guest as before accounts (open mode): no cap, never quarantined. */
const OPEN_GUEST: AgentStanding = { trust: 'guest', identity: null };

/** Whether `key` names an agent that said who it is (`http-…`), not a lease-chain guest. */
export const isFirm = (key: string): boolean => key.startsWith('http-');

/**
 * Who sent `req` from `address` (see course-agents.ts); `gate` undefined admits everyone as in
 * open mode. Throws UNAUTHENTICATED (an ExpressionistError).
 */
export async function callerOf(
  req: Request,
  gate: AgentGate | undefined,
  address: string,
): Promise<Caller> {
  const label = AgentKeySchema.safeParse(req.get('x-agent-id'));
  const admission = await gate?.admitCourse(req.get('authorization'), address);
  if (!admission?.standing) {
    // Open mode: X-Agent-Id names it, as before accounts.
    if (!label.success) return { key: null, standing: OPEN_GUEST, guest: false };
    const key = `http-${label.data}`;
    return { key, standing: { trust: 'credential', identity: key }, guest: false };
  }
  const standing = admission.standing;
  if (admission.credentialId !== null)
    return { key: `http-cred-${admission.credentialId}`, standing, guest: false };
  const key = label.success ? `http-guest-${label.data}@${address}` : null;
  return { key, standing, guest: true };
}
