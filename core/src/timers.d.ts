// Timers exist in every runtime core targets (Node and browsers, including Web Workers), but core
// compiles without DOM or Node typings to keep it free of I/O APIs; these are the ones it uses.
declare function setTimeout(handler: () => void, timeout?: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare function queueMicrotask(callback: () => void): void;
