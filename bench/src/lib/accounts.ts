/**
 * Accounts mode for benches: the orchestrator's environment with a known admin, a signed-in
 * client for the API (testkit's `Api` is anonymous: open mode only), and the admin's agent
 * credential. Registration is limited to 5 a minute per address, so a bench registers a few
 * users per orchestrator, not per trial on a shared one.
 */
import { z } from 'zod';
import {
  AgentViewSchema,
  CreateCredentialReplySchema,
  ExpressionViewSchema,
  LoginReplySchema,
  type AgentView,
  type ExpressionView,
} from '@expressionist/core';
import { FINAL_STATUSES, request, sleep } from '@expressionist/testkit';

export const BENCH_ADMIN = { login: 'bench-admin', password: 'correct horse battery staple' };
const JWT_SECRET = 'bench-accounts-secret-0123456789abcdef';

/** The orchestrator's environment for accounts mode with `BENCH_ADMIN` as its admin. */
export const accountsEnv = (): Record<string, string> => ({
  AUTH_MODE: 'accounts',
  ADMIN_LOGIN: BENCH_ADMIN.login,
  ADMIN_PASSWORD: BENCH_ADMIN.password,
  JWT_SECRET,
});

const SubmitReplySchema = z.object({ id: z.string() });
const ExpressionReplySchema = z.object({ expression: ExpressionViewSchema });
const AgentsReplySchema = z.object({ agents: z.array(AgentViewSchema) });

/** The API as one signed-in user (`Authorization: Bearer <token>` on every call). */
export class SignedInApi {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  private async ok(method: string, url: string, json?: unknown): Promise<unknown> {
    const res = await request(this.base, method, url, {
      ...(json === undefined ? {} : { json }),
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (res.status >= 300)
      throw new Error(`${method} ${url} → ${res.status} ${res.text.slice(0, 300)}`);
    return res.json;
  }

  async submit(expression: string): Promise<string> {
    return SubmitReplySchema.parse(await this.ok('POST', '/api/v1/calculate', { expression })).id;
  }

  async expression(id: string): Promise<ExpressionView> {
    const reply = await this.ok('GET', `/api/v1/expressions/${encodeURIComponent(id)}`);
    return ExpressionReplySchema.parse(reply).expression;
  }

  async agents(): Promise<AgentView[]> {
    return AgentsReplySchema.parse(await this.ok('GET', '/api/v1/agents')).agents;
  }

  /** `POST /api/v1/agent-credentials` (admin): resolves with the new credential's token. */
  async issueCredential(name: string): Promise<string> {
    return CreateCredentialReplySchema.parse(
      await this.ok('POST', '/api/v1/agent-credentials', { name }),
    ).token;
  }

  /** Polls until the expression reaches a final status. */
  async finished(id: string, timeoutMs = 120_000, everyMs = 10): Promise<ExpressionView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.expression(id);
      if (FINAL_STATUSES.has(view.status)) return view;
      if (Date.now() > deadline)
        throw new Error(
          `expression ${id} not finished after ${timeoutMs} ms (${view.status}, ${view.progress.done}/${view.progress.total})`,
        );
      await sleep(everyMs);
    }
  }

  /** Waits until exactly `count` agents are active with `slots` worker slots in total. */
  async waitForAgents(count: number, slots: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const active = (await this.agents()).filter((a) => a.status === 'active');
      const total = active.reduce((sum, a) => sum + a.concurrency, 0);
      if (active.length === count && total === slots) return;
      if (Date.now() > deadline)
        throw new Error(
          `expected ${count} active agents with ${slots} slots, have ${active.length} with ${total}`,
        );
      await sleep(25);
    }
  }
}

/** `POST /api/v1/login`: the JWT of `login`. */
export async function signIn(base: string, login: string, password: string): Promise<string> {
  const res = await request(base, 'POST', '/api/v1/login', { json: { login, password } });
  if (res.status !== 200) throw new Error(`login ${login} → ${res.status} ${res.text}`);
  return LoginReplySchema.parse(res.json).token;
}

/** `POST /api/v1/register`, then signs in: the new user's JWT. */
export async function registerUser(
  base: string,
  login: string,
  password = 'a good bench passphrase',
): Promise<string> {
  const res = await request(base, 'POST', '/api/v1/register', { json: { login, password } });
  if (res.status !== 200) throw new Error(`register ${login} → ${res.status} ${res.text}`);
  return signIn(base, login, password);
}

/** The admin of an orchestrator started with `accountsEnv()`, signed in. */
export async function signInAdmin(base: string): Promise<SignedInApi> {
  return new SignedInApi(base, await signIn(base, BENCH_ADMIN.login, BENCH_ADMIN.password));
}
