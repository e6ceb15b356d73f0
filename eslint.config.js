import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import svelte from 'eslint-plugin-svelte';
import svelteConfig from './web/svelte.config.js';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/build/**',
      '**/.svelte-kit/**',
      'data/**',
      'artifacts/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...svelte.configs.recommended,
  {
    // Components: the svelte parser, with typescript-eslint's for `<script lang="ts">`. Names are
    // checked by svelte-check (TypeScript), so `no-undef` would only repeat it without the types.
    files: ['web/**/*.svelte', 'web/**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        parser: tseslint.parser,
        extraFileExtensions: ['.svelte'],
        svelteConfig,
      },
    },
    rules: { 'no-undef': 'off' },
  },
  {
    // Imports point one way in the server: http, realtime, cluster, course and auth may use the
    // scheduler, the scheduler may use the store, never the reverse (a lower layer that needs
    // something from a higher one owns an interface the higher one implements).
    files: ['server/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Sources import `./x.js` for `./x.ts` (NodeNext): resolve as tsc does.
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './server/src/scheduler',
              from: [
                './server/src/http',
                './server/src/realtime',
                './server/src/cluster',
                './server/src/course',
                './server/src/auth',
              ],
              message: 'the scheduler must not depend on its callers (own an interface instead)',
            },
            {
              target: './server/src/store',
              from: [
                './server/src/scheduler',
                './server/src/http',
                './server/src/realtime',
                './server/src/cluster',
                './server/src/course',
                './server/src/auth',
              ],
              message: 'the store is the bottom layer: it depends on nothing above it',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
);
