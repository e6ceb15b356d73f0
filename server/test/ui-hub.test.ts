import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import type {
  ServerToUiEvents,
  SubscribeReply,
  UiDelta,
  UiSnapshot,
  UiToServerEvents,
} from '@expressionist/core';
import { answerHonestly, api, manualAgent, waitFor } from '@expressionist/testkit';
import { startTestOrchestrator, type TestOrchestrator } from './in-process.js';

let orch: TestOrchestrator;
const sockets: Socket[] = [];
beforeAll(async () => {
  orch = await startTestOrchestrator();
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await orch.close();
});

function dashboard(): {
  socket: Socket<ServerToUiEvents, UiToServerEvents>;
  snapshots: UiSnapshot[];
  deltas: UiDelta[];
} {
  const socket: Socket<ServerToUiEvents, UiToServerEvents> = io(`${orch.url}/ui`, {
    transports: ['websocket'],
  });
  sockets.push(socket);
  const snapshots: UiSnapshot[] = [];
  const deltas: UiDelta[] = [];
  socket.on('snapshot', (s) => snapshots.push(s));
  socket.on('delta', (d) => deltas.push(d));
  return { socket, snapshots, deltas };
}

describe('/ui namespace', () => {
  it('sends a snapshot on connect, then batched deltas of expressions, agents and settings', async () => {
    const client = api(orch.url);
    const before = await client.submit('1+1');
    const ui = dashboard();
    const snapshot = await waitFor(() => ui.snapshots[0], 5000, 'snapshot');
    expect(snapshot.expressions.map((e) => e.id)).toContain(before);
    expect(snapshot.settings).toMatchObject({ additionMs: 0 });
    expect(snapshot.stats).toMatchObject({ readyQueue: 1, running: 0 });

    const agent = await manualAgent(orch.url, 'ui-agent', 4);
    answerHonestly(agent);
    await waitFor(
      () =>
        ui.deltas.some((d) => d.agents?.some((a) => a.id === 'ui-agent' && a.status === 'active')),
      5000,
      'agent delta',
    );
    await waitFor(
      () =>
        ui.deltas.some((d) =>
          d.expressions?.some((e) => e.id === before && e.status === 'done' && e.value === '2'),
        ),
      5000,
      'done delta',
    );

    await client.settings({ lostAgentRetentionMs: 30_000 });
    await waitFor(
      () => ui.deltas.some((d) => d.settings?.lostAgentRetentionMs === 30_000),
      5000,
      'settings delta',
    );
    agent.socket.close();
    await waitFor(
      () =>
        ui.deltas.some((d) => d.agents?.some((a) => a.id === 'ui-agent' && a.status === 'lost')),
      5000,
      'lost delta',
    );
  });

  it('answers subscribe with the operations and then streams their changes', async () => {
    const client = api(orch.url);
    const id = await client.submit('(2+3)*(4+5)');
    const ui = dashboard();
    await waitFor(() => ui.snapshots[0], 5000, 'snapshot');
    // socket.io-client types a timed-out emitWithAck's reply as `any`; name the type it has.
    const reply: SubscribeReply = await ui.socket.timeout(5000).emitWithAck('subscribe', id);
    if (!reply.ok) throw new Error(reply.error.message);
    expect(reply.operations).toHaveLength(3);
    expect(reply.operations.filter((o) => o.state === 'ready')).toHaveLength(2);
    const agent = await manualAgent(orch.url, 'ui-agent-2', 4);
    answerHonestly(agent);
    await waitFor(
      () =>
        ui.deltas.some((d) =>
          d.operations?.some(
            (o) =>
              o.expressionId === id &&
              o.operations.some((op) => op.op === '*' && op.state === 'done' && op.result === '45'),
          ),
        ),
      5000,
      'operation deltas',
    );
    const missing = await ui.socket.timeout(5000).emitWithAck('subscribe', 'no-such-id');
    expect(missing).toMatchObject({ ok: false, error: { code: 'EXPRESSION_NOT_FOUND' } });
    agent.socket.close();
  });
});
