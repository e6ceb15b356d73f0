/** The messages orchestrator instances send each other (see bus.ts), as zod schemas. */
import { z } from 'zod';
import {
  AgentHelloSchema,
  AgentTrustSchema,
  RoleSchema,
  SettingsSchema,
  SubscribeReplySchema,
  TaskResultBatchSchema,
  TaskSchema,
} from '@expressionist/core';

/**
 * What orchestrator instances say to each other, over the Socket.IO adapter's `serverSideEmit`
 * (one Redis stream, so messages from one instance arrive in the order it sent them). Every
 * message names its sender; the ones for one instance name it in `to`; the rest are for the
 * leader, and everyone else ignores them. Validated on receipt like any other boundary.
 */
const PrincipalSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('user'), id: z.string(), login: z.string(), role: RoleSchema }),
  z.object({ kind: z.literal('anonymous') }),
  z.object({ kind: z.literal('open') }),
]);

const StandingSchema = z.object({
  trust: AgentTrustSchema,
  identity: z.string().nullable(),
  maxInFlight: z.number().int().positive().optional(),
  actor: z.string().max(200).optional(),
});

/** An account event (auth/service.ts `AccountEvent`): sessions that ended, a user that changed. */
const AccountEventSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('signed-out'), jti: z.string() }),
  z.object({
    t: z.literal('user-changed'),
    userId: z.string(),
    change: z.enum(['password', 'disabled', 'enabled', 'deleted']),
  }),
]);

/** An agent socket held by a gateway, as the leader needs it to register the agent. */
export const RemoteAgentSchema = z.object({
  socketId: z.string(),
  hello: AgentHelloSchema,
  standing: StandingSchema.optional(),
  credentialId: z.string().nullable(),
});
export type RemoteAgent = z.infer<typeof RemoteAgentSchema>;

/**
 * What a gateway tells the leader about one of its agent sockets: it connected (also re-sent for
 * every agent when a new leader asks), sent results, drains, left. A turn's events travel together
 * in one `agent-events` message, in the order they happened.
 */
export const AgentEventSchema = z.discriminatedUnion('e', [
  z.object({ e: z.literal('join'), agent: RemoteAgentSchema }),
  z.object({ e: z.literal('results'), socketId: z.string(), batch: TaskResultBatchSchema }),
  z.object({ e: z.literal('drain'), socketId: z.string() }),
  z.object({ e: z.literal('leave'), socketId: z.string(), reason: z.string() }),
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;

/**
 * What the leader's scheduler tells one agent socket a gateway holds (`AgentChannel`). A turn's
 * commands for one gateway travel together in one `agent-commands` message, in the order given.
 */
export const AgentCommandSchema = z.discriminatedUnion('c', [
  z.object({ c: z.literal('tasks'), socketId: z.string(), tasks: z.array(TaskSchema).max(10_000) }),
  z.object({ c: z.literal('revoke'), socketId: z.string(), taskIds: z.array(z.string()) }),
  z.object({ c: z.literal('settings'), socketId: z.string(), settings: SettingsSchema }),
  z.object({ c: z.literal('quarantine'), socketId: z.string(), reason: z.string() }),
  z.object({ c: z.literal('close'), socketId: z.string(), reason: z.string() }),
]);
export type AgentCommand = z.infer<typeof AgentCommandSchema>;

/**
 * Bytes an event or a command takes in a batch, roughly and from above (its JSON would be a
 * little shorter): counted from its strings, so the relay's hot path never serializes an item
 * just to measure it. Only the batch's size bound (`MAX_BATCH_BYTES`) reads it.
 */
export function agentEventSize(event: AgentEvent): number {
  switch (event.e) {
    case 'join': {
      // The hello's strings are bounded (a token up to 4 KiB); what it holds is not.
      const { hello, standing, socketId, credentialId } = event.agent;
      let bytes = 1024 + socketId.length + (credentialId?.length ?? 0) + (hello.token?.length ?? 0);
      bytes += (standing?.identity?.length ?? 0) + (standing?.actor?.length ?? 0);
      for (const held of hello.holding ?? []) bytes += 32 + held.taskId.length;
      return bytes;
    }
    case 'results': {
      let bytes = 64;
      for (const r of event.batch)
        bytes += 64 + r.taskId.length + ('value' in r ? r.value.length : 1200);
      return bytes;
    }
    case 'drain':
      return 64 + event.socketId.length;
    case 'leave':
      return 64 + event.socketId.length + event.reason.length;
  }
}

/** See `agentEventSize`. */
export function agentCommandSize(command: AgentCommand): number {
  switch (command.c) {
    case 'tasks': {
      let bytes = 64;
      for (const t of command.tasks) bytes += 96 + t.taskId.length + t.a.length + t.b.length;
      return bytes;
    }
    case 'revoke': {
      let bytes = 64;
      for (const id of command.taskIds) bytes += 4 + id.length;
      return bytes;
    }
    case 'settings':
      return 512;
    case 'quarantine':
    case 'close':
      return 64 + command.socketId.length + command.reason.length;
  }
}

export const ClusterMessageSchema = z.discriminatedUnion('t', [
  /** A gateway's agent events of one event-loop turn (see `AgentEventSchema`). */
  z.object({
    t: z.literal('agent-events'),
    from: z.string(),
    events: z.array(AgentEventSchema).min(1),
  }),
  /**
   * The leader's commands of one event-loop turn for the agents of gateway `to`, under the
   * leader lease of `epoch` (see `AgentCommandSchema`).
   */
  z.object({
    t: z.literal('agent-commands'),
    from: z.string(),
    to: z.string(),
    epoch: z.number().int().positive(),
    commands: z.array(AgentCommandSchema).min(1),
  }),
  /**
   * Every second from every gateway: the agent sockets it holds (each is alive: Socket.IO's
   * heartbeat would have dropped it otherwise). A gateway
   * silent for three beats is gone, and so are its agents.
   */
  z.object({
    t: z.literal('beat'),
    from: z.string(),
    agents: z.array(z.string()),
  }),
  /** A new leader took over: gateways re-announce their agents and refresh their dashboards. */
  z.object({ t: z.literal('leader'), from: z.string(), epoch: z.number().int().positive() }),
  /** The leader does not know these sockets (a join was lost): announce them again. */
  z.object({
    t: z.literal('rejoin'),
    from: z.string(),
    to: z.string(),
    sockets: z.array(z.string()),
  }),
  /** A gateway's dashboard needs a snapshot; the leader emits it to that socket. */
  z.object({
    t: z.literal('ui-snapshot'),
    from: z.string(),
    socketId: z.string(),
    principal: PrincipalSchema,
  }),
  z.object({
    t: z.literal('ui-subscribe'),
    from: z.string(),
    requestId: z.string(),
    principal: PrincipalSchema,
    expressionId: z.string(),
  }),
  z.object({
    t: z.literal('ui-subscribed'),
    from: z.string(),
    to: z.string(),
    requestId: z.string(),
    reply: SubscribeReplySchema,
  }),
  /** Credentials were issued or revoked: every instance reloads them from the store. */
  z.object({ t: z.literal('credentials'), from: z.string() }),
  /**
   * A session ended or a user changed (on the leader, which serves the API): every instance
   * forgets what it cached of it and cuts off the sockets of ended sessions it holds.
   */
  z.object({ t: z.literal('account'), from: z.string(), event: AccountEventSchema }),
]);
export type ClusterMessage = z.infer<typeof ClusterMessageSchema>;
