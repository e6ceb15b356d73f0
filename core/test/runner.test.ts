import { describe, expect, it } from 'vitest';
import { TaskRunner, type Task, type TaskResult } from '../src/index.js';

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

function collect(): { runner: TaskRunner; batches: TaskResult[][]; invalid: string[] } {
  const batches: TaskResult[][] = [];
  const invalid: string[] = [];
  const runner = new TaskRunner({
    send: (r) => batches.push(r),
    onInvalid: (reason) => invalid.push(reason),
  });
  return { runner, batches, invalid };
}

describe('TaskRunner (the execution path of every agent)', () => {
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
    const { runner, batches } = collect();
    const started = Date.now();
    runner.accept([task('e:0', '-', '5', '7', 60)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(batches).toHaveLength(0);
    await runner.idle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(batches[0]).toEqual([{ taskId: 'e:0', attempt: 1, value: '-2' }]);
  });

  it('turns a division by zero into an error result, not a throw', async () => {
    const { runner, batches } = collect();
    runner.accept([task('e:0', '/', '1', '0')]);
    await runner.idle();
    expect(batches[0]![0]).toMatchObject({ taskId: 'e:0', error: { code: 'EXPR_DIV_ZERO' } });
  });

  it('drops revoked tasks and abandons everything on stop', async () => {
    const { runner, batches } = collect();
    runner.accept([task('e:0', '+', '1', '1', 30), task('e:1', '+', '2', '2', 30)]);
    runner.revoke(['e:0', 'unknown']);
    expect(runner.running).toBe(1);
    await runner.idle();
    expect(batches.flat().map((r) => r.taskId)).toEqual(['e:1']);
    runner.accept([task('e:2', '+', '3', '3', 30)]);
    runner.stop();
    expect(runner.running).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches.flat().map((r) => r.taskId)).toEqual(['e:1']);
  });

  it('a new attempt of the same task replaces the old one', async () => {
    const { runner, batches } = collect();
    runner.accept([task('e:0', '+', '1', '1', 40, 1)]);
    runner.accept([task('e:0', '+', '1', '1', 0, 2)]);
    await runner.idle();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(batches.flat()).toEqual([{ taskId: 'e:0', attempt: 2, value: '2' }]);
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
