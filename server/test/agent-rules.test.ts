// The rules that decide how much an agent may hold and when it is cooled down, unit-tested without
// a process: actors (counts per identity), windows and loans, loss events, cool-downs. The
// end-to-end suites (strangers, silent-agents) show the same rules through real sockets.
import { describe, expect, it } from 'vitest';
import { Actor, guestActor, type StrikePolicy } from '../src/scheduler/actor.js';
import {
  AgentRegistry,
  type AgentChannel,
  type AgentInit,
} from '../src/scheduler/agent-registry.js';

const POLICY: StrikePolicy = { limit: 3, cooldownMs: 60_000 };

/** A channel that records nothing: these tests look at the registry's own state. */
const channel = (): AgentChannel => ({
  sendTasks: () => undefined,
  revoke: () => undefined,
  sendSettings: () => undefined,
  quarantine: () => undefined,
  close: () => undefined,
});

const socketAgent = (id: string, extra: Partial<AgentInit> = {}): AgentInit => ({
  id,
  name: id,
  kind: 'node',
  concurrency: 8,
  channel: channel(),
  now: 0,
  ...extra,
});

describe('guest actors', () => {
  it('are the address for IPv4 (also written as IPv4-mapped IPv6)', () => {
    expect(guestActor('203.0.113.7')).toBe('guest@203.0.113.7');
    expect(guestActor('::ffff:203.0.113.7')).toBe('guest@203.0.113.7');
    expect(guestActor('203.0.113.8')).not.toBe(guestActor('203.0.113.7'));
  });

  it('group IPv6 by /64: a host cannot mint identities inside its own network', () => {
    const a = guestActor('2001:db8:1:2::1');
    expect(guestActor('2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe(a);
    expect(a).toBe('guest@2001:db8:1:2::/64');
    expect(guestActor('2001:db8:1:3::1')).not.toBe(a);
  });

  it('keep an unparsable address as it is', () => {
    expect(guestActor('unknown')).toBe('guest@unknown');
  });
});

describe('Actor', () => {
  it('turns unresponsive at the limit of strikes in a row, and an accepted result forgives them', () => {
    const actor = new Actor('user-1');
    expect(actor.charge(2, 1000, POLICY)).toBe(false);
    actor.credit();
    expect(actor.strikes).toBe(0);
    expect(actor.charge(2, 2000, POLICY)).toBe(false);
    expect(actor.charge(1, 3000, POLICY)).toBe(true);
    expect(actor.coolingUntil).toBe(63_000);
    expect(actor.reason).toMatch(/^3 tasks in a row failed or expired without a result/);
    // Already cooling down: more strikes do not restart the cool-down.
    expect(actor.charge(5, 4000, POLICY)).toBe(false);
    expect(actor.coolingUntil).toBe(63_000);
  });

  it('wakes only once the cool-down is over, with its strikes forgiven', () => {
    const actor = new Actor('cred-1');
    actor.charge(3, 0, POLICY);
    expect(actor.wake(59_999)).toBe(false);
    expect(actor.wake(60_000)).toBe(true);
    expect(actor.coolingUntil).toBeNull();
    expect(actor.strikes).toBe(0);
  });
});

describe('windows and loans', () => {
  it('a fresh agent holds 2 within its window and may borrow up to its slots', () => {
    const registry = new AgentRegistry();
    const agent = registry.join(socketAgent('fresh'));
    for (let i = 0; i < 2; i += 1) {
      expect(agent.canTake(1)).toBe(true);
      agent.hold(`t${i}`);
    }
    expect(agent.canTake(1)).toBe(false);
    for (let i = 2; i < 8; i += 1) {
      expect(agent.canBorrow(1)).toBe(true);
      agent.hold(`t${i}`);
    }
    expect(agent.canBorrow(1)).toBe(false);
    expect(agent.actor.inFlight).toBe(8);
  });

  it('one actor caps every agent of it together (a guest address with many ids)', () => {
    const registry = new AgentRegistry();
    const guest = (id: string): AgentInit =>
      socketAgent(id, { identity: null, trust: 'guest', maxInFlight: 4, actor: 'guest@10.0.0.1' });
    const agents = ['g1', 'g2', 'g3'].map((id) => registry.join(guest(id)));
    expect(new Set(agents.map((a) => a.actor)).size).toBe(1);
    let held = 0;
    for (let round = 0; round < 4; round += 1)
      for (const agent of agents)
        if (agent.canBorrow(1)) {
          agent.hold(`${agent.id}-${round}`);
          held += 1;
        }
    expect(held).toBe(4);
    expect(agents.every((a) => !a.canTake(1) && !a.canBorrow(1))).toBe(true);
    // Dropping one frees a slot for any of them.
    agents[0]!.drop('g1-0');
    expect(agents[2]!.canBorrow(1)).toBe(true);
  });

  it('spare slots are counted per actor, within windows and the actor cap', () => {
    const registry = new AgentRegistry();
    const fresh = registry.join(socketAgent('fresh', { identity: 'cred-a' }));
    registry.join(socketAgent('fresh-too', { identity: 'cred-a' }));
    const guest = (id: string): AgentInit =>
      socketAgent(id, { identity: null, trust: 'guest', maxInFlight: 3, actor: 'guest@10.0.0.2' });
    registry.join(guest('g1'));
    registry.join(guest('g2'));
    // Two fresh agents of one credential: a window of 2 each. Two guests of one address: 2 + 2,
    // but the address holds 3 at most.
    let spare = registry.spareByActor(1);
    expect(spare.get(fresh.actor)).toBe(4);
    expect(spare.get(registry.actor('guest@10.0.0.2')!)).toBe(3);
    fresh.hold('t1');
    fresh.hold('t2');
    spare = registry.spareByActor(1);
    expect(spare.get(fresh.actor)).toBe(2);
    expect(fresh.spare(1)).toBe(0);
  });

  it('other actors with room are seen; the same actor is not', () => {
    const registry = new AgentRegistry();
    const a = registry.join(socketAgent('a', { identity: 'cred-a' }));
    const b = registry.join(socketAgent('b', { identity: 'cred-a' }));
    expect(registry.otherCanTake(a.actor)).toBe(false);
    const c = registry.join(socketAgent('c', { identity: 'cred-c' }));
    expect(registry.otherCanTake(a.actor)).toBe(true);
    c.hold('x');
    c.hold('y');
    expect(registry.otherCanTake(a.actor)).toBe(false);
    expect(b.actor).toBe(a.actor);
  });
});

describe('strikes are loss events', () => {
  it('an agent that never answered takes one strike per fresh task; a proven one, one per event', () => {
    const registry = new AgentRegistry();
    const silent = registry.join(socketAgent('silent'));
    expect(silent.strike(1000, [100, 200, 300])).toBe(3);
    // Tasks handed out before that strike belong to the event already counted.
    expect(silent.strike(1100, [900])).toBe(0);
    // One handed out in the very millisecond of the strike came after it.
    expect(silent.strike(1200, [1000])).toBe(1);

    const proven = registry.join(socketAgent('proven'));
    proven.credit();
    expect(proven.strike(1000, [100, 200, 300])).toBe(1);
    expect(proven.toView().window).toBe(1);
  });
});

describe('cool-downs follow the actor, not the id', () => {
  it('a new id of an actor in its cool-down joins unresponsive; waking releases all of them', () => {
    const registry = new AgentRegistry();
    const first = registry.join(socketAgent('first', { identity: 'user-9' }));
    first.actor.charge(3, 0, POLICY);
    expect(first.coolDown()).toBe(true);
    // Its socket closes; the actor stays while cooling down, and a fresh id comes back to it.
    first.gone('lost', 1, null);
    registry.sweep(1);
    expect(registry.actor('user-9')).toBeDefined();
    const again = registry.join(socketAgent('again', { identity: 'user-9' }));
    expect(again.status).toBe('unresponsive');
    expect(again.canBorrow(1)).toBe(false);
    expect(registry.wake(59_999)).toEqual([]);
    expect(registry.wake(60_000)).toEqual([again]);
    expect(again.status).toBe('active');
    expect(again.toView().window).toBe(1);
  });

  it('an actor with no agents listed and no cool-down is forgotten', () => {
    const registry = new AgentRegistry();
    registry.join(socketAgent('one', { identity: 'cred-x' }));
    expect(registry.actorCount).toBe(1);
    registry.remove('one');
    expect(registry.actorCount).toBe(0);
  });
});
