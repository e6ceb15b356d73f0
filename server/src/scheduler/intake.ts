/**
 * Intake: what happens to an expression between `POST /calculate` and its first ready operation.
 * It is parsed and planned, answered at once when no agent is needed (a bare number, a cached
 * result, a literal zero divisor), and persisted before it is acknowledged.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ExpressionistError,
  canonicalDecimal,
  errorInfo,
  type ErrorInfo,
} from '@expressionist/core';
import type { CachedOutcome, ResultCache } from '../result-cache.js';
import { PlanPool, PlanWorkerError } from './plan-pool.js';
import type { PlanSource } from './plan-source.js';
import type { Store, StoredExpression } from '../store/store.js';

export type SubmitOutcome = { created: boolean; id: string };

/** A newly stored expression: finished already, or with a plan still to run. */
export type Accepted =
  | { kind: 'existing'; id: string }
  | { kind: 'immediate'; stored: StoredExpression }
  | { kind: 'run'; stored: StoredExpression; plan: PlanSource };

/** Sortable, URL-safe expression id: time in base 36, then randomness. */
function newExpressionId(now: number): string {
  return `${now.toString(36)}-${randomBytes(5).toString('hex')}`;
}

export class Intake {
  constructor(
    private readonly store: Store,
    private readonly cache: ResultCache,
    private readonly log: Logger,
    /** Plans long expressions off the event loop (see plan-pool.ts). */
    private readonly planner: PlanPool,
  ) {}

  /** Parses, plans and stores a new expression; a known client id returns the existing one. */
  async accept(expression: string, clientId?: string, owner?: string): Promise<Accepted> {
    let compiled;
    try {
      compiled = await this.planner.compile(expression);
    } catch (err) {
      if (err instanceof PlanWorkerError) {
        this.log.error({ err, length: expression.length }, 'planning an expression failed');
        throw ExpressionistError.of('INTERNAL', {});
      }
      throw err;
    }
    const now = Date.now();
    // Idempotency ids are per user: the same client id from two users names two expressions.
    const id =
      clientId === undefined
        ? newExpressionId(now)
        : owner === undefined
          ? clientId
          : `${owner}.${clientId}`;
    const base: StoredExpression = {
      id,
      expression,
      normalized: compiled.normalized,
      status: 'pending',
      value: null,
      error: null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      opCount: compiled.plan.size,
      cached: false,
      owner: owner ?? null,
    };
    const immediate = this.immediateOutcome(
      compiled.plan,
      compiled.normalized,
      expression,
      owner ?? null,
    );
    const stored: StoredExpression = immediate
      ? {
          ...base,
          status: 'value' in immediate.outcome ? 'done' : 'error',
          value: 'value' in immediate.outcome ? immediate.outcome.value : null,
          error: 'error' in immediate.outcome ? immediate.outcome.error : null,
          startedAt: now,
          finishedAt: now,
          cached: immediate.cached,
        }
      : base;
    let outcome;
    try {
      outcome = await this.store.insertExpression(stored);
    } catch (err) {
      this.log.warn({ err }, 'storing a new expression failed');
      throw ExpressionistError.of('STORE_UNAVAILABLE', {
        what: 'the expression was not accepted.',
      });
    }
    if (!outcome.inserted) {
      if (outcome.existing.expression !== expression || outcome.existing.owner !== (owner ?? null))
        throw ExpressionistError.of('IDEMPOTENCY_CONFLICT', { id });
      return { kind: 'existing', id };
    }
    return immediate ? { kind: 'immediate', stored } : { kind: 'run', stored, plan: compiled.plan };
  }

  /** An answer that needs no agent: a bare number, a cached result, or a literal zero divisor. */
  private immediateOutcome(
    plan: PlanSource,
    normalized: string,
    source: string,
    owner: string | null,
  ): { outcome: CachedOutcome; cached: boolean } | null {
    const root = plan.root;
    if (root.kind === 'lit')
      return { outcome: { value: canonicalDecimal(root.value) }, cached: false };
    const cached = this.cache.get(owner, normalized);
    if (cached)
      return { outcome: 'error' in cached ? respelledError(cached, source) : cached, cached: true };
    // A divisor factor that is a literal zero fails the expression before any work is sent.
    // Unknown operands count as non-zero here; they are checked again when the op is ready.
    const position = plan.literalZeroDivisor();
    if (position !== undefined)
      return { outcome: { error: divZeroError(source, position) }, cached: false };
    return null;
  }
}

/**
 * A division-by-zero error for the cache, remembering which `/` of its source (by order) it
 * points at: a repeat spelled differently has the same normalized form, hence the same operators
 * in the same order, but its columns differ.
 */
export function cacheableError(source: string, error: ErrorInfo): CachedOutcome {
  if (error.position === undefined || source[error.position] !== '/') return { error };
  let slash = 0;
  for (let i = source.indexOf('/'); i !== -1 && i < error.position; i = source.indexOf('/', i + 1))
    slash += 1;
  return { error, slash };
}

/** A cached division-by-zero error pointed at the same `/` of `source`. */
function respelledError(
  cached: { error: ErrorInfo; slash?: number },
  source: string,
): CachedOutcome {
  if (cached.slash === undefined) return { error: cached.error };
  let at = source.indexOf('/');
  for (let k = 0; k < cached.slash && at !== -1; k += 1) at = source.indexOf('/', at + 1);
  return { error: at === -1 ? cached.error : divZeroError(source, at) };
}

/** The division-by-zero error, naming the division and where its divisor stands. */
export function divZeroError(source: string, position: number): ErrorInfo {
  const from = Math.max(0, position - 20);
  const snippet = source.slice(from, position + 21).replace(/\s+/g, ' ');
  return errorInfo(
    'EXPR_DIV_ZERO',
    { column: position, snippet: `${from > 0 ? '…' : ''}${snippet}` },
    position,
  );
}
