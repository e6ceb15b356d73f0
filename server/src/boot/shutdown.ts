/** A graceful stop as an ordered list of steps, run once however often it is asked for. */
import type { Logger } from 'pino';

/** One step of the stop; a step that throws ends the stop there (and the caller hears it). */
export type ShutdownStep = () => unknown;

/** The stop function: logs, runs `steps` one after another, logs again; later calls share it. */
export function shutdownInOrder(log: Logger, steps: readonly ShutdownStep[]): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      log.info('shutting down');
      for (const step of steps) await step();
      log.info('stopped');
    })();
    return stopping;
  };
}
