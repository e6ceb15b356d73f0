/**
 * A single-page app: no server rendering, no prerendering; the orchestrator serves the
 * fallback page for every route.
 */
export const ssr = false;
export const prerender = false;
