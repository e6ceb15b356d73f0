/** The leader's index of the agent sockets gateways hold: by socket id and by gateway. */
import type { AgentLink } from '../realtime/agents-namespace.js';

export class RemoteAgents {
  private readonly bySocket = new Map<string, { link: AgentLink; gateway: string }>();
  private readonly byGateway = new Map<string, Map<string, AgentLink>>();

  get size(): number {
    return this.bySocket.size;
  }

  get(socketId: string): AgentLink | undefined {
    return this.bySocket.get(socketId)?.link;
  }

  has(socketId: string): boolean {
    return this.bySocket.has(socketId);
  }

  add(gateway: string, link: AgentLink): void {
    this.bySocket.set(link.socketId, { link, gateway });
    let held = this.byGateway.get(gateway);
    if (!held) {
      held = new Map();
      this.byGateway.set(gateway, held);
    }
    held.set(link.socketId, link);
  }

  /** Forgets the socket; returns what was known of it. */
  remove(socketId: string): AgentLink | undefined {
    const r = this.bySocket.get(socketId);
    if (!r) return undefined;
    this.bySocket.delete(socketId);
    const held = this.byGateway.get(r.gateway);
    held?.delete(socketId);
    if (held?.size === 0) this.byGateway.delete(r.gateway);
    return r.link;
  }

  /** The socket ids gateway `gateway` holds, as of now (a copy: safe to remove while iterating). */
  of(gateway: string): string[] {
    return [...(this.byGateway.get(gateway)?.keys() ?? [])];
  }
}
