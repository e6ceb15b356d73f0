/**
 * Parser and API fuzzing: random and mutated inputs through `POST /api/v1/calculate` of a real
 * orchestrator (the CLI, no agents, so nothing runs), with bounded concurrency.
 *
 * Every answer must be a 201/200 with an id, or a 4xx whose `error.code` is in the registry with
 * that very status — never a 5xx, never a dropped connection. Where the outcome is predictable
 * (a JSON body with a string expression) it must match the prediction exactly: the parse error's
 * code and column, or acceptance. Afterwards the orchestrator must still be alive and healthy
 * and must not have logged an error.
 */
import { gzipSync } from 'node:zlib';
import { compile, ERROR_CODES, ExpressionistError } from '@expressionist/core';
import {
  kill,
  request,
  Rng,
  type HttpAnswer,
  sleep,
  spawnOrchestrator,
  tempDir,
  type OrchestratorProcess,
} from '@expressionist/testkit';
import { generateExpressions } from './expressions.js';

export interface FuzzOptions {
  inputs: number;
  seed: number;
  /** Requests in flight at once. */
  concurrency: number;
  log?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  failures: string[];
  /** Answers by `status code`, e.g. `422 EXPR_UNEXPECTED_CHAR`, `201`. */
  outcomes: Record<string, number>;
  /** Inputs by generator category. */
  categories: Record<string, number>;
  /** Answers that were checked against an exact prediction. */
  predicted: number;
  healthyAfter: boolean;
  /** Requests re-sent because the server closed an idle kept-alive connection under them. */
  connectionRetries: number;
  durationMs: number;
}

/** What the orchestrator must answer, when it can be known in advance. */
type Prediction =
  | { accepted: true; status?: number }
  | { accepted: false; status: number; code: string; position?: number };

interface FuzzCase {
  category: string;
  body: string | Uint8Array;
  contentType: string | null;
  headers?: Record<string, string>;
  /** Computed from the body when absent and the body is a JSON string. */
  prediction?: Prediction;
  /** The id this case submits with (for idempotency bookkeeping). */
  id?: string;
  expression?: string;
}

const BODY_LIMIT = 2 * 1024 * 1024;
const ID_RE = /^[A-Za-z0-9._:-]+$/;
const GRAMMAR = '0123456789.+-*/() \t\n';
const SPICE = [
  '\u00a0',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\u200b',
  '\u2212',
  '×',
  '÷',
  '٫',
  '０',
  '９',
  '٣',
  '½',
  'e',
  'E',
  ',',
  '_',
  'x',
  '∞',
  'NaN',
  'Infinity',
  '\u0000',
  '\u0007',
  '\u001b',
  '\u007f',
  '\r',
  '\v',
  '\f',
  '"',
  '\\',
  '🙂',
  '𝟙',
  '\ud800',
  '\udfff',
];

function randomGrammar(rng: Rng): string {
  const length = rng.weighted([
    [6, rng.int(0, 12)],
    [3, rng.int(13, 60)],
    [1, rng.int(61, 600)],
  ] as const);
  let s = '';
  for (let i = 0; i < length; i += 1)
    s += rng.chance(0.03) ? rng.pick(SPICE) : GRAMMAR[rng.int(0, GRAMMAR.length - 1)]!;
  return s;
}

function randomUnicode(rng: Rng): string {
  const length = rng.int(0, 40);
  let s = '';
  for (let i = 0; i < length; i += 1) {
    const bucket = rng.int(0, 7);
    if (bucket === 0) s += String.fromCharCode(rng.int(0, 31));
    else if (bucket === 1) s += String.fromCharCode(rng.int(32, 126));
    else if (bucket === 2) s += String.fromCharCode(rng.int(0x80, 0x7ff));
    else if (bucket === 3) s += String.fromCharCode(rng.int(0x800, 0xd7ff));
    else if (bucket === 4)
      s += String.fromCharCode(rng.int(0xd800, 0xdfff)); // lone surrogates
    else if (bucket === 5) s += String.fromCodePoint(rng.int(0x10000, 0x10ffff));
    else if (bucket === 6) s += rng.pick(SPICE);
    else s += GRAMMAR[rng.int(0, GRAMMAR.length - 1)]!;
  }
  return s;
}

