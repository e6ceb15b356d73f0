/**
 * The course protocol's two HTTP routes (`GET` and `POST /internal/task`): who calls, the guest
 * pull rate, and each outcome as its error code.
 */
import express, { type Request, type Response, type Router } from 'express';
import { CourseResultSchema, ERROR_CODES, ExpressionistError } from '@expressionist/core';
import type { AgentGate } from '../auth/agent-gate.js';
import { describeIssue, sendError } from '../errors.js';
import { callerOf, type Caller } from './callers.js';
import type { CourseAgents } from './course-agents.js';

/**
 * The two routes, mounted at the app's root; `gate` admits course agents (accounts mode),
 * undefined: everyone, as before accounts.
 */
export function courseRouter(
  agents: CourseAgents,
  gate: AgentGate | undefined,
  json: express.RequestHandler,
): Router {
  /** Who sent `req`, or null after answering 401 UNAUTHENTICATED. */
  const callerOrRefuse = async (req: Request, res: Response): Promise<Caller | null> => {
    try {
      return await callerOf(req, gate, agents.connection(req).address);
    } catch (err) {
      if (!(err instanceof ExpressionistError)) throw err;
      res
        .status(ERROR_CODES[err.code].status)
        .json({ error: { code: err.code, message: err.message } });
      return null;
    }
  };

  const router = express.Router();
  router.get('/internal/task', async (req, res) => {
    const caller = await callerOrRefuse(req, res);
    if (!caller) return;
    if (caller.guest && gate) {
      const wait = await gate.guestPullWait(agents.connection(req).address);
      if (wait > 0) {
        res.set('Retry-After', String(wait));
        sendError(res, 'RATE_LIMITED', {
          what: 'task requests from this address',
          seconds: wait,
        });
        return;
      }
    }
    const task = agents.lease(req, caller);
    if (task === 'quarantined') {
      sendError(res, 'AGENT_QUARANTINED', { reason: 'it returned a wrong result' });
    } else if (task === 'crowded') {
      res.set('Retry-After', '60');
      sendError(res, 'RATE_LIMITED', {
        what: 'guest agents from this address, all busy',
        seconds: 60,
      });
    } else if (task === 'unresponsive') {
      sendError(res, 'TASK_NOT_FOUND', {
        reason: 'Nothing for you right now: your earlier tasks expired unanswered (cool-down).',
      });
    } else if (!task) {
      sendError(res, 'TASK_NOT_FOUND', { reason: 'Nothing to do right now.' });
    } else {
      res.json({ task });
    }
  });
  router.post('/internal/task', json, async (req, res) => {
    const caller = await callerOrRefuse(req, res);
    if (!caller) return;
    const body = CourseResultSchema.safeParse(req.body);
    if (!body.success) {
      sendError(res, 'TASK_RESULT_INVALID', { reason: describeIssue(body.error).message });
      return;
    }
    const id = body.data.id;
    const outcome = await agents.submit(req, caller, Number(id), body.data.result);
    if (outcome === 'accepted') res.json({ ok: true });
    else if (outcome === 'unknown')
      sendError(res, 'TASK_NOT_FOUND', {
        reason: `No task ${id} is leased to you (finished, reassigned, or never issued to you).`,
      });
    else
      sendError(res, 'TASK_RESULT_WRONG', {
        reason:
          outcome === 'rejected'
            ? 'The result does not match the verified value; the task goes to another agent.'
            : 'The result does not match the verified value; this agent is quarantined.',
      });
  });
  return router;
}
