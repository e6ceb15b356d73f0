#!/usr/bin/env node
/**
 * Module headers check (part of `npm run lint`): every TypeScript source file opens with a `/**`
 * comment whose first paragraph, one to six lines, says what the module is for (details may follow
 * after a blank comment line). Lists every file that does not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOTS = ['core/src', 'server/src', 'agent-node/src', 'testkit/src', 'bench/src', 'web/src'];
const MAX_LINES = 6;

/** Every `.ts` file under `dir` (not `.d.ts`). */
function sources(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Why `text` has no module header, or null when it has one. */
function problem(text) {
  const lines = text.replace(/^#!.*\n/, '').split('\n');
  if (!/^\/\*\*(\s|$)/.test(lines[0] ?? '')) return 'does not open with a /** comment';
  const end = lines.findIndex((line) => line.includes('*/'));
  if (end < 0) return 'its opening comment never closes';
  const body = lines
    .slice(0, end + 1)
    .map((line) => line.replace(/^\s*\/\*\*|\*\/.*$|^\s*\*/g, '').trim());
  // The summary: the first paragraph (up to the first blank comment line).
  const start = body.findIndex((line) => line !== '');
  if (start < 0) return 'its opening comment is empty';
  const blank = body.indexOf('', start);
  const summary = (blank < 0 ? body.length : blank) - start;
  if (summary > MAX_LINES)
    return `its opening paragraph has ${summary} lines (at most ${MAX_LINES}: what the module is for; details after a blank line)`;
  return null;
}

const bad = ROOTS.flatMap(sources)
  .sort()
  .flatMap((file) => {
    const why = problem(readFileSync(file, 'utf8'));
    return why ? [`  ${file}: ${why}`] : [];
  });
if (bad.length > 0) {
  console.error(
    `Module headers: ${bad.length} file(s) need a /** header saying what they are for:`,
  );
  console.error(bad.join('\n'));
  process.exit(1);
}