function hugeNumber(rng: Rng): string {
  const digits = rng.weighted([
    [20, rng.int(16, 400)],
    [2, rng.int(401, 5000)],
    [1, rng.pick([99_999, 100_000, 100_001])],
  ] as const);
  let s = String(rng.int(1, 9));
  while (s.length < digits) s += String(Math.floor(rng.next() * 1e15)).padStart(15, '0');
  s = s.slice(0, digits);
  return rng.chance(0.3)
    ? `${s.slice(0, Math.max(1, digits - 5))}.${s.slice(Math.max(1, digits - 5))}`
    : s;
}

/** One to three random edits of a valid expression. */
function mutate(rng: Rng, source: string): string {
  let s = source;
  for (let n = rng.int(1, 3); n > 0; n -= 1) {
    const at = rng.int(0, s.length);
    const to = Math.min(s.length, at + rng.int(1, 8));
    switch (rng.int(0, 13)) {
      case 0: // delete one character
        s = s.slice(0, at) + s.slice(at + 1);
        break;
      case 1: // delete a range
        s = s.slice(0, at) + s.slice(to);
        break;
      case 2: // duplicate a range
        s = s.slice(0, to) + s.slice(at, to) + s.slice(to);
        break;
      case 3: {
        // swap two characters
        const other = rng.int(0, Math.max(0, s.length - 1));
        const chars = [...s];
        if (chars.length > 1) {
          const i = Math.min(at, chars.length - 1);
          [chars[i], chars[other]] = [chars[other]!, chars[i]!];
        }
        s = chars.join('');
        break;
      }
      case 4: // insert a grammar character
        s = s.slice(0, at) + GRAMMAR[rng.int(0, GRAMMAR.length - 1)]! + s.slice(at);
        break;
      case 5: // insert something outside the grammar
        s = s.slice(0, at) + rng.pick(SPICE) + s.slice(at);
        break;
      case 6: // replace a number by a huge one
        s = s.replace(/\d+(\.\d+)?/, () => hugeNumber(rng));
        break;
      case 7: // a second dot in a number
        s = s.replace(/\d+\.\d+/, (m) => `${m}.${rng.int(0, 9)}`);
        break;
      case 8: // double an operator
        s = s.replace(/[+\-*/]/, (m) => m + rng.pick(['+', '-', '*', '/']));
        break;
      case 9: // drop a parenthesis
        s = s.replace(rng.chance(0.5) ? '(' : ')', '');
        break;
      case 10: // truncate
        s = s.slice(0, at);
        break;
      case 11: // wrap in parentheses, possibly unbalanced
        s = `${'('.repeat(rng.int(1, 30))}${s}${')'.repeat(rng.int(0, 30))}`;
        break;
      case 12: // trailing dot / leading dot
        s = s.replace(/\d+/, (m) => (rng.chance(0.5) ? `${m}.` : `.${m}.`));
        break;
      default: // exponent-looking suffix
        s = s.replace(/\d+/, (m) => `${m}e${rng.int(-5, 5)}`);
    }
  }
  return s;
}

function deep(rng: Rng): string {
  const depth = rng.weighted([
    [4, rng.int(990, 1010)],
    [3, rng.int(1, 3000)],
    [1, 100_000],
  ] as const);
  switch (rng.int(0, 3)) {
    case 0:
      return `${'('.repeat(depth)}1${')'.repeat(depth)}`;
    case 1:
      return `${'-'.repeat(depth)}1`;
    case 2:
      return `${'(-'.repeat(depth)}2${')'.repeat(depth)}`;
    default:
      return `${'('.repeat(depth)}1`;
  }
}

/** The few very long inputs, at fixed positions of the run (they are costly to build and keep). */
function longInput(k: number): { category: string; expression: string } {
  const sum = (chars: number): string => {
    const unit = '12+';
    return `${unit.repeat(Math.floor((chars - 1) / unit.length))}1`.padEnd(chars, ' ');
  };
  switch (k % 6) {
    case 0:
      // Accepted and kept in memory (nothing runs): full size only for the first one.
      return k === 0
        ? { category: 'long: 999,999 characters', expression: sum(999_999) }
        : { category: 'long: 200,000 characters', expression: sum(200_000) };
    case 1:
      return { category: 'long: 1,000,001 characters', expression: sum(1_000_001) };
    case 2:
      return { category: 'long: 100,000-digit number', expression: `${'7'.repeat(100_000)}+1` };
    case 3:
      return { category: 'long: 100,001-digit number', expression: `1+${'7'.repeat(100_001)}` };
    case 4:
      return { category: 'long: body over the limit', expression: sum(2_500_000) };
    default:
      return {
        category: 'long: 300,000 nested parentheses',
        expression: `${'('.repeat(300_000)}1${')'.repeat(300_000)}`,
      };
  }
}

