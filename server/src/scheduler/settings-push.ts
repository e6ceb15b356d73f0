/**
 * The settings push: settings put in force reach every connected agent a slice per event-loop
 * turn, so a push to 10,000 agents never holds the loop (and their heartbeats) for all of them.
 */
import type { Settings } from '@expressionist/core';
import type { Agent } from './agent.js';

/** Agents sent the settings per event-loop turn (each send encodes and writes one message). */
export const SETTINGS_PUSH_SLICE = 500;

/**
 * Sends the settings in force to every listed agent, `slice` per turn; the first slice at once (a
 * small pool gets them in the turn they changed). A newer push supersedes one still going: it
 * sends the newer settings to every agent. An agent that joins meanwhile is sent the settings in
 * force when it joins.
 */
export class SettingsPush {
  private generation = 0;

  constructor(
    private readonly agents: () => Iterable<Agent>,
    private readonly settings: () => Settings,
    private readonly slice = SETTINGS_PUSH_SLICE,
  ) {}

  push(): void {
    const generation = (this.generation += 1);
    const targets = [...this.agents()];
    let next = 0;
    const step = (): void => {
      if (generation !== this.generation) return;
      const settings = this.settings();
      const to = Math.min(targets.length, next + this.slice);
      for (; next < to; next += 1) targets[next]!.channel?.sendSettings(settings);
      if (next < targets.length) setImmediate(step);
    };
    step();
  }
}
