// Builds the dashboard (vite build of web/) only when web/build is older than one of its inputs:
// web's sources, static files, config and package.json, and core/src (web imports core). A vite
// build takes 6-60 s; `npm start` should not pay that when nothing changed. Prints one line saying
// which it did. Runs under the checkout's build lock.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, withBuildLock } from './build-lock.mjs';

const OUTPUT = path.join(ROOT, 'web/build/index.html');
const INPUT_DIRS = ['web/src', 'web/static', 'core/src'];

/** The newest input as [mtimeMs, path]. */
function newestInput() {
  const files = [];
  for (const dir of INPUT_DIRS) {
    const abs = path.join(ROOT, dir);
    for (const entry of readdirSync(abs, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push(path.join(entry.parentPath ?? entry.path, entry.name));
    }
  }
  for (const entry of readdirSync(path.join(ROOT, 'web'), { withFileTypes: true })) {
    if (entry.isFile() && /\.config\.|^package\.json$|^tsconfig\.json$/.test(entry.name))
      files.push(path.join(ROOT, 'web', entry.name));
  }
  let newest = [0, ''];
  for (const file of files) {
    const mtime = statSync(file).mtimeMs;
    if (mtime > newest[0]) newest = [mtime, file];
  }
  return newest;
}

function outputTime() {
  try {
    return statSync(OUTPUT).mtimeMs;
  } catch {
    return -1;
  }
}

const status = await withBuildLock(() => {
  const built = outputTime();
  const [inputTime, input] = newestInput();
  if (built >= inputTime) {
    console.log('web: build is up to date (web/build newer than web and core sources); skipped');
    return 0;
  }
  console.log(
    built < 0
      ? 'web: no web/build yet; building the dashboard'
      : `web: ${path.relative(ROOT, input)} is newer than web/build; rebuilding the dashboard`,
  );
  const res = spawnSync('npm', ['run', 'build', '--silent', '-w', 'web'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (res.error) throw res.error;
  return res.status ?? 1;
});
process.exit(status);
