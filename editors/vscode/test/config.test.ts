import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';

import {
  buildServerOptions,
  declaredServerOptions,
  readAutomatic,
  readServerLaunch,
  SECTION,
} from '../src/config';
import { packageJson, setSettings } from './helpers';

const declared = declaredServerOptions(packageJson);

function options() {
  return buildServerOptions(vscode.workspace.getConfiguration(SECTION), declared);
}

test('package.json declares the server options of the README, by group', () => {
  const names = (group: string) =>
    declared.filter((option) => option.group === group).map((option) => option.name);
  expect(names('completion')).toEqual([
    'automatic',
    'debounceMs',
    'maxTokensLine',
    'maxTokensBlock',
    'predictTimeBudgetMs',
    'fallbackSort',
    'alternatives',
    'earlyAnswerMs',
    'contextRefreshIdleMs',
    'suffixRefreshIdleMs',
    'nextEditModel',
  ]);
  expect(names('context')).toEqual([
    'maxPromptTokens',
    'nearLinesAbove',
    'nearLinesBelow',
    'farLinesAbove',
    'farLinesBelow',
    'recentEdits',
    'similarSnippets',
    'definitionsTokens',
    'marginTokens',
    'privateFiles',
    'namelessDocuments',
  ]);
  expect(names('engine')).toEqual([
    'model',
    'hfRepo',
    'hfFile',
    'nextEditModel',
    'nextEditHfRepo',
    'nextEditHfFile',
    'nCtx',
    'threads',
    'batchSize',
    'maxDocuments',
    'kvReuse',
    'suffixRefreshTokens',
    'preload',
    'promptLookup',
    'backend',
    'endpoint',
    'remoteApi',
    'remoteModel',
    'remoteTemplate',
    'remoteContext',
    'remotePinSlots',
    'apiKeyEnv',
    'remoteTimeoutMs',
    'remoteRetries',
    'fallback',
  ]);
});

test('an untrusted workspace cannot choose the executable, the model or where code and key go', () => {
  const restricted = packageJson.capabilities.untrustedWorkspaces.restrictedConfigurations;
  expect(restricted).toEqual(
    expect.arrayContaining([
      'sparkLsp.server.path',
      'sparkLsp.server.args',
      'sparkLsp.engine.model',
      'sparkLsp.engine.endpoint',
      'sparkLsp.engine.apiKeyEnv',
    ]),
  );
});

test('client-only settings are not server options', () => {
  const keys = declared.map((option) => `${option.group}.${option.name}`);
  expect(keys).not.toContain('server.path');
  expect(keys.some((key) => key.startsWith('server.') || key.startsWith('trace.'))).toBe(false);
});

test('with nothing set, the server gets every completion and context default and no engine option', () => {
  setSettings();
  const built = options();
  expect(Object.keys(built)).toEqual(['actions', 'completion', 'context', 'engine']);
  expect(built.actions).toEqual({ timeBudgetMs: 120000, maxTokens: 4096 });
  expect(built.completion).toEqual({
    automatic: true,
    debounceMs: 0,
    maxTokensLine: 64,
    maxTokensBlock: 128,
    predictTimeBudgetMs: 2000,
    fallbackSort: 'last',
    alternatives: 2,
    earlyAnswerMs: 0,
    contextRefreshIdleMs: 1000,
    suffixRefreshIdleMs: 200,
    nextEditModel: false,
  });
  expect(built.context).toEqual({
    maxPromptTokens: 131072,
    nearLinesAbove: 64,
    nearLinesBelow: 16,
    farLinesAbove: 4096,
    farLinesBelow: 1024,
    recentEdits: 8,
    similarSnippets: 3,
    definitionsTokens: 2048,
    marginTokens: 16,
    privateFiles: ['.env*', '*.pem', '*.key', 'id_*', '*secret*'],
    namelessDocuments: false,
  });
  expect(built.engine).toEqual({});
});

