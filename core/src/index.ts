export * from './types.js';
export * from './errors.js';
export * from './settings.js';
export * from './protocol.js';
export * from './grammar.js';
export * from './arith.js';
export * from './plan.js';
export * from './runner.js';
