import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  REMEMBERED_RESULTS,
  REMEMBER_FROM_MS,
  TaskRunner,
  type Task,
  type TaskResult,
} from '../src/index.js';

const task = (
  id: string,
  op: Task['op'],
  a: string,
  b: string,
  durationMs = 0,
  attempt = 1,
): Task => ({
  taskId: id,
  attempt,
  op,
  a,
  b,
  durationMs,
});

function collect(): {
  runner: TaskRunner;
  batches: TaskResult[][];
  invalid: string[];
  /** Resolves with the next batch sent. */
  nextBatch: () => Promise<TaskResult[]>;
} {
  const batches: TaskResult[][] = [];
  const invalid: string[] = [];
  let waiting: ((batch: TaskResult[]) => void)[] = [];
  const runner = new TaskRunner({
    send: (r) => {
      batches.push(r);
      const resolve = waiting;
      waiting = [];
      for (const w of resolve) w(r);
    },
    onInvalid: (reason) => invalid.push(reason),
  });
  const nextBatch = (): Promise<TaskResult[]> =>
    new Promise((resolve) => {
      waiting.push(resolve);
    });
  return { runner, batches, invalid, nextBatch };
}

describe('TaskRunner (the execution path of every agent)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('computes tasks exactly and sends results finishing together as one batch', async () => {
    const { runner, batches } = collect();
    runner.accept([
      task('e:0', '+', '0.1', '0.2'),
      task('e:1', '*', '1.5', '-2'),
      task('e:2', '/', '1', '3'),
    ]);
    expect(runner.running).toBe(3);
    await runner.idle();
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual([
      { taskId: 'e:0', attempt: 1, value: '0.3' },
      { taskId: 'e:1', attempt: 1, value: '-3' },
      { taskId: 'e:2', attempt: 1, value: '0.3333333333333333333333333333333333333333' },
    ]);
    expect(runner.completed).toBe(3);
  });

  it('waits durationMs before answering', async () => {
    vi.useFakeTimers();
    const { runner, batches, nextBatch } = collect();
    runner.accept([task('e:0', '-', '5', '7', 60)]);
    await vi.advanceTimersByTimeAsync(59);
    expect(runner.completed).toBe(0);
    const batch = nextBatch();
    await vi.advanceTimersByTimeAsync(1);
    expect(runner.completed).toBe(1);
    expect(await batch).toEqual([{ taskId: 'e:0', attempt: 1, value: '-2' }]);
    expect(batches).toHaveLength(1);
  });

  it('turns a division by zero into an error result, not a throw', async () => {
    const { runner, batches } = collect();
    runner.accept([task('e:0', '/', '1', '0')]);
    await runner.idle();
    expect(batches[0]![0]).toMatchObject({ taskId: 'e:0', error: { code: 'EXPR_DIV_ZERO' } });
  });

  it('drops revoked tasks and abandons everything on stop', async () => {
    vi.useFakeTimers();
    const { runner, nextBatch } = collect();
    runner.accept([task('e:0', '+', '1', '1', 30), task('e:1', '+', '2', '2', 30)]);
    runner.revoke(['e:0', 'unknown']);
    expect(runner.running).toBe(1);
    const batch = nextBatch();
    await vi.runAllTimersAsync();
    expect((await batch).map((r) => r.taskId)).toEqual(['e:1']);
    runner.accept([task('e:2', '+', '3', '3', 30)]);
    runner.stop();
    expect(runner.running).toBe(0);
    // Every timer it had set runs out: the stopped task never completes.
    await vi.runAllTimersAsync();
    expect(runner.completed).toBe(1);
  });

  it('a new attempt of the same task replaces the old one', async () => {
    vi.useFakeTimers();
    const { runner, nextBatch } = collect();
    const batch = nextBatch();
    runner.accept([task('e:0', '+', '1', '1', 40, 1)]);
    runner.accept([task('e:0', '+', '1', '1', 0, 2)]);
    expect(await batch).toEqual([{ taskId: 'e:0', attempt: 2, value: '2' }]);
    // Past the old attempt's 40 ms: it never completes.
    await vi.runAllTimersAsync();
    expect(runner.completed).toBe(1);
  });

  it('rejects malformed task messages without throwing', () => {
    const { runner, invalid } = collect();
    runner.accept([{ taskId: 'e:0', attempt: 1, op: '^', a: '1', b: '2', durationMs: 0 }]);
    runner.accept('not a list');
    runner.accept([{ ...task('e:1', '+', '1', '2'), a: '1; rm -rf /' }]);
    runner.revoke(42);
    expect(invalid).toHaveLength(3);
    expect(runner.running).toBe(0);
  });
});

