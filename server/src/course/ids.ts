/**
 * Course task ids: positive integers that never repeat, across restarts too, so a stale id from
 * before a restart can never name a new task.
 */

/**
 * Task ids that never repeat across restarts: microseconds since the epoch at issue, bumped past
 * the previous id. A restarted orchestrator starts above every id it issued before (unless it
 * issued more than a million per second, far beyond what it dispatches), with no store round
 * trip per task; the ids stay below 2^53, so they are exact as JSON numbers.
 */
export class CourseIds {
  private last = 0;

  next(now = Date.now()): number {
    this.last = Math.max(this.last + 1, now * 1000);
    return this.last;
  }
}
