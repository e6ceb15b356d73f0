import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

/** Where `vite dev` forwards API and socket traffic: a locally running orchestrator. */
const orchestrator = process.env.ORCHESTRATOR_URL ?? 'http://localhost:8080';

export default defineConfig({
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
  build: {
    target: 'es2022',
    rollupOptions: {
      onwarn(warning, warn) {
        // zod ships explanatory comments next to its pure annotations; harmless, and not ours.
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('node_modules')) return;
        warn(warning);
      },
    },
  },
});
