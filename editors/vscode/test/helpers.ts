/** Shared test fixtures: settings in the mocked configuration, the fake server, small fakes. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { CancellationTokenSource } from 'vscode-languageclient';

export const packageJson: {
  contributes: { configuration: { properties: Record<string, { default?: unknown }> }[] };
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
} = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));

type Settings = Record<string, unknown>;

/** `{"sparkLsp.completion.automatic": true}` as `{sparkLsp: {completion: {automatic: true}}}`. */
function nested(flat: Settings): Settings {
  const root: Settings = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      node = (node[part] ??= {}) as Settings;
    }
    node[parts[parts.length - 1]] = value;
  }
  return root;
}

export function declaredDefaults(): Settings {
  const defaults: Settings = {};
  for (const section of packageJson.contributes.configuration) {
    for (const [key, property] of Object.entries(section.properties)) {
      defaults[key] = property.default;
    }
  }
  return defaults;
}

/**
 * Replaces the mocked settings: package.json's defaults, plus values in user (global) and
 * workspace settings, all as flat keys such as `sparkLsp.engine.model`.
 */
export function setSettings(settings: { user?: Settings; workspace?: Settings } = {}): void {
  const mockWorkspace = vscode.workspace as unknown as {
    __mockConfig: { __inspect_data__: Record<string, Settings> };
  };
  const data = mockWorkspace.__mockConfig.__inspect_data__;
  for (const key of Object.keys(data)) {
    delete data[key];
  }
  data['[*]'] = {
    defaultValue: nested(declaredDefaults()),
    globalValue: nested(settings.user ?? {}),
    workspaceValue: nested(settings.workspace ?? {}),
  };
}

/**
 * An executable that runs the fake server, as `sparkLsp.server.path` would name it, in a
 * temporary directory removed after the test file.
 */
export function fakeServerExecutable(): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-lsp-test-'));
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));
  const executable = path.join(directory, 'spark-lsp');
  const server = path.join(__dirname, 'fixtures', 'fakeServer.js');
  fs.writeFileSync(executable, `#!/bin/sh\nexec "${process.execPath}" "${server}" "$@"\n`);
  fs.chmodSync(executable, 0o755);
  return executable;
}

export function fakeOutputChannel(): vscode.LogOutputChannel {
  const log = jest.fn();
  return {
    name: 'spark-lsp',
    logLevel: 2,
    onDidChangeLogLevel: jest.fn(() => ({ dispose: jest.fn() })),
    trace: log,
    debug: log,
    info: log,
    warn: log,
    error: log,
    append: log,
    appendLine: log,
    replace: log,
    clear: jest.fn(),
    show: jest.fn(),
    hide: jest.fn(),
    dispose: jest.fn(),
  } as unknown as vscode.LogOutputChannel;
}

export function cancellationToken(): vscode.CancellationToken {
  return new CancellationTokenSource().token as unknown as vscode.CancellationToken;
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error('timed out waiting for a condition');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The first call's arguments of a jest mock, typed loosely. */
export function callsOf(mock: unknown): unknown[][] {
  return (mock as jest.Mock).mock.calls;
}