test('user and workspace values win, engine options only when set, empty strings left out', () => {
  setSettings({
    user: {
      'sparkLsp.completion.automatic': false,
      'sparkLsp.engine.nCtx': 4096,
      'sparkLsp.engine.hfRepo': '',
      'sparkLsp.server.path': '/opt/spark-lsp',
      'sparkLsp.trace.server': 'verbose',
    },
    workspace: { 'sparkLsp.context.recentEdits': 2, 'sparkLsp.engine.kvReuse': 'exact' },
  });
  const built = options();
  expect(built.completion.automatic).toBe(false);
  expect(built.context.recentEdits).toBe(2);
  expect(built.engine).toEqual({ nCtx: 4096, kvReuse: 'exact' });
  expect(JSON.stringify(built)).not.toContain('/opt/spark-lsp');
  expect(JSON.stringify(built)).not.toContain('verbose');
});

test('the model, endpoint and key variable are flags from user settings, never options', () => {
  setSettings({
    user: {
      'sparkLsp.engine.model': '/models/coder.gguf',
      'sparkLsp.engine.endpoint': 'https://gpu-box:8080',
      'sparkLsp.server.args': ['--log-level', 'debug'],
    },
    workspace: {
      'sparkLsp.engine.endpoint': 'https://attacker.example',
      'sparkLsp.engine.apiKeyEnv': 'AWS_SECRET_ACCESS_KEY',
    },
  });
  expect(options().engine).toEqual({});
  expect(readServerLaunch(vscode.workspace.getConfiguration(SECTION)).args).toEqual([
    '--log-level',
    'debug',
    '--endpoint',
    'https://gpu-box:8080',
    '--model',
    '/models/coder.gguf',
  ]);
  for (const key of ['model', 'hfRepo', 'hfFile', 'endpoint', 'apiKeyEnv', 'backend', 'remoteModel']) {
    const property = (packageJson.contributes.configuration as { properties: Record<string, { scope?: string }> }[])
      .map((section) => section.properties[`sparkLsp.engine.${key}`])
      .find((found) => found !== undefined);
    expect(property?.scope).toBe('machine');
  }
});

test('a relative server path is refused: it would run a binary of the workspace', () => {
  setSettings({ user: { 'sparkLsp.server.path': './node_modules/.bin/spark-lsp' } });
  const launch = readServerLaunch(vscode.workspace.getConfiguration(SECTION));
  expect(launch.problem).toContain('must be an absolute path');
  setSettings({ user: { 'sparkLsp.server.path': '/opt/venv/bin/spark-lsp' } });
  expect(readServerLaunch(vscode.workspace.getConfiguration(SECTION)).problem).toBeUndefined();
});

test('the launch command: default, configured path with ~, arguments filtered to strings', () => {
  setSettings();
  expect(readServerLaunch(vscode.workspace.getConfiguration(SECTION))).toEqual({
    command: 'spark-lsp',
    args: [],
  });
  setSettings({
    user: {
      'sparkLsp.server.path': '~/venv/bin/spark-lsp',
      'sparkLsp.server.args': ['--log-level', 'debug', 3],
    },
  });
  expect(readServerLaunch(vscode.workspace.getConfiguration(SECTION))).toEqual({
    command: path.join(os.homedir(), 'venv/bin/spark-lsp'),
    args: ['--log-level', 'debug'],
  });
  setSettings({ user: { 'sparkLsp.server.path': '  ' } });
  expect(readServerLaunch(vscode.workspace.getConfiguration(SECTION)).command).toBe('spark-lsp');
});

test('automatic suggestions are on unless set to false', () => {
  setSettings();
  expect(readAutomatic(vscode.workspace.getConfiguration(SECTION))).toBe(true);
  setSettings({ user: { 'sparkLsp.completion.automatic': false } });
  expect(readAutomatic(vscode.workspace.getConfiguration(SECTION))).toBe(false);
});
