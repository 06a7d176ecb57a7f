// Lint, and above all the layering of ../shared/ARCHITECTURE.md: pure folders (api/, the registry,
// the compilers and planners) may not import anything with side effects, and only kernel/ talks
// to the kernel. A violation is an error, so CI fails on it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const sideEffectModules = [
  'node:fs', 'node:fs/*', 'node:net', 'node:http', 'node:https', 'node:http2', 'node:child_process',
  'node:dgram', 'node:tls', 'node:os', 'node:worker_threads', 'node:cluster', 'node:process',
  'fs', 'fs/*', 'net', 'http', 'https', 'child_process', 'dgram', 'tls', 'os',
  'execa', 'netlink', 'ffi-rs', 'better-sqlite3', 'etcd3', 'ws', 'systeminformation',
];
const kernelOnlyModules = ['netlink', 'ffi-rs'];

const pure = (files, extra = []) => ({
  files,
  ignores: ['**/*.test.ts', '**/*.itest.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        { group: [...sideEffectModules, ...extra], message: 'This folder is pure logic: keep side effects behind an interface (see ARCHITECTURE.md).' },
      ],
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly', structuredClone: 'readonly', performance: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // Generic rule first: flat config lets the later, stricter per-folder rules win.
  {
    files: ['**/*.ts'],
    ignores: ['kernel/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: kernelOnlyModules, message: 'Only kernel/ talks to the kernel (see ARCHITECTURE.md).' }] }],
    },
  },
  pure(['api/**/*.ts'], ['**/control/**', '**/agent/**', '**/proxy/**', '**/kernel/**', '**/cli/**']),
  // The client factory (ARCHITECTURE.md puts it in api/) is the one api/ module that does I/O.
  { files: ['api/client/https.ts'], rules: { 'no-restricted-imports': 'off' } },
  pure(['control/registry/**/*.ts'], ['**/control/apiserver/**', '**/control/store/**', '**/kernel/**', '**/cli/**']),
  pure(['**/compile*.ts', '**/plan*.ts', 'control/scheduler/**/*.ts']),
  { files: ['**/*.test.ts', '**/*.itest.ts', 'test/**/*.ts', 'bench/**/*.ts'], rules: { '@typescript-eslint/no-non-null-assertion': 'off' } },
);