function jsonCase(
  category: string,
  body: unknown,
  rng: Rng,
  ids: Map<string, string>,
  withId: boolean,
): FuzzCase {
  const fuzzCase: FuzzCase = { category, body: '', contentType: 'application/json' };
  if (withId && typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    const known = [...ids.keys()];
    if (known.length > 0 && rng.chance(0.3)) {
      // Reuse an id: same expression (200) or another one (409 when valid).
      const id = rng.pick(known);
      record.id = id;
      if (rng.chance(0.5)) record.expression = ids.get(id);
    } else if (rng.chance(0.15)) {
      record.id = rng.pick([
        '',
        ' ',
        'a b',
        'x'.repeat(129),
        'ü',
        'id/1',
        'id?',
        null,
        42,
        ['a'],
        { a: 1 },
        '🙂',
      ]);
    } else {
      record.id = `fz-${rng.int(0, 2 ** 30).toString(36)}-${rng.int(0, 2 ** 30).toString(36)}`;
    }
    if (typeof record.id === 'string') fuzzCase.id = record.id;
    if (typeof record.expression === 'string') fuzzCase.expression = record.expression;
  } else if (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as Record<string, unknown>).expression === 'string'
  ) {
    fuzzCase.expression = (body as { expression: string }).expression;
  }
  fuzzCase.body = JSON.stringify(body);
  return fuzzCase;
}

/** Predicts the answer to a JSON body the way the API contract describes it. */
function predict(text: string, ids: Map<string, string>): Prediction {
  if (Buffer.byteLength(text) > BODY_LIMIT)
    return { accepted: false, status: 413, code: 'BODY_TOO_LARGE' };
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text.replace(/^\ufeff/, ''));
  } catch {
    return { accepted: false, status: 400, code: 'BODY_INVALID' };
  }
  const invalid: Prediction = { accepted: false, status: 400, code: 'BODY_INVALID' };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid;
  const record = body as Record<string, unknown>;
  if (typeof record.expression !== 'string') return invalid;
  if (Object.hasOwn(record, 'id')) {
    const id = record.id;
    if (typeof id !== 'string' || id.length < 1 || id.length > 128 || !ID_RE.test(id))
      return invalid;
  }
  try {
    compile(record.expression);
  } catch (err) {
    if (err instanceof ExpressionistError)
      return {
        accepted: false,
        status: err.status,
        code: err.code,
        ...(err.position === undefined ? {} : { position: err.position }),
      };
    throw err;
  }
  const id = typeof record.id === 'string' ? record.id : undefined;
  if (id !== undefined && ids.has(id)) {
    return ids.get(id) === record.expression
      ? { accepted: true, status: 200 }
      : { accepted: false, status: 409, code: 'IDEMPOTENCY_CONFLICT' };
  }
  return { accepted: true, status: 201 };
}

