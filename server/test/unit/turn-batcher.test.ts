// The relay's turn batcher under fake timers: what one event-loop turn queues for a destination
// leaves as one batch, in order; a batch over the size bound is split; and the cluster bus sends
// a turn's batches before any plain message, so one instance's messages keep their order; the
// relay's size estimates are never below an item's JSON.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { Server } from 'socket.io';
import { ClusterBus } from '../../src/cluster/bus.js';
import {
  agentCommandSize,
  agentEventSize,
  ClusterMessageSchema,
  type AgentCommand,
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

describe("the relay's size estimates", () => {
  const long = '9'.repeat(50_000);
  const events: AgentEvent[] = [
    {
      e: 'results',
      socketId: 's1',
      batch: [
        { taskId: 'e1:3:k', attempt: 1, value: long },
        { taskId: 'e1:4:k', attempt: 2, error: { code: 'X', message: 'm'.repeat(1000) } },
      ],
    },
    {
      e: 'join',
      agent: {
        socketId: 's1',
        credentialId: 'c'.repeat(40),
        hello: {
          agentId: 'a'.repeat(64),
          name: 'n'.repeat(64),
          kind: 'node',
          concurrency: 256,
          protocol: 2,
          token: 't'.repeat(4096),
          holding: Array.from({ length: 2048 }, (_, i) => ({
            taskId: `${'e'.repeat(150)}:${i}`,
            attempt: 99,
          })),
        },
        standing: { trust: 'credential', identity: 'i'.repeat(200), actor: 'x'.repeat(200) },
      },
    },
    { e: 'drain', socketId: 's1' },
    { e: 'leave', socketId: 's1', reason: 'transport close' },
  ];
  const commands: AgentCommand[] = [
    {
      c: 'tasks',
      socketId: 's1',
      tasks: [
        { taskId: 'e1:5:k', attempt: 1, op: '/', a: long, b: '-1e-40', durationMs: 3_600_000 },
      ],
    },
    { c: 'revoke', socketId: 's1', taskIds: ['e1:5:k', 'e1:6:k'] },
    {
      c: 'settings',
      socketId: 's1',
      settings: {
        additionMs: 3_600_000,
        subtractionMs: 3_600_000,
        multiplicationMs: 3_600_000,
        divisionMs: 3_600_000,
        lostAgentRetentionMs: 604_800_000,
        retentionMs: 3_153_600_000_000,
      },
    },
    { c: 'quarantine', socketId: 's1', reason: 'returned 7 for task e1:5:k' },
    { c: 'close', socketId: 's1', reason: 'its credential was revoked' },
  ];

  it('are at least the JSON length of every kind of event and command', () => {
    for (const e of events)
      expect(agentEventSize(e), e.e).toBeGreaterThanOrEqual(JSON.stringify(e).length);
    for (const c of commands)
      expect(agentCommandSize(c), c.c).toBeGreaterThanOrEqual(JSON.stringify(c).length);
  });
});
