/** One HTTP request as the API's clients send it, with the reply read whole. */

export interface HttpAnswer {
  status: number;
  text: string;
  /** The parsed body: null when empty, undefined when not JSON. */
  json: unknown;
}

export interface RequestOptions {
  json?: unknown;
  /** A raw body (sent as is, with `contentType` or application/json). */
  raw?: string | Uint8Array;
  /** null sends no content-type at all. */
  contentType?: string | null;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One HTTP request; network failures and timeouts throw, any status resolves. */
export async function request(
  base: string,
  method: string,
  url: string,
  opts: RequestOptions = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | Uint8Array | undefined;
  if (opts.json !== undefined) body = JSON.stringify(opts.json);
  else if (opts.raw !== undefined) body = opts.raw;
  if (body !== undefined && opts.contentType !== null)
    headers['content-type'] = opts.contentType ?? 'application/json';
  const res = await fetch(base + url, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}
