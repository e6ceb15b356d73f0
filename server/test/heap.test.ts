import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { heapGrowingFlag } from '../src/heap.js';

describe('HEAP_GROWING_PERCENT', () => {
  it('defaults to 50 and is bounded', () => {
    expect(loadConfig({}).heapGrowingPercent).toBe(50);
    expect(loadConfig({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: '-1' })).toThrow(ConfigError);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: '1.5' })).toThrow(ConfigError);
  });

  it('becomes the V8 flag unless it is 0', () => {
    expect(heapGrowingFlag(50, [], undefined)).toBe('--heap-growing-percent=50');
    expect(heapGrowingFlag(0, [], undefined)).toBeNull();
  });

  it('yields to the same flag given to node, in either spelling', () => {
    expect(heapGrowingFlag(50, ['--heap-growing-percent=0'], undefined)).toBeNull();
    expect(heapGrowingFlag(50, ['--heap_growing_percent=20'], undefined)).toBeNull();
    expect(
      heapGrowingFlag(50, [], '--max-old-space-size=512 --heap-growing-percent=10'),
    ).toBeNull();
    expect(heapGrowingFlag(50, ['--max-old-space-size=512'], '--enable-source-maps')).toBe(
      '--heap-growing-percent=50',
    );
  });
});
