/** The MongoDB quarantine repository: one `quarantines` document per agent, keyed by its id. */
import type { Collection } from 'mongodb';
import type { StoredQuarantine } from '../records.js';
import type { QuarantineRepository } from '../repositories.js';

export interface QuarantineDoc {
  _id: string;
  name: string;
  kind: StoredQuarantine['kind'];
  reason: string;
  at: number;
}

export class MongoQuarantines implements QuarantineRepository {
  constructor(private readonly quarantines: Collection<QuarantineDoc>) {}

  async saveQuarantine(q: StoredQuarantine): Promise<void> {
    await this.quarantines.replaceOne(
      { _id: q.agentId },
      { name: q.name, kind: q.kind, reason: q.reason, at: q.at },
      { upsert: true },
    );
  }

  async deleteQuarantine(agentId: string): Promise<boolean> {
    return (await this.quarantines.deleteOne({ _id: agentId })).deletedCount > 0;
  }

  async listQuarantines(): Promise<StoredQuarantine[]> {
    const docs = await this.quarantines.find({}).sort({ at: 1, _id: 1 }).toArray();
    return docs.map((d) => ({
      agentId: d._id,
      name: d.name,
      kind: d.kind,
      reason: d.reason,
      at: d.at,
    }));
  }
}
