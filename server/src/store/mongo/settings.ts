/** The MongoDB settings repository: one `settings` document. */
import type { Collection } from 'mongodb';
import type { Settings } from '@expressionist/core';
import { parseStoredSettings, type StoredSettings } from '../records.js';
import type { SettingsRepository } from '../repositories.js';

export interface SettingsDoc {
  _id: 'settings';
  value: Settings;
}

export class MongoSettings implements SettingsRepository {
  constructor(private readonly settings: Collection<SettingsDoc>) {}

  async getSettings(): Promise<StoredSettings | null> {
    const doc = await this.settings.findOne({ _id: 'settings' });
    return doc ? parseStoredSettings(doc.value) : null;
  }

  async saveSettings(settings: Settings): Promise<void> {
    await this.settings.replaceOne({ _id: 'settings' }, { value: settings }, { upsert: true });
  }
}
