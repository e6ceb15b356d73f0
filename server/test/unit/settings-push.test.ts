// The settings push, sliced: 500 agents per event-loop turn (the first slice at once), every
// agent ends with the settings in force, and a newer push supersedes one still going.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Settings } from '@expressionist/core';
import { AgentRegistry, type Agent } from '../../src/scheduler/agent-registry.js';
import { SETTINGS_PUSH_SLICE, SettingsPush } from '../../src/scheduler/settings-push.js';
import { recordingChannel, socketAgentInit } from './fixtures.js';

const BASE = { additionMs: 0 } as Settings;

let received: Map<string, number[]>;
let agents: Agent[];

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  received = new Map();
  const registry = new AgentRegistry();
  agents = [];
  for (let k = 0; k < 1200; k += 1) {
    const id = `a${k}`;
    const channel = {
      ...recordingChannel(),
      sendSettings: (s: Settings) =>
        void received.set(id, [...(received.get(id) ?? []), s.additionMs]),
    };
    agents.push(registry.join(socketAgentInit(id, { channel })));
  }
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the settings push', () => {
  it('sends one slice per turn, the first at once, until every agent has them', () => {
    const current: Settings = { ...BASE, additionMs: 7 };
    const push = new SettingsPush(
      () => agents,
      () => current,
    );
    push.push();
    expect(received.size).toBe(SETTINGS_PUSH_SLICE);
    vi.advanceTimersToNextTimer();
    expect(received.size).toBe(2 * SETTINGS_PUSH_SLICE);
    vi.advanceTimersToNextTimer();
    expect(received.size).toBe(agents.length);
    expect([...received.values()].every((got) => got.length === 1 && got[0] === 7)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a newer push supersedes one still going: every agent ends with the newer settings', () => {
    let current: Settings = { ...BASE, additionMs: 1 };
    const push = new SettingsPush(
      () => agents,
      () => current,
    );
    push.push();
    current = { ...BASE, additionMs: 2 };
    push.push();
    vi.runAllTimers();
    expect(received.size).toBe(agents.length);
    for (const got of received.values()) expect(got.at(-1)).toBe(2);
    // The first push stopped after its first slice.
    const sentOld = [...received.values()].filter((got) => got.includes(1)).length;
    expect(sentOld).toBe(SETTINGS_PUSH_SLICE);
  });
});