function makeCase(
  rng: Rng,
  index: number,
  longEvery: number,
  valid: string[],
  ids: Map<string, string>,
): FuzzCase {
  if (longEvery > 0 && index % longEvery === longEvery - 1) {
    const long = longInput(Math.floor(index / longEvery));
    return jsonCase(long.category, { expression: long.expression }, rng, ids, false);
  }
  const kind = rng.weighted([
    [20, 'grammar'],
    [10, 'unicode'],
    [30, 'mutation'],
    [8, 'valid'],
    [5, 'deep'],
    [10, 'non-string'],
    [10, 'malformed'],
    [5, 'headers'],
    [2, 'huge-number'],
  ] as const);
  const withId = rng.chance(0.25);
  switch (kind) {
    case 'grammar':
      return jsonCase(
        'random grammar characters',
        { expression: randomGrammar(rng) },
        rng,
        ids,
        withId,
      );
    case 'unicode':
      return jsonCase('random unicode', { expression: randomUnicode(rng) }, rng, ids, withId);
    case 'mutation':
      return jsonCase(
        'mutated valid expression',
        { expression: mutate(rng, rng.pick(valid)) },
        rng,
        ids,
        withId,
      );
    case 'valid':
      return jsonCase('valid expression', { expression: rng.pick(valid) }, rng, ids, withId);
    case 'deep':
      return jsonCase('deep nesting', { expression: deep(rng) }, rng, ids, false);
    case 'huge-number':
      return jsonCase(
        'huge number',
        { expression: `${hugeNumber(rng)}${rng.pick(['+', '*', '/', '-'])}${hugeNumber(rng)}` },
        rng,
        ids,
        false,
      );
    case 'non-string': {
      const value = rng.pick<unknown>([
        12,
        -0.5,
        0,
        1e300,
        null,
        true,
        false,
        [],
        ['1+1'],
        {},
        { expression: '1+1' },
        [[[]]],
        '1+1',
      ]);
      const shape = rng.int(0, 3);
      if (shape === 0)
        return jsonCase('non-string expression', { expression: value }, rng, ids, false);
      if (shape === 1) return jsonCase('non-object body', value, rng, ids, false);
      if (shape === 2)
        return jsonCase('missing expression', { expr: '1+1', value }, rng, ids, false);
      return jsonCase(
        'extra fields',
        { expression: rng.pick(valid), extra: value, __proto__x: 1 },
        rng,
        ids,
        false,
      );
    }
    case 'malformed': {
      const valid1 = JSON.stringify({ expression: rng.pick(valid) });
      const body = rng.pick([
        () => valid1.slice(0, rng.int(0, valid1.length - 1)),
        () => `${valid1}${rng.pick(['}', ']', ',', 'x', ' 1', '\u0000'])}`,
        () => valid1.replace(/"/g, "'"),
        () => `{"expression": "1+1",}`,
        () => `{"expression": "1\\x41"}`,
        () => `{"expression": "\\ud800+1"}`,
        () => `{"expression": "1+1", "expression": 5}`,
        () => `{"expression": 5, "expression": "2*3"}`,
        () => `{"__proto__": {"expression": "1+1"}}`,
        () => `{"constructor": {"prototype": {"expression": "1"}}, "expression": "4/2"}`,
        () => `\ufeff${valid1}`,
        () => '['.repeat(rng.int(1, 200_000)),
        () => `${'{"a":'.repeat(rng.int(1, 50_000))}1${'}'.repeat(rng.int(0, 10))}`,
        () => randomUnicode(rng),
        () => '',
        () => ' \n\t ',
        () => 'null',
      ])();
      return { category: 'malformed JSON', body, contentType: 'application/json' };
    }
    case 'headers': {
      const valid1 = JSON.stringify({ expression: rng.pick(valid) });
      const variant = rng.int(0, 11);
      const bytes = new Uint8Array(rng.int(0, 64)).map(() => rng.int(0, 255));
      switch (variant) {
        case 0:
          return {
            category: 'content-type text/plain',
            body: valid1,
            contentType: 'text/plain',
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        case 1:
          return {
            category: 'content-type form',
            body: 'expression=1%2B1',
            contentType: 'application/x-www-form-urlencoded',
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        case 2:
          return {
            category: 'charset utf-16',
            body: valid1,
            contentType: 'application/json; charset=utf-16',
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        case 3:
          return {
            category: 'charset latin1',
            body: valid1,
            contentType: 'application/json; charset=latin1',
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        case 4:
          return {
            category: 'charset utf-bogus',
            body: valid1,
            contentType: 'application/json; charset=utf-bogus',
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        case 5:
          return {
            category: 'no content-type',
            body: bytes,
            contentType: null,
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        case 6:
          return { category: 'invalid UTF-8 bytes', body: bytes, contentType: 'application/json' };
        case 7:
          return {
            category: 'gzip body',
            body: gzipSync(valid1),
            contentType: 'application/json',
            headers: { 'content-encoding': 'gzip' },
            prediction: predict(valid1, ids),
          };
        case 8:
          return {
            category: 'garbage gzip body',
            body: bytes,
            contentType: 'application/json',
            headers: { 'content-encoding': 'gzip' },
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        case 9:
          return {
            category: 'garbage deflate body',
            body: bytes,
            contentType: 'application/json',
            headers: { 'content-encoding': 'deflate' },
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        case 10:
          return {
            category: 'unknown content-encoding',
            body: valid1,
            contentType: 'application/json',
            headers: { 'content-encoding': 'x-bogus' },
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
        default:
          return {
            category: 'application/vnd+json',
            body: valid1,
            contentType: 'application/vnd.api+json',
            prediction: { accepted: false, status: 400, code: 'BODY_INVALID' },
          };
      }
    }
  }
}

function preview(fuzzCase: FuzzCase): string {
  const text =
    typeof fuzzCase.body === 'string'
      ? fuzzCase.body
      : `<${fuzzCase.body.length} bytes ${Buffer.from(fuzzCase.body).toString('hex').slice(0, 40)}>`;
  const short =
    text.length > 160 ? `${text.slice(0, 120)}…(${text.length} chars)…${text.slice(-30)}` : text;
  return `${fuzzCase.category} [${fuzzCase.contentType ?? 'no content-type'}${fuzzCase.headers ? ` ${JSON.stringify(fuzzCase.headers)}` : ''}] ${JSON.stringify(short)}`;
}

/**
 * Sends one case. A kept-alive connection that the server closed just as the request went out
 * ("other side closed", ECONNRESET, or EPIPE while a large body was still being written, before
 * any byte of an answer: the connection was closed while the server was busy, so the request was
 * never read) is retried on a fresh attempt, up to twice; such
 * retries are counted, not failed.
 */
async function send(
  url: string,
  fuzzCase: FuzzCase,
  retries: { count: number },
): Promise<HttpAnswer> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await request(url, 'POST', '/api/v1/calculate', {
        raw: fuzzCase.body,
        contentType: fuzzCase.contentType,
        ...(fuzzCase.headers ? { headers: fuzzCase.headers } : {}),
        timeoutMs: 60_000,
      });
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined;
      const closed =
        cause instanceof Error &&
        /other side closed|ECONNRESET|EPIPE/.test(
          `${cause.message} ${(cause as { code?: string }).code ?? ''}`,
        );
      if (!closed || attempt >= 2) throw err;
      retries.count += 1;
    }
  }
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const startedPerf = performance.now();
  const log = o.log ?? (() => undefined);
  const rng = new Rng(o.seed);
  const report: FuzzReport = {
    seed: o.seed,
    inputs: o.inputs,
    failures: [],
    outcomes: {},
    categories: {},
    predicted: 0,
    healthyAfter: false,
    connectionRetries: 0,
    durationMs: 0,
  };
  const fail = (message: string): void => {
    if (report.failures.length < 50) report.failures.push(message);
    else if (report.failures.length === 50) report.failures.push('… more failures omitted');
  };
  const valid = generateExpressions(500, o.seed ^ 0xf00d).map((g) => g.source);
  /** Ids of accepted submissions and their expressions. */
  const ids = new Map<string, string>();
  const data = tempDir('expr-fuzz-');
  let orchestrator: OrchestratorProcess | null = null;
  try {
    orchestrator = await spawnOrchestrator({ env: { DATA_DIR: data.dir } });
    const url = orchestrator.url;
    log(`[fuzz] orchestrator at ${url}, seed ${o.seed}, ${o.inputs} inputs`);
    // About one very long input per 2,000, at least six (one of each kind) in a long run.
    const longEvery =
      o.inputs >= 12_000
        ? Math.floor(o.inputs / Math.max(6, Math.floor(o.inputs / 2000)))
        : Math.floor(o.inputs / 6);
    let next = 0;
    let lastLog = Date.now();
    const time: Record<string, { count: number; totalMs: number; maxMs: number }> = {};
    const retries = { count: 0 };
    const worker = async (): Promise<void> => {
      for (;;) {
        const index = next;
        next += 1;
        if (index >= o.inputs) return;
        const fuzzCase = makeCase(rng, index, longEvery, valid, ids);
        report.categories[fuzzCase.category] = (report.categories[fuzzCase.category] ?? 0) + 1;
        const prediction =
          fuzzCase.prediction ??
          (typeof fuzzCase.body === 'string' && fuzzCase.contentType === 'application/json'
            ? predict(fuzzCase.body, ids)
            : undefined);
        let status: number;
        let json: unknown;
        const sentAt = performance.now();
        try {
          const res = await send(url, fuzzCase, retries);
          status = res.status;
          json = res.json;
          const t = (time[fuzzCase.category] ??= { count: 0, totalMs: 0, maxMs: 0 });
          const ms = performance.now() - sentAt;
          t.count += 1;
          t.totalMs += ms;
          t.maxMs = Math.max(t.maxMs, ms);
          if (process.env.FUZZ_DEBUG && ms > 1000)
            log(
              `[fuzz] slow ${ms.toFixed(0)} ms, sent at +${(sentAt - startedPerf).toFixed(0)}: ${preview(fuzzCase)}`,
            );
        } catch (err) {
          const cause =
            err instanceof Error && err.cause !== undefined ? ` (${String(err.cause)})` : '';
          fail(
            `no answer (${String(err)}${cause}) at +${Date.now() - started} ms to ${preview(fuzzCase)}`,
          );
          continue;
        }
        const error = (
          json as { error?: { code?: unknown; position?: unknown } } | null | undefined
        )?.error;
        const code = typeof error?.code === 'string' ? error.code : undefined;
        const key = code ? `${status} ${code}` : String(status);
        report.outcomes[key] = (report.outcomes[key] ?? 0) + 1;
        if (status >= 500) {
          fail(`${status} ${JSON.stringify(json)} for ${preview(fuzzCase)}`);
          continue;
        }
        if (status === 200 || status === 201) {
          const id = (json as { id?: unknown } | null)?.id;
          if (typeof id !== 'string') fail(`${status} without an id for ${preview(fuzzCase)}`);
          else if (fuzzCase.id !== undefined && id !== fuzzCase.id)
            fail(`${status} with id ${id}, asked for ${fuzzCase.id}`);
          if (
            fuzzCase.id !== undefined &&
            fuzzCase.expression !== undefined &&
            !ids.has(fuzzCase.id)
          )
            ids.set(fuzzCase.id, fuzzCase.expression);
        } else if (
          !code ||
          !(code in ERROR_CODES) ||
          ERROR_CODES[code as keyof typeof ERROR_CODES].status !== status
        ) {
          fail(
            `${status} with error ${JSON.stringify(error)} (not a registry code with this status) for ${preview(fuzzCase)}`,
          );
          continue;
        } else if (status < 400) {
          fail(`${status} for ${preview(fuzzCase)}`);
        }
        if (prediction) {
          report.predicted += 1;
          const expectedStatus = prediction.status ?? 201;
          if (prediction.accepted) {
            if (status !== expectedStatus)
              fail(
                `expected ${expectedStatus}, got ${status} ${JSON.stringify(error)} for ${preview(fuzzCase)}`,
              );
          } else if (
            status !== prediction.status ||
            code !== prediction.code ||
            (prediction.position !== undefined && error?.position !== prediction.position)
          ) {
            fail(
              `expected ${prediction.status} ${prediction.code}${prediction.position === undefined ? '' : ` at ${prediction.position}`}, got ${status} ${JSON.stringify(error)} for ${preview(fuzzCase)}`,
            );
          }
        }
        if (Date.now() - lastLog > 5000) {
          lastLog = Date.now();
          log(`[fuzz] ${index} inputs sent`);
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
    report.connectionRetries = retries.count;
    const slowest = Object.entries(time)
      .sort((a, b) => b[1].totalMs - a[1].totalMs)
      .slice(0, 6)
      .map(
        ([k, t]) =>
          `${k} ${t.count}× avg ${(t.totalMs / t.count).toFixed(1)} ms max ${t.maxMs.toFixed(0)} ms`,
      );
    log(`[fuzz] time by category: ${slowest.join('; ')}`);

    // Still alive, healthy and answering; nothing logged at error level.
    await sleep(200);
    const health = await request(url, 'GET', '/healthz').catch(() => null);
    const list = await request(url, 'GET', '/api/v1/expressions?limit=5').catch(() => null);
    report.healthyAfter = orchestrator.alive() && health?.status === 200 && list?.status === 200;
    if (!report.healthyAfter)
      fail(
        `the orchestrator is not healthy afterwards (alive ${orchestrator.alive()}, /healthz ${health?.status}, list ${list?.status})`,
      );
    const errors = orchestrator
      .output()
      .split('\n')
      .filter((line) => /"level":(50|60)/.test(line));
    for (const line of errors.slice(0, 5))
      fail(`the orchestrator logged an error: ${line.slice(0, 500)}`);
  } finally {
    if (orchestrator) await kill(orchestrator);
    data.remove();
    report.durationMs = Date.now() - started;
  }
  return report;
}

export function formatFuzzReport(r: FuzzReport): string {
  const top = Object.entries(r.outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  const lines = [
    `fuzz (seed ${r.seed}): ${r.failures.length === 0 ? 'PASS' : `FAIL (${r.failures.length} problems)`} in ${(r.durationMs / 1000).toFixed(1)} s`,
    `  ${r.inputs} inputs, ${r.predicted} checked against an exact prediction; healthy afterwards: ${r.healthyAfter}; connections re-tried ${r.connectionRetries}`,
    `  answers: ${top}`,
  ];
  for (const f of r.failures) lines.push(`  ✗ ${f}`);
  return lines.join('\n');
}
