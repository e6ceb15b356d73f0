/**
 * A small client for the orchestrator's REST API. The view types are core's, by name; replies
 * are checked with the schemas in view-schemas.ts, so a server that sends a wrong shape fails
 * the test or bench at the reply, not three calls later.
 */
import { z } from 'zod';
import {
  SettingsSchema,
  type AgentView,
  type ExpressionView,
  type OperationView,
  type Settings,
  type SettingsPatch,
} from '@expressionist/core';
import { request } from './http.js';
import {
  AgentViewSchema,
  checkedView,
  ExpressionViewSchema,
  OperationViewSchema,
} from './view-schemas.js';
import { sleep, waitFor } from './wait.js';

const SubmitReplySchema = z.object({ id: z.string() });
const ExpressionReplySchema = z.object({ expression: z.unknown() });
const OperationsReplySchema = z.object({
  operations: z.unknown(),
  nextCursor: z.string().nullable(),
});
const AgentsReplySchema = z.object({ agents: z.unknown(), nextCursor: z.string().nullable() });
const SettingsReplySchema = z.object({ settings: SettingsSchema });

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['done', 'error', 'canceled']);

/** A reply as `call` returns it: any status; the body parsed (its text when not JSON). */
export interface ApiReply {
  status: number;
  body: Record<string, unknown> & {
    error?: { code: string; message: string; position?: number; field?: string };
  };
}

export class Api {
  constructor(
    readonly base: string,
    /** A signed-in user's JWT (accounts mode), sent as `Authorization: Bearer` on every call. */
    readonly token?: string,
  ) {}

  private get headers(): Record<string, string> {
    return this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
  }

  /** Any request; resolves whatever the status (tests assert on error replies). */
  async call(method: string, url: string, body?: unknown, raw?: string): Promise<ApiReply> {
    const res = await request(this.base, method, url, {
      ...(body === undefined ? {} : { json: body }),
      ...(raw === undefined ? {} : { raw }),
      headers: this.headers,
    });
    return {
      status: res.status,
      body: (res.json === undefined ? res.text : res.json) as ApiReply['body'],
    };
  }

  /** A request whose reply must be a success; resolves with the parsed body. */
  protected async ok(method: string, url: string, body?: unknown): Promise<unknown> {
    const res = await request(this.base, method, url, {
      ...(body === undefined ? {} : { json: body }),
      headers: this.headers,
    });
    if (res.status >= 300)
      throw new Error(`${method} ${url} → ${res.status} ${res.text.slice(0, 300)}`);
    return res.json;
  }

  /** `POST /api/v1/calculate`; resolves with the expression's id. */
  async submit(expression: string, id?: string): Promise<string> {
    const body = id === undefined ? { expression } : { expression, id };
    return SubmitReplySchema.parse(await this.ok('POST', '/api/v1/calculate', body)).id;
  }

  async expression(id: string): Promise<ExpressionView> {
    const reply = await this.ok('GET', `/api/v1/expressions/${encodeURIComponent(id)}`);
    return checkedView<ExpressionView>(
      ExpressionViewSchema,
      ExpressionReplySchema.parse(reply).expression,
    );
  }

  /** Every operation of an expression, page after page. */
  async operations(id: string): Promise<OperationView[]> {
    const all: OperationView[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.operationsPage(id, { limit: 2000, cursor });
      all.push(...page.operations);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return all;
  }

  /** One page of an expression's operations (`GET …/operations?limit=&cursor=`). */
  async operationsPage(
    id: string,
    page: { limit?: number; cursor?: string | null } = {},
  ): Promise<{ operations: OperationView[]; nextCursor: string | null }> {
    const query = new URLSearchParams();
    if (page.limit !== undefined) query.set('limit', String(page.limit));
    if (page.cursor !== undefined && page.cursor !== null) query.set('cursor', page.cursor);
    const reply = OperationsReplySchema.parse(
      await this.ok(
        'GET',
        `/api/v1/expressions/${encodeURIComponent(id)}/operations?${query.toString()}`,
      ),
    );
    return {
      operations: checkedView<OperationView[]>(z.array(OperationViewSchema), reply.operations),
      nextCursor: reply.nextCursor,
    };
  }

  async cancel(id: string): Promise<void> {
    await this.ok('POST', `/api/v1/expressions/${encodeURIComponent(id)}/cancel`);
  }

  /** Every agent listed, page after page of `GET /api/v1/agents`. */
  async agents(): Promise<AgentView[]> {
    const all: AgentView[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.agentsPage(cursor === null ? {} : { cursor });
      all.push(...page.agents);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return all;
  }

  /** One page of `GET /api/v1/agents`. */
  async agentsPage(
    query: { limit?: number; cursor?: string } = {},
  ): Promise<{ agents: AgentView[]; nextCursor: string | null }> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    const qs = params.size > 0 ? `?${params.toString()}` : '';
    const reply = AgentsReplySchema.parse(await this.ok('GET', `/api/v1/agents${qs}`));
    return {
      agents: checkedView<AgentView[]>(z.array(AgentViewSchema), reply.agents),
      nextCursor: reply.nextCursor,
    };
  }

  /** `GET /api/v1/settings`. */
  async currentSettings(): Promise<Settings> {
    return SettingsReplySchema.parse(await this.ok('GET', '/api/v1/settings')).settings;
  }

  /** `PUT /api/v1/settings` with a partial patch; resolves with the settings now in force. */
  async settings(patch: SettingsPatch): Promise<Settings> {
    return SettingsReplySchema.parse(await this.ok('PUT', '/api/v1/settings', patch)).settings;
  }

  /** Polls until the expression reaches a final status. */
  async finished(id: string, timeoutMs = 30_000, everyMs = 20): Promise<ExpressionView> {
    let last: ExpressionView | undefined;
    try {
      return await waitFor(
        async () => {
          last = await this.expression(id);
          return FINAL_STATUSES.has(last.status) ? last : null;
        },
        timeoutMs,
        `expression ${id} to finish`,
        everyMs,
      );
    } catch (err) {
      if (!last) throw err;
      throw new Error(
        `expression ${id} not finished after ${timeoutMs} ms (${last.status}, ${last.progress.done}/${last.progress.total})`,
      );
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

/** A client for the orchestrator at `base` (e.g. `orch.url`), signed in with `token` if given. */
export const api = (base: string, token?: string): Api => new Api(base, token);
