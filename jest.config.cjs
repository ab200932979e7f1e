/** Node tests: TypeScript sources compiled by ts-jest (type checking runs separately in `npm run typecheck`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: {'^.+\\.ts$': ['ts-jest', {tsconfig: {module: 'commonjs', target: 'ES2019', esModuleInterop: true, isolatedModules: true}}]},
  testTimeout: 120000,
  maxWorkers: 2,
};
