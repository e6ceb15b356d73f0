// `tsc -b <projects>` under the checkout's build lock, then marks the agent CLI executable.
// Incremental: when the outputs are up to date this takes well under a second, so `npm run agent`
// and `npm start` can afford it on every start. Usage: node scripts/tsc-build.mjs core server agent-node
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, withBuildLock } from './build-lock.mjs';

const projects = process.argv.slice(2);
if (projects.length === 0) {
  console.error('usage: node scripts/tsc-build.mjs <project>...');
  process.exit(2);
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const status = await withBuildLock(() => {
  const res = spawnSync(process.execPath, [tsc, '-b', ...projects], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (res.error) throw res.error;
  // dist/cli.js is also run directly (`./agent-node/dist/cli.js`, the image's entry point); tsc
  // writes new files without the execute bit. (The npm bin is the committed shim in bin/.)
  const agentCli = path.join(ROOT, 'agent-node/dist/cli.js');
  if (res.status === 0 && existsSync(agentCli)) chmodSync(agentCli, 0o755);
  return res.status ?? 1;
});
process.exit(status);
