/**
 * Worker-thread entry of the plan pool: compiles one expression per message and answers with the
 * plan packed into typed arrays (see `PackedPlan` in plan-source.ts). A structured clone of the
 * plain `Plan` of a 1 MB expression (500,000 op objects) costs the receiving thread seconds; the
 * packed form is a few transferred buffers and two strings, which the main thread indexes as they
 * are (`PackedPlanSource`).
 *
 * At run time this file imports only `@expressionist/core` and `plan-source.js` (which imports
 * only core), so it runs from `dist` even when the server itself runs from its TypeScript sources
 * (tests).
 */
import { constants, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { ExpressionistError, compile, type Operand, type Plan } from '@expressionist/core';
import type { PlanReply, PlanRequest } from './plan-pool.js';
import { OPERATORS, OP_FIELDS, firstLiteralZeroDivisor, type PackedPlan } from './plan-source.js';

/**
 * Planning yields the CPU to the event loop: on a machine with few cores the worker and the
 * main thread compete for them, and every ms the worker wins is a ms of event-loop delay (bench
 * 8). On Linux a nice value belongs to a thread, and `setpriority(PRIO_PROCESS, 0, …)` (what
 * `os.setPriority(n)` calls) sets the calling thread's, so this lowers this worker alone. Not
 * elsewhere: on macOS and others it would lower the whole orchestrator.
 */
function lowerOwnPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    setPriority(constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    // Not allowed here (a sandbox without setpriority): plan at the normal priority.
  }
}

/** An Int32Array over a buffer of its own, to transfer. */
function int32s(length: number): { array: Int32Array; buffer: ArrayBuffer } {
  const buffer = new ArrayBuffer(length * 4);
  return { array: new Int32Array(buffer), buffer };
}

function int32sFrom(values: readonly number[]): { array: Int32Array; buffer: ArrayBuffer } {
  const out = int32s(values.length);
  out.array.set(values);
  return out;
}

/** Packs a plan: ops as rows of OP_FIELDS int32s, literals as one string with end offsets. */
function pack(
  plan: Plan,
  normalized: string,
  id: number,
): { reply: PlanReply; transfer: ArrayBuffer[] } {
  const n = plan.ops.length;
  const opRows = int32s(n * OP_FIELDS);
  const ops = opRows.array;
  const lits: string[] = [];
  const litEnds: number[] = [];
  let litLength = 0;
  const divisors: number[] = [];
  const ref = (o: Operand): number => {
    if (o.kind === 'op') return o.id;
    lits.push(o.value);
    litLength += o.value.length;
    litEnds.push(litLength);
    return -lits.length; // literal k is -(k + 1)
  };
  for (let i = 0; i < n; i += 1) {
    const op = plan.ops[i]!;
    const row = i * OP_FIELDS;
    ops[row] = OPERATORS.indexOf(op.op);
    ops[row + 1] = ref(op.a);
    ops[row + 2] = ref(op.b);
    ops[row + 3] = op.span.start;
    ops[row + 4] = op.span.end;
    ops[row + 5] = op.opPos;
    ops[row + 6] = op.depth;
    if (op.divisors === undefined) {
      ops[row + 7] = -1;
      ops[row + 8] = -1;
    } else {
      ops[row + 7] = divisors.length;
      for (const d of op.divisors) divisors.push(ref(d.operand), d.slashPos);
      ops[row + 8] = divisors.length;
    }
  }
  const root = ref(plan.root);
  const ends = int32sFrom(litEnds);
  const divs = int32sFrom(divisors);
  const zeroDivisor = firstLiteralZeroDivisor(plan.ops);
  const packed: PackedPlan = {
    ops,
    lits: lits.join(''),
    litEnds: ends.array,
    divisors: divs.array,
    root,
    criticalPathOps: plan.criticalPathOps,
    zeroDivisor: zeroDivisor ?? -1,
  };
  return {
    reply: { ok: true, id, normalized, plan: packed },
    transfer: [opRows.buffer, ends.buffer, divs.buffer],
  };
}

const port = parentPort;
if (port === null) throw new Error('plan-worker.js runs as a worker thread only');
lowerOwnPriority();
port.on('message', (request: PlanRequest) => {
  let reply: PlanReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const compiled = compile(request.source, request.limits);
    ({ reply, transfer } = pack(compiled.plan, compiled.normalized, request.id));
  } catch (err) {
    reply =
      err instanceof ExpressionistError
        ? {
            ok: false,
            id: request.id,
            code: err.code,
            message: err.message,
            position: err.position,
          }
        : { ok: false, id: request.id, code: null, message: String(err), position: undefined };
  }
  port.postMessage(reply, transfer);
});
