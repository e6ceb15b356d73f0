/** The dashboard's shared ticking clock, for relative times and ETAs. */
import { createSubscriber } from 'svelte/reactivity';

/**
 * A ticking "now" for relative times and ETAs. It runs only while some template reads it, so
 * pages without running expressions or agents do not re-render every second.
 */
class Clock {
  #now = $state(Date.now());
  #subscribe = createSubscriber(() => {
    this.#now = Date.now();
    const timer = setInterval(() => {
      this.#now = Date.now();
    }, 1000);
    return () => clearInterval(timer);
  });

  /** Current time in ms, refreshed every second while observed. */
  get now(): number {
    this.#subscribe();
    return this.#now;
  }
}

export const clock = new Clock();
