/** The scheduler's store on an instance of several orchestrators: writes check the leader lease. */
import type { Store } from '../store/store.js';

/** The store methods the scheduler writes through. */
const WRITES: ReadonlySet<string> = new Set<keyof Store>([
  'insertExpression',
  'updateExpression',
  'saveOpResults',
  'saveSettings',
  'saveQuarantine',
  'deleteQuarantine',
  'deleteExpression',
]);

/**
 * The scheduler's store on an instance of several orchestrators: every write first runs `guard`,
 * which ends a leader whose leader lease has expired before the write leaves — so a leader that was
 * frozen (SIGSTOP) and wakes up after another took over writes nothing more. Reads pass through.
 */
export function fencedStore(store: Store, guard: () => void): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof prop === 'string' && WRITES.has(prop))
        return (...args: unknown[]) => {
          guard();
          return method.apply(target, args);
        };
      return method.bind(target);
    },
  });
}
