// One build at a time per checkout. `npm run agent` twice at once (or next to `npm start`) ran two
// compilers over the same output files; one process could start node on a file the other had just
// truncated. The lock is a directory (mkdir is atomic) holding the owner's pid, in
// node_modules/.cache so git never sees it. A lock whose owner is dead, or older than
// STALE_AFTER_MS, is taken over; two waiters taking over the same stale lock at the same instant
// can both build, which is no worse than having no lock.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
const LOCK_DIR = path.join(ROOT, 'node_modules/.cache/expressionist-build.lock');
/** Longer than any honest build (a cold full build on two cores is about a minute). */
const STALE_AFTER_MS = 10 * 60_000;
const GIVE_UP_AFTER_MS = 15 * 60_000;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return err.code === 'EPERM';
  }
}

function stale() {
  try {
    const age = Date.now() - statSync(LOCK_DIR).mtimeMs;
    const pid = Number(readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8'));
    return age > STALE_AFTER_MS || !Number.isInteger(pid) || !alive(pid);
  } catch {
    // The owner has created the directory but not yet written its pid, or just released it.
    return false;
  }
}

/** Runs `fn` while holding the checkout's build lock; waits (logging once) while another build holds it. */
export async function withBuildLock(fn) {
  mkdirSync(path.dirname(LOCK_DIR), { recursive: true });
  const deadline = Date.now() + GIVE_UP_AFTER_MS;
  let told = false;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    if (stale()) {
      rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`build lock ${LOCK_DIR} still held; remove it if no build runs`);
    if (!told) {
      console.log('build: waiting for another build in this checkout to finish');
      told = true;
    }
    await sleep(100);
  }
  try {
    writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}
