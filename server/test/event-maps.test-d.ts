/**
 * Type tests for the Socket.IO event maps (run by `npm run test:types`, i.e. `vitest --typecheck`;
 * this file is only type-checked, never executed). Each `@ts-expect-error` marks an emit or a
 * listener that must not compile: if the namespaces ever share one merged event map again, the
 * directive becomes unused and the type check fails.
 */
import type { Socket as ClientSocket } from 'socket.io-client';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  AgentToServerEvents,
  ServerToAgentEvents,
  ServerToUiEvents,
  SubscribeReply,
  Task,
  TaskResult,
  UiDelta,
  UiSnapshot,
  UiToServerEvents,
} from '@expressionist/core';
import {
  agentsNamespace,
  uiNamespace,
  type AgentsNamespace,
  type IoServer,
  type UiNamespace,
} from '../src/realtime/io.js';

declare const io: IoServer;
declare const snapshot: UiSnapshot;
declare const task: Task;

describe('/agents namespace (server side)', () => {
  it('emits and hears agent events only', () => {
    expectTypeOf(agentsNamespace(io)).toEqualTypeOf<AgentsNamespace>();
    expectTypeOf<Parameters<AgentsNamespace['emit']>[0]>().toEqualTypeOf<
      keyof ServerToAgentEvents
    >();
    const agents = agentsNamespace(io);
    agents.on('connection', (socket) => {
      socket.emit('tasks', [task]);
      socket.emit('revoke', ['e:0']);
      // @ts-expect-error a dashboard event on an agent socket
      socket.emit('snapshot', snapshot);
      // @ts-expect-error a dashboard event on an agent socket
      socket.emit('delta', {});
      socket.on('results', (results) => expectTypeOf(results).toEqualTypeOf<TaskResult[]>());
      // @ts-expect-error agents never send a dashboard event
      socket.on('subscribe', () => undefined);
      expectTypeOf(socket.data.hello?.agentId).toEqualTypeOf<string | undefined>();
    });
    // @ts-expect-error a broadcast of a dashboard event to every agent
    agents.emit('delta', {});
    // @ts-expect-error a dashboard event to a room of agents
    agents.to('room').emit('snapshot', snapshot);
    agents.to('room').emit('quarantined', 'wrong result');
  });
});

describe('/ui namespace (server side)', () => {
  it('emits and hears dashboard events only', () => {
    expectTypeOf(uiNamespace(io)).toEqualTypeOf<UiNamespace>();
    expectTypeOf<Parameters<UiNamespace['emit']>[0]>().toEqualTypeOf<keyof ServerToUiEvents>();
    const ui = uiNamespace(io);
    ui.on('connection', (socket) => {
      socket.emit('snapshot', snapshot);
      // @ts-expect-error an agent event on a dashboard socket
      socket.emit('tasks', [task]);
      // @ts-expect-error an agent event on a dashboard socket
      socket.emit('settings', snapshot.settings);
      socket.on('subscribe', (expressionId, ack) => {
        expectTypeOf(expressionId).toEqualTypeOf<string>();
        expectTypeOf(ack).parameter(0).toEqualTypeOf<SubscribeReply>();
      });
      // @ts-expect-error dashboards never send results
      socket.on('results', () => undefined);
    });
    // @ts-expect-error a broadcast of an agent event to every dashboard
    ui.emit('revoke', []);
    ui.to('expr:1').emit('delta', {});
  });

  it('leaves nothing to emit on the bare server: namespaces come from the typed helpers', () => {
    // @ts-expect-error the server itself has no event map
    io.emit('delta', {});
    // @ts-expect-error nor does a namespace taken from it without the helper
    io.of('/agents').emit('tasks', [task]);
  });
});

describe('clients (socket.io-client)', () => {
  it('types an agent socket with the agent maps', () => {
    const agent = {} as ClientSocket<ServerToAgentEvents, AgentToServerEvents>;
    agent.emit('results', []);
    agent.emit('drain');
    // @ts-expect-error an agent cannot subscribe like a dashboard
    agent.emit('subscribe', 'e1', () => undefined);
    agent.on('tasks', (tasks) => expectTypeOf(tasks).toEqualTypeOf<Task[]>());
    // @ts-expect-error an agent never hears a snapshot
    agent.on('snapshot', () => undefined);
  });

  it('types a dashboard socket with the dashboard maps', () => {
    const dashboard = {} as ClientSocket<ServerToUiEvents, UiToServerEvents>;
    dashboard.on('delta', (delta) => expectTypeOf(delta).toEqualTypeOf<UiDelta>());
    dashboard.emit('subscribe', 'e1', (reply) =>
      expectTypeOf(reply).toEqualTypeOf<SubscribeReply>(),
    );
    // @ts-expect-error a dashboard cannot post results
    dashboard.emit('results', []);
    // @ts-expect-error a dashboard never hears tasks
    dashboard.on('tasks', () => undefined);
  });
});
