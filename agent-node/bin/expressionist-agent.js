#!/usr/bin/env node
// The `expressionist-agent` command. A committed shim rather than dist/cli.js itself: npm links
// bins at install time, when a fresh clone has no dist/ yet, and skips a bin whose file is
// missing. Build first (`npm run agent` does, or `npm run build`).
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('expressionist-agent: not built yet; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
});
