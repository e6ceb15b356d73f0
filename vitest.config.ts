import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'web/build/**'],
    testTimeout: 60000,
    hookTimeout: 60000,
  },
});
