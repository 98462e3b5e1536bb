// Lint rules, including the layering rule that keeps the domain core pure: nothing under
// src/domain (or the optimiser, which must stay a pure function of its input) imports an adapter,
// a node: module, or reads the clock. See docs/architecture.md.
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
  { files: ['src/domain/**/*.ts', 'src/optimise/**/*.ts'], rules: pureCore },
);
