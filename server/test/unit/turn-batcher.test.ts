// The relay's turn batcher under fake timers: what one event-loop turn queues for a destination
// leaves as one batch, in order; a batch over the size bound is split; and the cluster bus sends
// a turn's batches before any plain message, so one instance's messages keep their order.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { Server } from 'socket.io';
import { ClusterBus } from '../../src/cluster/bus.js';
import {
  ClusterMessageSchema,
  type AgentEvent,
  type ClusterMessage,
} from '../../src/cluster/messages.js';
import { MAX_BATCH_BYTES, TurnBatcher } from '../../src/cluster/turn-batcher.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function recorder<T>(): { sent: { key: string; items: T[] }[]; batcher: TurnBatcher<T> } {
  const sent: { key: string; items: T[] }[] = [];
  return { sent, batcher: new TurnBatcher<T>({ send: (key, items) => sent.push({ key, items }) }) };
}

describe('one batch per destination and turn', () => {
  it('what one turn queues leaves at the end of the turn, one batch per destination, in order', () => {
    const { sent, batcher } = recorder<number>();
    for (let i = 0; i < 50; i += 1) batcher.add(i % 2 === 0 ? 'g1' : 'g2', i);
    expect(sent).toHaveLength(0);
    expect(batcher.queued).toBe(50);
    vi.runAllTimers();
    expect(sent.map((b) => b.key)).toEqual(['g1', 'g2']);
    expect(sent[0]?.items).toEqual(Array.from({ length: 25 }, (_, k) => 2 * k));
    expect(sent[1]?.items).toEqual(Array.from({ length: 25 }, (_, k) => 2 * k + 1));
    expect(batcher.queued).toBe(0);
  });

  it('the next turn starts a new batch', () => {
    const { sent, batcher } = recorder<string>();
    batcher.add('g', 'a');
    batcher.add('g', 'b');
    vi.runAllTimers();
    batcher.add('g', 'c');
    vi.runAllTimers();
    expect(sent).toEqual([
      { key: 'g', items: ['a', 'b'] },
      { key: 'g', items: ['c'] },
    ]);
  });

  it('flush sends at once, and the end of the turn then sends nothing twice', () => {
    const { sent, batcher } = recorder<string>();
    batcher.add('g', 'a');
    batcher.flush();
    expect(sent).toEqual([{ key: 'g', items: ['a'] }]);
    vi.runAllTimers();
    expect(sent).toHaveLength(1);
    batcher.flush();
    expect(sent).toHaveLength(1);
  });

  it('clear drops what is queued', () => {
    const { sent, batcher } = recorder<string>();
    batcher.add('g', 'a');
    batcher.clear();
    vi.runAllTimers();
    expect(sent).toHaveLength(0);
  });
});

describe('size bound', () => {
  it('a batch over the bound is split, in order, each part within the bound', () => {
    // 5,000 results of ~400 bytes: about 2 MB in one turn.
    const { sent, batcher } = recorder<AgentEvent>();
    const events: AgentEvent[] = Array.from({ length: 5000 }, (_, i) => ({
      e: 'results',
      socketId: `s${i % 7}`,
      batch: [{ taskId: `t${i}`, attempt: 1, value: String(i).padStart(300, '7') }],
    }));
    for (const e of events) batcher.add('leader', e);
    vi.runAllTimers();
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent.length).toBeLessThanOrEqual(3);
    expect(sent.flatMap((b) => b.items)).toEqual(events);
    for (const b of sent) {
      const bytes = b.items.reduce((n, item) => n + JSON.stringify(item).length, 0);
      expect(bytes).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    }
  });

  it('an item bigger than the bound travels alone, never cut', () => {
    const sent: string[][] = [];
    const batcher = new TurnBatcher<string>({
      send: (_, items) => sent.push(items),
      sizeOf: (s) => s.length,
      maxBytes: 10,
    });
    for (const s of ['aaaa', 'bbbb', 'c'.repeat(25), 'dd', 'eeeeeeee']) batcher.add('g', s);
    vi.runAllTimers();
    expect(sent).toEqual([['aaaa', 'bbbb'], ['c'.repeat(25)], ['dd', 'eeeeeeee']]);
  });
});

describe('the cluster bus', () => {
  it("sends a turn's batches before a plain message, and each batch as one message", () => {
    // Never attached: no port, nothing to close.
    const io = new Server();
    const emitted: ClusterMessage[] = [];
    vi.spyOn(io, 'serverSideEmit').mockImplementation((_event, message: ClusterMessage) => {
      emitted.push(message);
      return true;
    });
    const bus = new ClusterBus(io, pino({ level: 'silent' }));
    const events = bus.batcher<AgentEvent>((_, batch) => ({
      t: 'agent-events',
      from: 'g1',
      events: batch,
    }));
    for (let i = 0; i < 50; i += 1) events.add('leader', { e: 'drain', socketId: `s${i}` });
    expect(emitted).toHaveLength(0);
    bus.send({ t: 'beat', from: 'g1', agents: [] });
    expect(emitted.map((m) => m.t)).toEqual(['agent-events', 'beat']);
    const first = emitted[0];
    expect(first?.t === 'agent-events' ? first.events.length : 0).toBe(50);
    vi.runAllTimers();
    expect(emitted).toHaveLength(2);
  });

  it('skips unvalidated what is addressed to another instance or not wanted now', () => {
    const io = new Server();
    const on = vi.spyOn(io, 'on');
    const bus = new ClusterBus(io, pino({ level: 'silent' }));
    const listener = on.mock.calls.find(([event]) => event === 'cluster')?.[1];
    const deliver = (raw: unknown): void => {
      if (listener) listener(raw);
    };
    expect(listener).toBeDefined();
    bus.identify('me');
    const rejoins: string[][] = [];
    bus.on('rejoin', (m) => rejoins.push(m.sockets));
    let leading = false;
    const beats: string[] = [];
    bus.on(
      'beat',
      (m) => beats.push(m.from),
      () => leading,
    );
    const validate = vi.spyOn(ClusterMessageSchema, 'safeParse');

    deliver({ t: 'rejoin', from: 'leader', to: 'other', sockets: ['s1'] });
    deliver({ t: 'beat', from: 'g2', agents: [] });
    expect(validate).not.toHaveBeenCalled();
    expect(rejoins).toEqual([]);
    expect(beats).toEqual([]);

    deliver({ t: 'rejoin', from: 'leader', to: 'me', sockets: ['s2'] });
    leading = true;
    deliver({ t: 'beat', from: 'g2', agents: [] });
    expect(validate).toHaveBeenCalledTimes(2);
    expect(rejoins).toEqual([['s2']]);
    expect(beats).toEqual(['g2']);
  });
});
