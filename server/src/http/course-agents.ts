/**
 * The course's standard agent protocol: `GET /internal/task` leases the next ready operation to a
 * pulling agent, `POST /internal/task` returns its result. Course agents send no identity and
 * decode the task id as a number or a string, so this module works out who is pulling and how to
 * speak to it, and talks to the scheduler only through its narrow `CourseWork` interface.
 */
import express, { type Request, type Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  CourseResultSchema,
  decimalEquals,
  type CourseTask,
  toJsonNumber,
  withinFloatRounding,
} from '@expressionist/core';
import type { CourseWork } from '../scheduler/scheduler.js';
import { describeIssue, sendError } from './errors.js';

const AgentKeySchema = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/);

export type CourseResultOutcome = 'accepted' | 'unknown' | 'wrong' | 'quarantined';

/** The course agent's identity: its `X-Agent-Id` header, or its address. */
function agentKeyOf(req: Request): string {
  const header = AgentKeySchema.safeParse(req.get('x-agent-id'));
  if (header.success) return `http-${header.data}`;
  return `http-${(req.ip ?? 'unknown').replace(/[^A-Za-z0-9.:-]/g, '')}`;
}

/**
 * Task ids that never repeat across restarts: microseconds since the epoch at issue, bumped past
 * the previous id. A restarted orchestrator starts above every id it issued before (unless it
 * issued more than a million per second, which is far beyond what it dispatches), with no store
 * round trip per task; the ids stay below 2^53, so they are exact as JSON numbers.
 */
export class CourseIds {
  private last = 0;

  next(now = Date.now()): number {
    this.last = Math.max(this.last + 1, now * 1000);
    return this.last;
  }
}

export class CourseAgents {
  private readonly ids = new CourseIds();

  constructor(
    private readonly work: CourseWork,
    private readonly log: Logger,
    private readonly idMode: 'auto' | 'number' | 'string' = 'auto',
  ) {}

  /** `GET /internal/task`: the next ready operation for the pulling agent, if any. */
  lease(key: string): CourseTask | 'quarantined' | null {
    const now = Date.now();
    const agent = this.work.pulled(key, now);
    if (agent === 'quarantined') return 'quarantined';
    const leased = this.work.leaseNext(agent, this.ids.next(now), now);
    this.work.agentChanged(agent);
    if (!leased) return null;
    const { lease, task } = leased;
    return {
      id: lease.courseId,
      arg1: toJsonNumber(task.a),
      arg2: toJsonNumber(task.b),
      operation: task.op,
      operation_time: task.durationMs,
    };
  }

  /**
   * `POST /internal/task`: a float result within float64 rounding of the exact value is accepted
   * and the exact value recorded. Only the agent holding the lease may answer it: anyone else's
   * post (a stale id from before a restart, another agent's id) is refused and blames nobody.
   * Resolves once the result is stored.
   */
  async submit(
    key: string,
    courseId: number,
    result: number | string,
  ): Promise<CourseResultOutcome> {
    const lease = this.work.lease(courseId);
    if (!lease || lease.agent.id !== key) return 'unknown';
    if (lease.agent.status === 'quarantined') return 'quarantined';
    lease.agent.seen(Date.now());
    const matches = (expected: string): boolean =>
      typeof result === 'number'
        ? withinFloatRounding(expected, result)
        : decimalEquals(expected, result);
    const verdict = await this.work.settle(lease, matches);
    if (verdict === 'wrong') {
      this.work.quarantine(lease.agent, `returned ${String(result)} for task ${courseId}`);
      this.log.warn({ agent: key, courseId }, 'course agent quarantined for a wrong result');
    }
    return verdict;
  }

  /** The two routes, mounted at the app's root. */
  router(json: express.RequestHandler): Router {
    const router = express.Router();
    router.get('/internal/task', (req, res) => {
      const task = this.lease(agentKeyOf(req));
      if (task === 'quarantined') {
        sendError(res, 'AGENT_QUARANTINED', { reason: 'it returned a wrong result' });
        return;
      }
      if (!task) {
        sendError(res, 'TASK_NOT_FOUND', { reason: 'Nothing to do right now.' });
        return;
      }
      res.json({ task });
    });
    router.post('/internal/task', json, async (req, res) => {
      const body = CourseResultSchema.safeParse(req.body);
      if (!body.success) {
        sendError(res, 'TASK_RESULT_INVALID', { reason: describeIssue(body.error).message });
        return;
      }
      const outcome = await this.submit(agentKeyOf(req), Number(body.data.id), body.data.result);
      if (outcome === 'accepted') res.json({ ok: true });
      else if (outcome === 'unknown')
        sendError(res, 'TASK_NOT_FOUND', {
          reason: `No task ${body.data.id} is leased to you (finished, reassigned, or never issued to you).`,
        });
      else if (outcome === 'quarantined')
        sendError(res, 'AGENT_QUARANTINED', { reason: 'it returned a wrong result' });
      else
        sendError(res, 'TASK_RESULT_WRONG', {
          reason: 'The result does not match the verified value; this agent is quarantined.',
        });
    });
    return router;
  }
}
