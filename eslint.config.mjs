// The JupyterLab extension template's rules on typescript-eslint's recommended set, plus the house rules: no `any`,
// no console.log. Formatting is prettier's alone (eslint-config-prettier turns off the rules that overlap).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig({
  files: ['labextension/**/*.{ts,tsx}'],
  extends: [js.configs.recommended, tseslint.configs.recommended, prettier],
  rules: {
    '@typescript-eslint/naming-convention': [
      'error',
      { selector: 'interface', format: ['PascalCase'], custom: { regex: '^I[A-Z]', match: true } }
    ],
    '@typescript-eslint/no-explicit-any': 'error',
    '@typescript-eslint/no-namespace': 'off',
    '@typescript-eslint/no-unused-vars': ['error', { args: 'none' }],
    curly: ['error', 'all'],
    eqeqeq: 'error',
    'no-console': ['error', { allow: ['warn', 'error'] }],
    'prefer-arrow-callback': 'error'
  }
});
