/** Tests run the compiled-on-the-fly TypeScript under Node, with `vscode` replaced by a mock. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
  },
  moduleNameMapper: {
    '^vscode$': '<rootDir>/test/vscodeMock.ts',
  },
  testTimeout: 20000,
  clearMocks: true,
  // A stopped language client keeps its 2 s shutdown timer; the run ends after it, not hung.
  openHandlesTimeout: 3000,
};
