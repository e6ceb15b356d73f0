/** The SQLite quarantine repository: one `quarantines` row per agent. */
import type { AgentKind } from '@expressionist/core';
import type { StoredQuarantine } from '../records.js';
import type { QuarantineRepository } from '../repositories.js';
import type { Statements } from '../sqlite-schema.js';

export class SqliteQuarantines implements QuarantineRepository {
  constructor(private readonly s: Statements) {}

  async saveQuarantine(q: StoredQuarantine): Promise<void> {
    this.s.saveQuarantine.run({
      agent_id: q.agentId,
      name: q.name,
      kind: q.kind,
      reason: q.reason,
      at: q.at,
    });
  }

  async deleteQuarantine(agentId: string): Promise<boolean> {
    return this.s.deleteQuarantine.run(agentId).changes > 0;
  }

  async listQuarantines(): Promise<StoredQuarantine[]> {
    return this.s.listQuarantines.all().map((r) => ({
      agentId: r.agent_id,
      name: r.name,
      kind: r.kind as AgentKind,
      reason: r.reason,
      at: r.at,
    }));
  }
}
