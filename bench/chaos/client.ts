/** A small REST client for the chaos driver: retries across orchestrator restarts, metrics parsing. */
import type { ExpressionView } from '@expressionist/core';
import { request, sleep } from '@expressionist/testkit';

/**
 * Submits with a client id, retrying network failures and 503s until `deadline`: the id makes
 * the retry idempotent, so an expression accepted just before a crash is not submitted twice.
 */
export async function submitWithRetry(
  base: string,
  expression: string,
  id: string,
  deadline: number,
): Promise<{ status: number; attempts: number }> {
  let attempts = 0;
  let last = '';
  while (Date.now() < deadline) {
    attempts += 1;
    try {
      const res = await request(base, 'POST', '/api/v1/calculate', {
        json: { expression, id },
        timeoutMs: 10_000,
      });
      if (res.status === 201 || res.status === 200) return { status: res.status, attempts };
      if (res.status !== 503)
        throw new Error(`submit of ${id} answered ${res.status} ${res.text.slice(0, 300)}`);
      last = `503 ${res.text.slice(0, 200)}`;
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('submit of')) throw err;
      last = String(err);
    }
    await sleep(100);
  }
  throw new Error(
    `submit of ${id} did not succeed before the deadline (${attempts} attempts; last: ${last})`,
  );
}

/** Every expression the orchestrator lists (newest first, paged). */
export async function listAll(base: string): Promise<ExpressionView[]> {
  const all: ExpressionView[] = [];
  let cursor: string | null = null;
  for (;;) {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const res = await request(base, 'GET', `/api/v1/expressions?limit=500${query}`, {
      timeoutMs: 10_000,
    });
    if (res.status !== 200) throw new Error(`listing answered ${res.status}`);
    const page = res.json as { expressions: ExpressionView[]; nextCursor: string | null };
    all.push(...page.expressions);
    if (page.nextCursor === null) return all;
    cursor = page.nextCursor;
  }
}

/** Samples of one Prometheus series by its label text (`reason="agent_lost"`; '' when unlabelled). */
export function metricSamples(text: string, name: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    const m = /^(?:\{([^}]*)\})?\s+(\S+)/.exec(rest);
    if (!m) continue;
    samples.set(m[1] ?? '', Number(m[2]));
  }
  return samples;
}

/** Adds the samples of `name` in `text` into `into`, keyed by label value of `label`. */
export function accumulate(
  into: Record<string, number>,
  text: string,
  name: string,
  label: string,
): void {
  for (const [labels, value] of metricSamples(text, name)) {
    const m = new RegExp(`${label}="([^"]*)"`).exec(labels);
    const key = m?.[1] ?? labels;
    into[key] = (into[key] ?? 0) + value;
  }
}
