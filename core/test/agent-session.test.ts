import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AgentSession,
  KEEP_TASKS_MS,
  MAX_HOLDING,
  type AgentHello,
  type Task,
  type TaskResult,
} from '../src/index.js';

const BASE: AgentHello = { agentId: 'a', name: 'a', kind: 'node', concurrency: 1, protocol: 2 };

const task = (id: string, durationMs: number, attempt = 1): Task => ({
  taskId: id,
  attempt,
  op: '+',
  a: '1',
  b: '2',
  durationMs,
});

/** A session whose connection the test switches on and off; what it emitted. */
function session(): { s: AgentSession; emitted: TaskResult[][]; link: { up: boolean } } {
  const emitted: TaskResult[][] = [];
  const link = { up: true };
  const s = new AgentSession({
    concurrency: 1,
    emit: (results) => {
      if (!link.up) return false;
      emitted.push(results);
      return true;
    },
  });
  return { s, emitted, link };
}

describe('AgentSession (what a socket agent keeps across connections)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps results finished while disconnected, lists them in the hello, sends them once back', async () => {
    vi.useFakeTimers({ now: 0 });
    const { s, emitted, link } = session();
    s.runner.accept([task('t:0', 10), task('t:1', 10, 2)]);
    link.up = false;
    s.disconnected(false);
    await vi.advanceTimersByTimeAsync(10);
    expect(s.unsent).toBe(1);
    // One finished (unsent), one running.
    expect(s.hello(BASE).holding).toEqual([
      { taskId: 't:1', attempt: 2 },
      { taskId: 't:0', attempt: 1 },
    ]);
    link.up = true;
    s.connected();
    expect(emitted).toEqual([[{ taskId: 't:0', attempt: 1, value: '3' }]]);
    expect(s.unsent).toBe(0);
  });

  it(`drops what it held when the next handshake comes more than ${KEEP_TASKS_MS} ms after the loss`, async () => {
    vi.useFakeTimers({ now: 0 });
    const { s, link } = session();
    s.runner.accept([task('t:0', 10), task('t:1', 60_000)]);
    link.up = false;
    s.disconnected(false);
    await vi.advanceTimersByTimeAsync(KEEP_TASKS_MS);
    expect(s.hello(BASE).holding).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.hello(BASE)).toEqual({ ...BASE, holding: [] });
    expect(s.runner.running).toBe(0);
  });

  it('drops everything when told to go (its tasks were handed back)', async () => {
    vi.useFakeTimers({ now: 0 });
    const { s, emitted } = session();
    s.runner.accept([task('t:0', 10)]);
    s.disconnected(true);
    await vi.runAllTimersAsync();
    s.connected();
    expect(emitted).toEqual([]);
    expect(s.hello(BASE).holding).toEqual([]);
  });

  it(`lists at most ${MAX_HOLDING} attempts`, () => {
    const s = new AgentSession({ concurrency: 1, emit: () => true });
    s.runner.accept(Array.from({ length: MAX_HOLDING + 5 }, (_, i) => task(`t:${i}`, 1000)));
    expect(s.hello(BASE).holding).toHaveLength(MAX_HOLDING);
    s.stop();
  });
});
