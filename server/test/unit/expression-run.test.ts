// The operation state machine of one expression (ExpressionRun), driven directly: which ops are
// ready and in what order, what completing one releases, how failures and the end settle the
// ops. The end-to-end suites show the same through agents; here each rule is one assertion.
import { errorInfo } from '@expressionist/core';
import { describe, expect, it } from 'vitest';
import { OpState } from '../../src/scheduler/expression-run.js';
import { drain, handPlan, readyAll, runOf } from './fixtures.js';

/**
 * op0 = 1+1 feeds the root directly; op1 → op2 → op3 is a chain into the root:
 * heights (ops on the longest path to the root) op1 4, op2 3, op0 2, op3 2, op4 1.
 */
const LOPSIDED = handPlan([
  ['1', '1'],
  ['2', '2'],
  [1, '3'],
  [2, '4'],
  [0, 3],
]);

describe('ready order', () => {
  it('starts the op on the longest chain to the root first, not the lowest id', () => {
    const run = runOf(LOPSIDED);
    expect(readyAll(run)).toEqual([0, 1]);
    expect(drain(run)).toEqual([1, 0]);
  });

  it('ties go to the lower id (source order), whatever order they were readied in', () => {
    const run = runOf(
      handPlan([
        ['1', '1'],
        ['2', '2'],
        ['3', '3'],
        [0, 1],
        [3, 2],
      ]),
    );
    // op0 and op1 both have height 3; op2 has 2.
    run.markReady(2);
    run.markReady(1);
    run.markReady(0);
    expect(drain(run)).toEqual([0, 1, 2]);
  });

  it('skips queued entries that stopped being ready (taken, or the run ended)', () => {
    const run = runOf(LOPSIDED);
    readyAll(run);
    expect(run.readyCount).toBe(2);
    run.finish({ status: 'canceled', error: errorInfo('EXPR_CANCELED', {}) }, 5);
    // Both entries are still in the heap (an upper bound), but neither is handed out.
    expect(run.hasReady).toBe(true);
    expect(run.takeReady()).toBeUndefined();
    expect(run.hasReady).toBe(false);
  });

  it('a run set up in slices orders its ops exactly as one set up at once', () => {
    const expression = '(1+2)*(3+4*5-6)/(7+8*9*(10-11))+12*13-14/15';
    const whole = runOf(expression);
    const sliced = runOf(expression, { deferSetup: true });
    expect(sliced.isSetUp).toBe(false);
    let slices = 0;
    while (!sliced.setUp(2)) slices += 1;
    expect(slices).toBeGreaterThan(3);
    readyAll(whole);
    readyAll(sliced);
    expect(drain(sliced)).toEqual(drain(whole));
  });
});

