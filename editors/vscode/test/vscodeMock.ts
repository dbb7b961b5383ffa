/**
 * The `vscode` module under test: jest-mock-vscode, plus the few API pieces it lacks that this
 * extension and vscode-languageclient use.
 */
import { createVSCodeMock } from 'jest-mock-vscode';
import { CancellationTokenSource } from 'vscode-jsonrpc';

const vscode = createVSCodeMock(jest) as unknown as Record<string, unknown>;

class InlineCompletionItem {
  filterText?: string;
  constructor(
    public insertText: unknown,
    public range?: unknown,
    public command?: unknown,
  ) {}
}

class InlineCompletionList {
  constructor(public items: InlineCompletionItem[]) {}
}

class InlayHint {
  constructor(
    public position: unknown,
    public label: unknown,
    public kind?: unknown,
  ) {}
}

class CancellationError extends Error {
  constructor() {
    super('Canceled');
    this.name = 'Canceled';
  }
}

Object.assign(vscode, {
  InlineCompletionItem,
  InlineCompletionList,
  CancellationError,
  CancellationTokenSource,
  InlayHint,
  CodeActionTriggerKind: { Invoke: 1, Automatic: 2 },
  InlineCompletionTriggerKind: { Invoke: 0, Automatic: 1 },
  env: {
    appName: 'Visual Studio Code (mock)',
    language: 'en',
    machineId: 'test-machine',
    sessionId: 'test-session',
    uriScheme: 'vscode',
    clipboard: { readText: jest.fn(async () => ''), writeText: jest.fn(async () => undefined) },
    openExternal: jest.fn(async () => true),
  },
});

export = vscode;
