/**
 * The public surface of `@expressionist/core`: grammar, planner, exact arithmetic, protocol, errors.
 */
export * from './types.js';
export * from './errors.js';
export * from './settings.js';
export * from './protocol.js';
export * from './accounts.js';
export * from './grammar.js';
export * from './arith.js';
export * from './plan.js';
export * from './runner.js';
export * from './agent-session.js';
export * from './backoff.js';
