/**
 * The settings keeper: the settings in force, and changing them (stored first, then applied).
 */
import type { Logger } from 'pino';
import { ExpressionistError, type Settings, type SettingsPatch } from '@expressionist/core';
import type { Store } from '../store/store.js';

/** Holds the settings in force; `applied` tells the rest of the orchestrator about a change. */
export class SettingsKeeper {
  private current: Settings;

  constructor(
    initial: Settings,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly applied: (next: Settings, patch: SettingsPatch) => void,
  ) {
    this.current = initial;
  }

  get(): Settings {
    return this.current;
  }

  /** Takes settings already stored (a new leader of several orchestrators, before it starts). */
  adopt(settings: Settings): void {
    this.current = settings;
  }

  /** Stores the patched settings, then puts them in force; refused when the store fails. */
  async update(patch: SettingsPatch): Promise<Settings> {
    const next: Settings = { ...this.current, ...patch };
    await this.store.saveSettings(next).catch((err: unknown) => {
      this.log.warn({ err }, 'storing settings failed');
      throw ExpressionistError.of('STORE_UNAVAILABLE', { what: 'settings were not changed.' });
    });
    this.current = next;
    this.applied(next, patch);
    return next;
  }
}
