import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A single-page app: the orchestrator serves `build/` and answers unknown paths with
    // `index.html`, so deep links such as /expressions/abc work after a reload.
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
    // Absolute asset URLs: the fallback page is served at every depth (/expressions/<id>).
    paths: { relative: false },
  },
};

export default config;
