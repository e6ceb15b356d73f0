/**
 * Browser-facing hardening: security headers (helmet), a Content-Security-Policy the built
 * dashboard satisfies, and CORS that is same-origin unless CORS_ORIGINS names other origins.
 *
 * The CSP allows no inline script except the exact blocks SvelteKit writes into the app shell
 * (`web/build/index.html`, which the SPA fallback serves for every client-side route): their
 * sha256 hashes are computed from the file at start, so a rebuilt dashboard needs no config
 * change, and an injected `<script>` (or an `onclick=`) does not run. Styles need
 * `'unsafe-inline'`: the shell itself carries `style="display: contents"`, and Svelte writes
 * `style=` attributes in its templates; inline style cannot run code, and `img-src`/`font-src`
 * keep it from loading anything from elsewhere.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** `'sha256-…'` sources for every inline `<script>` (no `src`) of an HTML document. */
export function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = [];
  for (const match of html.matchAll(/<script(\s[^>]*)?>([\s\S]*?)<\/script>/gi)) {
    const attributes = match[1] ?? '';
    if (/\ssrc\s*=/i.test(attributes)) continue;
    const body = match[2] ?? '';
    hashes.push(`'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`);
  }
  return hashes;
}

/** The CSP directives for the dashboard built into `webDir` (none: no inline script at all). */
export function cspDirectives(
  webDir: string | undefined,
  corsOrigins: readonly string[],
): Record<string, string[]> {
  const shell = webDir ? path.join(webDir, 'index.html') : undefined;
  const hashes = shell && existsSync(shell) ? inlineScriptHashes(readFileSync(shell, 'utf8')) : [];
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'", ...hashes],
    // The browser agent is a module worker served from /_app (no blob: workers).
    'worker-src': ["'self'"],
    // 'self' covers the same-origin ws:/wss: of Socket.IO (CSP Level 3).
    'connect-src': ["'self'", ...corsOrigins],
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  };
}

/**
 * helmet with our CSP. Two of helmet's defaults are left out on purpose: HSTS and
 * `upgrade-insecure-requests` — the orchestrator is often reached over plain HTTP on a LAN
 * (a classroom, `docker compose` on several machines), where both would break the dashboard;
 * a TLS-terminating proxy in front is the place to set HSTS.
 */
export function securityHeaders(
  webDir: string | undefined,
  corsOrigins: readonly string[],
): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: cspDirectives(webDir, corsOrigins) },
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
  });
}

/**
 * CORS for HTTP: none by default (the dashboard is same-origin). A request whose `Origin` is in
 * CORS_ORIGINS is allowed, with the `Authorization` header (bearer tokens, not cookies: no
 * credentials mode is needed, so none is allowed). Preflights of other origins get no CORS
 * headers, which the browser treats as a refusal.
 */
export function corsPolicy(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin !== undefined) res.vary('Origin');
    if (origin === undefined || !allowed.has(origin)) {
      if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
        res.status(204).end();
        return;
      }
      next();
      return;
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', 'Retry-After, X-Request-Id');
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      res.setHeader('access-control-allow-methods', 'GET, POST, PUT, DELETE, OPTIONS');
      res.setHeader('access-control-allow-headers', 'Authorization, Content-Type, X-Request-Id');
      res.setHeader('access-control-max-age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

/** Whether an address (as `req.ip` gives it) is this machine. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d+\.\d+\.\d+$/.test(v4);
}

/** Whether a HOST setting listens only on this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host);
}
