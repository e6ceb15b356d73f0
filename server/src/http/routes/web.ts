/**
 * The dashboard's files: the built SvelteKit app with its client-side routes falling back to the
 * app shell, or a plain-text notice when it is not built.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';

export function webRoutes(webDir: string | undefined): Router {
  const router = Router();
  if (webDir && existsSync(path.join(webDir, 'index.html'))) {
    router.use(
      express.static(webDir, {
        index: 'index.html',
        setHeaders: (res, file) => {
          // Vite fingerprints everything under _app/immutable; everything else revalidates.
          const immutable = file.includes(`${path.sep}_app${path.sep}immutable${path.sep}`);
          res.setHeader(
            'cache-control',
            immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
          );
        },
      }),
    );
    // SPA fallback: client-side routes such as /expressions/abc load the app shell.
    router.get(/^\/(?!api\/|internal\/|socket\.io\/).*/, (_req, res) => {
      res.setHeader('cache-control', 'no-cache');
      res.sendFile(path.join(webDir, 'index.html'));
    });
  } else {
    router.get('/', (_req, res) => {
      res
        .type('text/plain')
        .send(
          'Expressionist orchestrator. The dashboard is not built (npm run build -w web). API: /api/v1\n',
        );
    });
  }
  return router;
}
