/**
 * Reading the orchestrator's Prometheus series over HTTP: tests that check what the scheduler
 * itself refused or counted (not only what the store ended up with) wait on these numbers.
 */

/**
 * The value of the series `name` at `base`/metrics, summed over the series whose labels include
 * every pair of `labels` (0 when none is listed yet).
 */
export async function metricValue(
  base: string,
  name: string,
  labels: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${base}/metrics`, { headers });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  const text = await res.text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.startsWith(`${name}{`)
      ? line.slice(name.length, line.indexOf('}') + 1)
      : '';
    if (wanted.every((pair) => labelText.includes(pair)))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
