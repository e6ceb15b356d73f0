/**
 * Expected finish times of live runs: the plan's lower bound applied to what is left, exact for
 * small runs and rough for big ones, memoized per progress step.
 */
import { durationOf, type Settings } from '@expressionist/core';
import type { AgentRegistry } from './agent-registry.js';
import { OpState, type ExpressionRun } from './expression-run.js';
import { OPERATORS } from './plan-source.js';

/** Runs up to this many operations get the exact estimate, walked at each progress step. */
const ETA_EXACT_MAX_OPS = 20_000;

/** When each live run is expected to finish, given the settings and the agents' worker slots. */
export class FinishEstimates {
  private readonly etaMemo = new WeakMap<
    ExpressionRun,
    { done: number; at: number; eta: number }
  >();
  /** Operations per operator (`OPERATORS` order) of big runs, for `roughEstimate`. */
  private readonly opMix = new WeakMap<ExpressionRun, number[]>();

  constructor(
    private readonly settings: () => Settings,
    private readonly agents: AgentRegistry,
  ) {}

  /**
   * Expected finish: now + max(remaining critical path, remaining work / worker slots), the
   * plan's lower bound applied to what is left. Memoized per progress step.
   */
  estimate(run: ExpressionRun): number {
    const now = Date.now();
    const memo = this.etaMemo.get(run);
    const big = run.total > ETA_EXACT_MAX_OPS;
    // A big run's estimate is kept a second even as it progresses: every delta asks for it.
    if (memo && (memo.done === run.doneCount || big) && now - memo.at < 1000) return memo.eta;
    if (big) {
      const eta = this.roughEstimate(run, now);
      this.etaMemo.set(run, { done: run.doneCount, at: now, eta });
      return eta;
    }
    const settings = this.settings();
    const remaining = new Float64Array(run.total);
    let critical = 0;
    let work = 0;
    for (let id = 0; id < run.total; id += 1) {
      const state = run.stateOf(id);
      if (state === OpState.Done) continue;
      let own = durationOf(run.operatorOf(id), settings);
      if (state === OpState.Running || state === OpState.Storing)
        own = Math.max(0, own - (now - run.startedAtOf(id)));
      const a = run.inputOf(id, 0);
      const b = run.inputOf(id, 1);
      const inputA = a >= 0 ? remaining[a]! : 0;
      const inputB = b >= 0 ? remaining[b]! : 0;
      remaining[id] = own + Math.max(inputA, inputB);
      critical = Math.max(critical, remaining[id]!);
      work += own;
    }
    const slots = Math.max(1, this.agents.totalSlots());
    const eta = now + Math.max(critical, work / slots);
    this.etaMemo.set(run, { done: run.doneCount, at: now, eta });
    return eta;
  }

  /**
   * The estimate of a run too big to walk on every view (a 1 MB expression: 500,000 ops, ~10 ms
   * a walk, and ten such runs made every delta flush stall the loop for half a second): the
   * plan's bound with the remaining operations taken as the plan's average one, and the critical
   * path shrunk in proportion to what is left. Walks the plan once per run for the average.
   */
  private roughEstimate(run: ExpressionRun, now: number): number {
    let mix = this.opMix.get(run);
    if (!mix) {
      mix = [0, 0, 0, 0];
      for (let id = 0; id < run.total; id += 1) mix[OPERATORS.indexOf(run.operatorOf(id))]! += 1;
      this.opMix.set(run, mix);
    }
    const settings = this.settings();
    let sum = 0;
    for (let k = 0; k < OPERATORS.length; k += 1)
      sum += mix[k]! * durationOf(OPERATORS[k]!, settings);
    const mean = run.total > 0 ? sum / run.total : 0;
    const left = run.total - run.doneCount;
    const critical = run.plan.criticalPathOps * mean * (run.total > 0 ? left / run.total : 0);
    const slots = Math.max(1, this.agents.totalSlots());
    return now + Math.max(critical, (left * mean) / slots);
  }
}
