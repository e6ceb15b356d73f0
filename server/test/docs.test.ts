import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@expressionist/core';
import { EnvSchema } from '../src/config.js';
import { ROOT } from '@expressionist/testkit';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Rows of the markdown table that follows `heading`. */
function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(heading);
  expect(start, `README section ${heading}`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  let inTable = false;
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (line.startsWith('|')) {
      inTable = true;
      rows.push(
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    } else if (inTable) break;
  }
  return rows.slice(2);
}

describe('README stays in sync with the code', () => {
  it('lists every error code of the registry with its HTTP status, and no other', () => {
    const rows = tableAfter('## Error codes');
    const documented = new Map(
      rows.map(([code, status]) => [code!.replace(/`/g, ''), Number(status)]),
    );
    const registry = new Map(
      Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]),
    );
    expect([...documented.keys()].sort()).toEqual([...registry.keys()].sort());
    for (const [code, status] of registry) expect(documented.get(code), code).toBe(status);
  });

  it('documents every environment variable the orchestrator reads, and no other', () => {
    const rows = tableAfter('## Configuration');
    const documented = rows.map(([name]) => name!.replace(/`/g, '')).sort();
    expect(documented).toEqual(Object.keys(EnvSchema.shape).sort());
  });
});
