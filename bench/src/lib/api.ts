import { z } from 'zod';
import { SettingsSchema, type Settings, type SettingsPatch } from '@expressionist/core';

/** The fields of an expression view the benches read (validated, the rest ignored). */
export const ExpressionViewSchema = z.object({
  id: z.string(),
  status: z.enum(['pending', 'in_progress', 'done', 'error', 'canceled']),
  value: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  progress: z.object({ done: z.number(), total: z.number() }),
});
export type BenchExpressionView = z.infer<typeof ExpressionViewSchema>;

const AgentViewSchema = z.object({
  id: z.string(),
  status: z.string(),
  concurrency: z.number(),
  running: z.array(z.string()),
});
export type BenchAgentView = z.infer<typeof AgentViewSchema>;

const SubmitReplySchema = z.object({ id: z.string() });
const ExpressionReplySchema = z.object({ expression: ExpressionViewSchema });
const AgentsReplySchema = z.object({ agents: z.array(AgentViewSchema) });
const SettingsReplySchema = z.object({ settings: SettingsSchema });

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['done', 'error', 'canceled']);

/** Minimal REST client for the orchestrator's API, validating every reply it reads. */
export class Api {
  constructor(readonly base: string) {}

  private async call(method: string, url: string, body?: unknown): Promise<unknown> {
    const res = await fetch(this.base + url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300)
      throw new Error(`${method} ${url} → ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as unknown;
  }

  /** `POST /api/v1/calculate`; resolves with the new expression's id. */
  async submit(expression: string): Promise<string> {
    return SubmitReplySchema.parse(await this.call('POST', '/api/v1/calculate', { expression })).id;
  }

  async expression(id: string): Promise<BenchExpressionView> {
    return ExpressionReplySchema.parse(
      await this.call('GET', `/api/v1/expressions/${encodeURIComponent(id)}`),
    ).expression;
  }

  async cancel(id: string): Promise<void> {
    await this.call('POST', `/api/v1/expressions/${encodeURIComponent(id)}/cancel`);
  }

  async agents(): Promise<BenchAgentView[]> {
    return AgentsReplySchema.parse(await this.call('GET', '/api/v1/agents')).agents;
  }

  async settings(patch: SettingsPatch): Promise<Settings> {
    return SettingsReplySchema.parse(await this.call('PUT', '/api/v1/settings', patch)).settings;
  }

  /** Polls until the expression reaches a final status. */
  async finished(id: string, timeoutMs: number, everyMs = 20): Promise<BenchExpressionView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.expression(id);
      if (FINAL_STATUSES.has(view.status)) return view;
      if (Date.now() > deadline)
        throw new Error(
          `expression ${id} not finished after ${timeoutMs} ms (${view.status}, ${view.progress.done}/${view.progress.total})`,
        );
      await new Promise((resolve) => setTimeout(resolve, everyMs));
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
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
