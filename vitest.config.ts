import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'web/build/**'],
    testTimeout: 60000,
    hookTimeout: 60000,
    // Type tests (`*.test-d.ts`) are type-checked, never run: `npm run test:types`.
    typecheck: {
      include: ['**/test/**/*.test-d.ts'],
      tsconfig: './tsconfig.tests.json',
    },
  },
});
