// Lint rules, including the layering rules (docs/architecture.md, "Layers"): nothing under
// src/domain, src/settlement or src/optimise (pure functions of their input) imports an adapter, a
// node: module, or reads the clock; only src/compose/ imports adapters; no adapter imports another.
// test/architecture/imports.test.ts checks the whole import graph (no cycles) as well.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const pureCore = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: ['node:*', 'fs', 'path', 'http', 'https', 'crypto', 'os', 'child_process', 'worker_threads'],
          message: 'the pure core does no I/O: take data through a port instead',
        },
        {
          group: [
            '**/adapters/**',
            '**/agents/**',
            '**/cli/**',
            '**/compose*',
            '**/beckn/**',
            '**/sim/**',
            '**/web/**',
          ],
          message: 'the pure core must not import outer layers (adapters, agents, cli, beckn, sim)',
        },
        { group: ['fastify', 'better-sqlite3', 'pg', 'highs'], message: 'the pure core imports no runtime library' },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'process', message: 'the pure core reads no environment' },
    { name: 'setTimeout', message: 'time comes from the Clock port' },
    { name: 'setInterval', message: 'time comes from the Clock port' },
  ],
  'no-restricted-syntax': [
    'error',
    {
      selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
      message: 'the pure core does not read the clock: pass the time in',
    },
    {
      selector: "NewExpression[callee.name='Date'][arguments.length=0]",
      message: 'the pure core does not read the clock: pass the time in',
    },
    {
      selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
      message: 'randomness must be seeded and passed in',
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.flexlon/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        structuredClone: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  // Adapters are picked in one place: only the composition root imports them (tests may too).
  {
    files: ['src/**/*.ts'],
    ignores: ['src/compose/**', 'src/adapters/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/adapters/**'],
              message: 'only src/compose/ picks adapters: take the port (src/ports.ts) and let the composer wire it',
            },
          ],
        },
      ],
    },
  },
  // An adapter stands alone: what two adapters share lives in a neutral module (src/store/sql,
  // src/signals, src/formats), not in one of them.
  {
    files: ['src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!\\.\\./)[^/]+/',
              message: 'an adapter does not import another adapter: move what both need to a neutral module',
            },
          ],
        },
      ],
    },
  },
  { files: ['src/domain/**/*.ts', 'src/optimise/**/*.ts', 'src/settlement/**/*.ts'], rules: pureCore },
);
