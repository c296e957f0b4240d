// Jest runs the sidebar's plain TypeScript modules (form, pre-flight, runs logic) in node; React and JupyterLab
// stay out of these tests, which is why that logic lives in modules of its own.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/labextension/test'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: {
          esModuleInterop: true,
          isolatedModules: true,
          module: 'commonjs',
          noImplicitAny: true,
          strict: true,
          target: 'ES2020',
          types: ['jest', 'node']
        }
      }
    ]
  }
};
