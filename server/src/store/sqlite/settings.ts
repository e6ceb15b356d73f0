/** The SQLite settings repository: the one row of `settings`, as JSON. */
import type { Settings } from '@expressionist/core';
import { parseStoredSettings, type StoredSettings } from '../records.js';
import type { SettingsRepository } from '../repositories.js';
import type { Statements } from '../sqlite-schema.js';

export class SqliteSettings implements SettingsRepository {
  constructor(private readonly s: Statements) {}

  async getSettings(): Promise<StoredSettings | null> {
    const row = this.s.getSettings.get();
    return row ? parseStoredSettings(JSON.parse(row.data)) : null;
  }

  async saveSettings(settings: Settings): Promise<void> {
    this.s.saveSettings.run(JSON.stringify(settings));
  }
}
