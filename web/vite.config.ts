import { sveltekit } from '@sveltejs/kit/vite';
import { createLogger, defineConfig } from 'vite';

/** Where `vite dev` forwards API and socket traffic: a locally running orchestrator. */
const orchestrator = process.env.ORCHESTRATOR_URL ?? 'http://localhost:8080';

// zod ships explanatory comments next to its pure annotations, which Rollup reports at length on
// every build. Harmless and not ours; everything else is logged as usual.
const logger = createLogger();
const warn = logger.warn.bind(logger);
logger.warn = (message, options) => {
  if (message.includes('node_modules/zod/') && message.includes('annotation')) return;
  warn(message, options);
};

export default defineConfig({
  customLogger: logger,
  plugins: [sveltekit()],
  // The browser agent is a module Web Worker; it shares chunks (core, socket.io-client) with ES output.
  worker: { format: 'es' },
  server: {
    proxy: {
      '/api': orchestrator,
      '/healthz': orchestrator,
      '/socket.io': { target: orchestrator, ws: true },
    },
  },
  build: { target: 'es2022' },
});