describe('TaskRunner and a task sent again (after a reconnection)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('leaves an attempt it runs as it is: its timer goes on, one result', async () => {
    vi.useFakeTimers();
    const { runner, batches } = collect();
    runner.accept([task('e:0', '+', '1', '1', 40)]);
    await vi.advanceTimersByTimeAsync(30);
    runner.accept([task('e:0', '+', '1', '1', 40)]);
    expect(runner.running).toBe(1);
    // Done 40 ms after the first arrival, not after the second.
    await vi.advanceTimersByTimeAsync(10);
    expect(runner.completed).toBe(1);
    await vi.runAllTimersAsync();
    expect(batches.flat()).toEqual([{ taskId: 'e:0', attempt: 1, value: '2' }]);
  });

  it('leaves an attempt waiting for a slot where it is', async () => {
    vi.useFakeTimers();
    const batches: TaskResult[][] = [];
    const runner = new TaskRunner({ send: (r) => batches.push(r), concurrency: 1 });
    runner.accept([task('s:0', '+', '1', '1', 10), task('s:1', '+', '2', '2', 10)]);
    runner.accept([task('s:1', '+', '2', '2', 10), task('s:0', '+', '1', '1', 10)]);
    expect(runner.holding()).toEqual([
      { taskId: 's:0', attempt: 1 },
      { taskId: 's:1', attempt: 1 },
    ]);
    await vi.runAllTimersAsync();
    expect(batches.flat().map((r) => r.taskId)).toEqual(['s:0', 's:1']);
  });

  it('answers an attempt it already answered again at once (the first answer may be lost)', async () => {
    vi.useFakeTimers();
    const { runner, batches, nextBatch } = collect();
    const slow = task('e:0', '*', '6', '7', REMEMBER_FROM_MS);
    runner.accept([slow]);
    await vi.runAllTimersAsync();
    expect(batches).toEqual([[{ taskId: 'e:0', attempt: 1, value: '42' }]]);
    const again = nextBatch();
    runner.accept([slow]);
    // No timer: the next turn.
    await vi.advanceTimersByTimeAsync(0);
    expect(await again).toEqual([{ taskId: 'e:0', attempt: 1, value: '42' }]);
    expect(runner.completed).toBe(1);
    expect(runner.running).toBe(0);
    // Twice in one turn: one answer.
    runner.accept([slow]);
    runner.accept([slow]);
    await vi.runAllTimersAsync();
    expect(batches).toHaveLength(3);
    expect(batches[2]).toHaveLength(1);
  });

  it(`computes a task shorter than ${REMEMBER_FROM_MS} ms again (nothing remembered on the busy path)`, async () => {
    vi.useFakeTimers();
    const { runner, batches } = collect();
    const quick = task('e:0', '+', '1', '1', REMEMBER_FROM_MS - 1);
    runner.accept([quick]);
    await vi.runAllTimersAsync();
    runner.accept([quick]);
    expect(runner.running).toBe(1);
    await vi.runAllTimersAsync();
    expect(runner.completed).toBe(2);
    expect(batches.flat()).toHaveLength(2);
  });

  it('computes another attempt, and forgets an answer the orchestrator revoked', async () => {
    vi.useFakeTimers();
    const { runner, batches } = collect();
    const ms = REMEMBER_FROM_MS;
    runner.accept([task('e:0', '+', '2', '2', ms), task('e:1', '+', '3', '3', ms)]);
    await vi.runAllTimersAsync();
    runner.accept([task('e:0', '+', '2', '2', ms, 2)]);
    expect(runner.running).toBe(1);
    runner.revoke(['e:1']);
    runner.accept([task('e:1', '+', '3', '3', ms)]);
    expect(runner.running).toBe(2);
    await vi.runAllTimersAsync();
    expect(runner.completed).toBe(4);
    expect(batches.flat()).toHaveLength(4);
  });

  it(`remembers the latest answers (at most ${REMEMBERED_RESULTS})`, async () => {
    vi.useFakeTimers();
    const { runner } = collect();
    const nth = (i: number): Task => task(`m:${i}`, '+', '1', '1', REMEMBER_FROM_MS);
    runner.accept(Array.from({ length: REMEMBERED_RESULTS + 1 }, (_, i) => nth(i)));
    await vi.runAllTimersAsync();
    const before = runner.completed;
    runner.accept([nth(REMEMBERED_RESULTS), nth(0)]);
    // The latest is answered from memory; the oldest was forgotten and runs again.
    expect(runner.running).toBe(1);
    await vi.runAllTimersAsync();
    expect(runner.completed).toBe(before + 1);
  });

  it('lists what it holds: running, waiting, answered but not yet sent', () => {
    const runner = new TaskRunner({ send: () => undefined, concurrency: 1 });
    runner.accept([task('h:0', '+', '1', '1', 10), task('h:1', '+', '1', '1', 10, 3)]);
    expect(runner.holding()).toEqual([
      { taskId: 'h:0', attempt: 1 },
      { taskId: 'h:1', attempt: 3 },
    ]);
    runner.stop();
    expect(runner.holding()).toEqual([]);
  });
});

describe('TaskRunner worker slots', () => {
  it('runs at most `concurrency` tasks at once; the rest wait in arrival order', async () => {
    const batches: TaskResult[][] = [];
    const runner = new TaskRunner({ send: (r) => batches.push(r), concurrency: 2 });
    runner.accept([
      task('q:0', '+', '1', '1', 30),
      task('q:1', '+', '2', '2', 30),
      task('q:2', '+', '3', '3', 30),
      task('q:3', '+', '4', '4', 30),
    ]);
    expect(runner.running).toBe(2);
    runner.revoke(['q:3']);
    await runner.idle();
    expect(batches.flat().map((r) => r.taskId)).toEqual(['q:0', 'q:1', 'q:2']);
    expect(batches).toHaveLength(2);
  });
});
