/**
 * The one course-protocol client of the tests: `GET /internal/task` and `POST /internal/task` as
 * a course agent sends them, over real keep-alive HTTP connections, replies checked with core's
 * schemas. Named (`X-Agent-Id`), holding an agent token, or a guest (neither).
 */
import http from 'node:http';
import { CourseTaskSchema, ErrorBodySchema, type CourseTask } from '@expressionist/core';
import { waitFor } from './wait.js';

export interface CourseReply {
  status: number;
  /** The task of a 200 to `GET /internal/task`. */
  task?: CourseTask;
  /** The error code of a failed request (when its body is the API's error body). */
  code?: string;
  /** Seconds of a `Retry-After` header, when there is one. */
  retryAfter?: number;
}

export interface CourseClientOptions {
  /** Sent as `X-Agent-Id` (open mode: the agent's name; accounts mode: a guest's label). */
  agentId?: string;
  /** Sent as `Authorization: Bearer <token>` (an agent credential). */
  token?: string;
  /**
   * The connections to use. Default: one keep-alive connection of its own, so a guest stays one
   * lease chain; pass a shared pool to pull as many agents over a few connections.
   */
  pool?: http.Agent;
  timeoutMs?: number;
}

/** What a course agent computes: float64 arithmetic on the JSON operands, as the Go agents do. */
export function floatResult(task: Pick<CourseTask, 'operation' | 'arg1' | 'arg2'>): number {
  switch (task.operation) {
    case '+':
      return task.arg1 + task.arg2;
    case '-':
      return task.arg1 - task.arg2;
    case '*':
      return task.arg1 * task.arg2;
    case '/':
      return task.arg1 / task.arg2;
  }
}

export class CourseClient {
  readonly agentId: string | undefined;
  private readonly pool: http.Agent;
  private readonly ownPool: boolean;

  constructor(
    private readonly base: string,
    private readonly options: CourseClientOptions = {},
  ) {
    this.agentId = options.agentId;
    this.ownPool = options.pool === undefined;
    this.pool = options.pool ?? new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** `GET /internal/task`. */
  pull(): Promise<CourseReply> {
    return this.send('GET');
  }

  /** `POST /internal/task` with `{id, result}`. */
  post(id: number | string, result: number | string): Promise<CourseReply> {
    return this.send('POST', { id, result });
  }

  /** `POST /internal/task` with any body (a malformed one, to see it refused). */
  postBody(body: unknown): Promise<CourseReply> {
    return this.send('POST', body);
  }

  /**
   * Pulls and posts the float result of every task (asking again shortly when there is none)
   * until `done(tasks so far)` says to stop; resolves with the tasks it computed.
   */
  async work(
    done: (tasks: readonly CourseTask[]) => boolean | Promise<boolean>,
    timeoutMs = 30_000,
  ): Promise<CourseTask[]> {
    const tasks: CourseTask[] = [];
    await waitFor(
      async () => {
        if (await done(tasks)) return true;
        const reply = await this.pull();
        if (reply.task) {
          tasks.push(reply.task);
          const posted = await this.post(reply.task.id, floatResult(reply.task));
          if (posted.status !== 200)
            throw new Error(
              `POST of task ${reply.task.id} → ${posted.status} ${posted.code ?? ''}`,
            );
        } else if (reply.code !== 'TASK_NOT_FOUND')
          throw new Error(`GET /internal/task → ${reply.status} ${reply.code ?? ''}`);
        return false;
      },
      timeoutMs,
      `${this.agentId ?? 'a guest'} to work until done`,
    );
    return tasks;
  }

  /** Pulls until a task comes (work may need a moment to be planned or requeued). */
  async nextTask(timeoutMs = 15_000): Promise<CourseTask> {
    return waitFor(
      async () => {
        const r = await this.pull();
        if (r.status !== 200 && r.code !== 'TASK_NOT_FOUND')
          throw new Error(`GET /internal/task → ${r.status} ${r.code ?? ''}`);
        return r.task ?? null;
      },
      timeoutMs,
      `a task for ${this.agentId ?? 'a guest'}`,
      50,
    );
  }

  /** Closes its connections (a shared pool is its owner's to close). */
  close(): void {
    if (this.ownPool) this.pool.destroy();
  }

  private send(method: 'GET' | 'POST', body?: unknown): Promise<CourseReply> {
    const headers: Record<string, string> = {};
    if (this.options.agentId !== undefined) headers['x-agent-id'] = this.options.agentId;
    if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = this.options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${this.base}/internal/task`,
        { method, headers, agent: this.pool, timeout },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            try {
              resolve(reply(res, method, text));
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} /internal/task timed out`)));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}

function reply(res: http.IncomingMessage, method: 'GET' | 'POST', text: string): CourseReply {
  const status = res.statusCode ?? 0;
  const json: unknown = text ? JSON.parse(text) : null;
  if (status === 200 && method === 'GET')
    return { status, task: CourseTaskSchema.parse((json as { task: unknown }).task) };
  if (status === 200) return { status };
  const out: CourseReply = { status };
  const error = ErrorBodySchema.safeParse(json);
  if (error.success) out.code = error.data.error.code;
  const after = res.headers['retry-after'];
  if (after !== undefined) out.retryAfter = Number(after);
  return out;
}