describe('completion', () => {
  it('releases a consumer only once its last op input is known', () => {
    const run = runOf(LOPSIDED);
    readyAll(run);
    for (const id of drain(run)) run.startAttempt(id, 'a', 1);
    run.markStoring(0);
    expect(run.stateOf(0)).toBe(OpState.Storing);
    // op4 waits on op3 as well.
    expect(run.complete(0, '2', 2)).toEqual([]);
    expect(run.stateOf(0)).toBe(OpState.Done);
    expect(run.isComputable(4)).toBe(false);
    expect(run.complete(1, '4', 3)).toEqual([2]);
    expect(run.isComputable(2)).toBe(true);
    run.markReady(2);
    run.startAttempt(2, 'a', 4);
    expect(run.complete(2, '7', 5)).toEqual([3]);
    run.markReady(3);
    run.startAttempt(3, 'a', 6);
    expect(run.complete(3, '11', 7)).toEqual([4]);
    expect(run.doneCount).toBe(4);
    expect(run.resultOf(3)).toBe('11');
    expect(run.valueOf({ kind: 'op', id: 0 })).toBe('2');
    expect(run.isRoot(4)).toBe(true);
    expect(run.isRoot(3)).toBe(false);
  });

  it('the first attempt moves the expression pending → in_progress, once', () => {
    const run = runOf(LOPSIDED);
    readyAll(run);
    const [first, second] = drain(run);
    expect(run.stored.status).toBe('pending');
    expect(run.startAttempt(first!, 'a', 10)).toEqual({ attempt: 1, started: true });
    expect(run.stored).toMatchObject({ status: 'in_progress', startedAt: 10 });
    expect(run.startAttempt(second!, 'b', 11)).toEqual({ attempt: 1, started: false });
    expect(run.stored.startedAt).toBe(10);
    expect(run.stateOf(first!)).toBe(OpState.Running);
    expect(run.agentOf(first!)).toBe('a');
  });

  it('restores stored results and returns the root value when it is among them', () => {
    const run = runOf(LOPSIDED);
    const at = { expressionId: 'e1', agentId: 'x', attempt: 2, finishedAt: 9 };
    expect(
      run.restore([
        { ...at, opId: 0, value: '2' },
        { ...at, opId: 1, value: '4' },
      ]),
    ).toBeUndefined();
    // op0 and op1 are done, so op2 is the one left to run (op4 still waits on op3).
    expect(run.computable()).toEqual([2]);
    expect(run.attemptOf(1)).toBe(2);
    expect(run.restore([{ ...at, opId: 4, value: '13' }])).toBe('13');
  });
});

describe('failure', () => {
  it('a retry counts against the op only when it says so, and remembers the actors to avoid', () => {
    const run = runOf(LOPSIDED);
    readyAll(run);
    run.takeReady();
    run.startAttempt(1, 'a', 1);
    expect(run.retry(1, false)).toBe(0);
    expect(run.retry(1, true, 'actor-a')).toBe(1);
    expect(run.retry(1, true, 'actor-b', 2)).toBe(2);
    expect(run.retry(1, true, 'actor-c', 2)).toBe(3);
    expect(run.reassignedOf(1)).toBe(4);
    expect(run.failuresOf(1)).toBe(3);
    // At most `keep` actors are remembered, the latest.
    expect(run.avoidedBy(1)).toEqual(['actor-b', 'actor-c']);
    run.markReady(1);
    expect(run.takeReady()).toBe(1);
    expect(run.startAttempt(1, 'b', 2).attempt).toBe(2);
    // A done op forgets whom to avoid.
    run.complete(1, '4', 3);
    expect(run.avoidedBy(1)).toBeUndefined();
  });

  it('an error fails every op not done or being stored, and the record takes the error', () => {
    const run = runOf(LOPSIDED);
    readyAll(run);
    drain(run).forEach((id) => run.startAttempt(id, 'a', 1));
    run.complete(0, '2', 2);
    run.markStoring(1);
    const error = errorInfo('EXPR_DIV_ZERO', { column: 3, snippet: '1/0' }, 3);
    expect(run.finish({ status: 'error', error }, 7)).toEqual([2, 3, 4]);
    expect([0, 1, 2, 3, 4].map((id) => run.stateOf(id))).toEqual([
      OpState.Done,
      OpState.Storing,
      OpState.Failed,
      OpState.Failed,
      OpState.Failed,
    ]);
    expect(run.finished).toBe(true);
    expect(run.stored).toMatchObject({ status: 'error', error, finishedAt: 7, startedAt: 1 });
  });

  it('a cancel marks them canceled; a run that never started gets its start time', () => {
    const run = runOf(LOPSIDED);
    run.finish({ status: 'canceled', error: errorInfo('EXPR_CANCELED', {}) }, 4);
    expect(run.stateOf(0)).toBe(OpState.Canceled);
    expect(run.stored).toMatchObject({ status: 'canceled', startedAt: 4, finishedAt: 4 });
  });

  it('done keeps every op as it is and records the value', () => {
    const run = runOf(LOPSIDED);
    expect(run.finish({ status: 'done', value: '13' }, 4)).toEqual([]);
    expect(run.stored).toMatchObject({ status: 'done', value: '13' });
  });
});
