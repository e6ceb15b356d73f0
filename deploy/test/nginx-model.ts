/** deploy/cluster/nginx.conf read as nested directives, for the tests of the load balancer. */

// ---------------------------------------------------------------------------------------------
// deploy/cluster/nginx.conf: the cluster's load balancer (service `lb`).

export interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
}

/** nginx's configuration syntax: directives ending in `;` or a `{ … }` block, `#` comments. */
export function parseNginx(text: string): NginxDirective[] {
  const root: NginxDirective[] = [];
  const stack = [root];
  let words: string[] = [];
  const token = /\s+|#[^\n]*|'([^']*)'|"([^"]*)"|([{};])|([^\s{};'"#]+)/gy;
  let m: RegExpExecArray | null;
  while ((m = token.exec(text)) !== null) {
    const [, single, double, punct, word] = m;
    const top = stack.at(-1)!;
    if (punct === ';') {
      if (words.length === 0) throw new Error('nginx.conf: empty directive');
      top.push({ name: words[0]!, args: words.slice(1) });
      words = [];
    } else if (punct === '{') {
      if (words.length === 0) throw new Error('nginx.conf: block without a name');
      const block: NginxDirective[] = [];
      top.push({ name: words[0]!, args: words.slice(1), block });
      stack.push(block);
      words = [];
    } else if (punct === '}') {
      if (words.length > 0 || stack.length === 1) throw new Error('nginx.conf: unexpected }');
      stack.pop();
    } else if (single !== undefined || double !== undefined || word !== undefined) {
      words.push(single ?? double ?? word!);
    }
  }
  if (token.lastIndex !== 0 && token.lastIndex !== text.length)
    throw new Error('nginx.conf: syntax');
  if (stack.length !== 1 || words.length > 0) throw new Error('nginx.conf: unclosed block');
  return root;
}

export const allNamed = (block: NginxDirective[], name: string): NginxDirective[] =>
  block.filter((d) => d.name === name);
export function oneNamed(block: NginxDirective[], name: string, ...args: string[]): NginxDirective {
  const found = allNamed(block, name).filter((d) => args.every((a, i) => d.args[i] === a));
  if (found.length !== 1)
    throw new Error(`nginx.conf: ${found.length} × ${[name, ...args].join(' ')}`);
  return found[0]!;
}
/** A directive as a location sees it: its own, else its server's, else http's (nginx inheritance). */
export function effective(levels: NginxDirective[][], name: string): NginxDirective[] {
  for (const level of [...levels].reverse()) {
    const found = allNamed(level, name);
    if (found.length > 0) return found;
  }
  return [];
}
/** nginx time (`1h`, `60s`, `500ms`, `30`) in seconds. */
export function nginxSeconds(value: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value);
  if (!m) throw new Error(`not an nginx time: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}
/** nginx size (`2m`, `512k`, `1024`) in bytes. */
export function nginxBytes(value: string): number {
  const m = /^(\d+)([kKmMgG])?$/.exec(value);
  if (!m) throw new Error(`not an nginx size: ${value}`);
  return Number(m[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()]!;
}

export const NGINX_CONF = 'deploy/cluster/nginx.conf';
