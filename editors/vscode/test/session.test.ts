/**
 * The real vscode-languageclient against a fake spark-lsp process: what the server receives
 * (initializationOptions, configuration, didShowCompletion) and what the middleware makes of
 * its answers (code actions, resolve errors, status notifications).
 */
import { createTextDocument } from 'jest-mock-vscode';
import * as vscode from 'vscode';

import {
  buildServerOptions,
  declaredServerOptions,
  readServerLaunch,
  SECTION,
} from '../src/config';
import { SparkSession } from '../src/session';
import { SparkStatusBar } from '../src/status';
import {
  callsOf,
  cancellationToken,
  fakeOutputChannel,
  fakeServerExecutable,
  packageJson,
  setSettings,
  waitFor,
} from './helpers';

interface Received {
  method: string;
  params: any;
}

const executable = fakeServerExecutable();
let session: SparkSession;
let status: SparkStatusBar;

function startSession(): Promise<void> {
  const configuration = () => vscode.workspace.getConfiguration(SECTION);
  status = new SparkStatusBar(true);
  session = new SparkSession({
    outputChannel: fakeOutputChannel(),
    status,
    launch: () => readServerLaunch(configuration()),
    serverOptions: () => buildServerOptions(configuration(), declaredServerOptions(packageJson)),
    workspaceRoot: () => undefined,
  });
  return session.start();
}

/** Everything the fake server received so far. */
async function received(): Promise<Received[]> {
  return session.languageClient!.sendRequest<Received[]>('test/received');
}

async function receivedOne(method: string): Promise<Received> {
  return waitFor(async () => (await received()).find((message) => message.method === method));
}

function sendFromServer(method: string, params: unknown): Promise<unknown> {
  return session.languageClient!.sendRequest('test/notify', { method, params });
}

function registeredProvider<T>(register: unknown): T {
  const calls = callsOf(register);
  expect(calls.length).toBeGreaterThan(0);
  return calls[calls.length - 1][1] as T;
}

const document = createTextDocument(
  vscode.Uri.file('/project/calc.py'),
  'def add(a, b):\n    pass\n',
  'python',
);

/** The registered code action provider and what it offers for the document's first line. */
async function codeActionsOnFirstLine(): Promise<{
  provider: vscode.CodeActionProvider;
  actions: vscode.CodeAction[];
}> {
  const provider = registeredProvider<vscode.CodeActionProvider>(
    vscode.languages.registerCodeActionsProvider,
  );
  const actions = (await provider.provideCodeActions(
    document,
    new vscode.Range(0, 0, 1, 0),
    { diagnostics: [], triggerKind: 1, only: undefined } as unknown as vscode.CodeActionContext,
    cancellationToken(),
  )) as vscode.CodeAction[];
  return { provider, actions };
}

beforeEach(async () => {
  jest.clearAllMocks();
  setSettings({
    user: { 'sparkLsp.server.path': executable, 'sparkLsp.engine.nCtx': 4096 },
    workspace: { 'sparkLsp.completion.debounceMs': 80 },
  });
  await startSession();
});

afterEach(async () => {
  await session.stop();
});

test('the server starts with the options nested by group, client-only settings left out', async () => {
  const initialize = await receivedOne('initialize');
  const options = initialize.params.initializationOptions;
  expect(Object.keys(options).sort()).toEqual(['actions', 'completion', 'context', 'engine']);
  expect(options.completion).toEqual({
    automatic: true,
    debounceMs: 80,
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
  expect(options.context.maxPromptTokens).toBe(131072);
  expect(options.engine).toEqual({ nCtx: 4096 });
  expect(JSON.stringify(options)).not.toMatch(/server|trace|path/);
  expect(session.server()).toBeDefined();
});

test('the server is launched as `serve` with the configured arguments', async () => {
  await session.stop();
  setSettings({
    user: { 'sparkLsp.server.path': executable, 'sparkLsp.server.args': ['--log-level', 'debug'] },
  });
  await session.start();
  const initialize = await receivedOne('initialize');
  expect(initialize.params.argv).toEqual(['serve', '--log-level', 'debug']);
});

test('changed settings reach the server through workspace/didChangeConfiguration', async () => {
  setSettings({
    user: { 'sparkLsp.server.path': executable, 'sparkLsp.completion.automatic': false },
  });
  await session.sendOptions();
  const change = await receivedOne('workspace/didChangeConfiguration');
  expect(change.params.settings[SECTION].completion.automatic).toBe(false);
  expect(Object.keys(change.params.settings[SECTION]).sort()).toEqual([
    'actions',
    'completion',
    'context',
    'engine',
  ]);
});

test('a workspace/configuration pull gets the server options, not the raw section', async () => {
  const [options] = await session.languageClient!.sendRequest<unknown[]>('test/pullConfiguration', [
    { section: SECTION },
  ]);
  expect(Object.keys(options as object).sort()).toEqual(['actions', 'completion', 'context', 'engine']);
});

test('spark/status notifications drive the status bar', async () => {
  await waitFor(() => (status.current.phase === 'running' ? true : undefined));
  await sendFromServer('spark/status', {
    state: 'loading',
    message: 'loading the model',
    percentage: 40,
  });
  await waitFor(() => (status.current.server?.state === 'loading' ? true : undefined));
  const item = (vscode.window.createStatusBarItem as jest.Mock).mock.results.at(-1)!.value;
  expect(item.text).toBe('$(loading~spin) spark 40%');
  await sendFromServer('spark/status', { state: 'ready', message: 'ready', latencyMs: 120 });
  await waitFor(() => (status.current.server?.state === 'ready' ? true : undefined));
  expect(item.text).toBe('$(sparkle) spark 120 ms');
});

test('Explain and Edit with instruction actions run the extension commands', async () => {
  const { provider, actions } = await codeActionsOnFirstLine();
  const byTitle = new Map(actions.map((action) => [action.title, action]));
  const explain = byTitle.get('spark-lsp: Explain')!;
  expect(explain.command!.command).toBe('sparkLsp.explain');
  expect(explain.command!.arguments).toEqual([
    expect.objectContaining({ action: 'explain', uri: document.uri.toString(), version: 3 }),
  ]);
  const edit = byTitle.get('spark-lsp: Edit with instruction...')!;
  expect(edit.command!.command).toBe('sparkLsp.editWithInstruction');
  expect(byTitle.get('spark-lsp: Add docstring')!.command).toBeUndefined();

  // Nothing to resolve for a routed command: the server is not asked.
  expect(await provider.resolveCodeAction!(explain, cancellationToken())).toBe(explain);
  const resolved = await provider.resolveCodeAction!(
    byTitle.get('spark-lsp: Add docstring')!,
    cancellationToken(),
  );
  expect(resolved!.edit).toBeDefined();
  const resolves = (await received()).filter((message) => message.method === 'codeAction/resolve');
  expect(resolves.map((message) => message.params.data.action)).toEqual(['docstring']);
});

test('a failed resolve shows the server message and applies nothing', async () => {
  const { provider, actions } = await codeActionsOnFirstLine();
  const simplify = actions.find((action) => action.title === 'spark-lsp: Simplify')!;
  const resolved = await provider.resolveCodeAction!(simplify, cancellationToken());
  expect(resolved!.edit).toBeUndefined();
  expect(vscode.window.showErrorMessage).toHaveBeenCalledWith(
    'spark-lsp: the rewrite does not parse (it would add syntax errors); nothing was changed',
  );
});

test('a server command run by VS Code goes to the extension command', async () => {
  const registered = callsOf(vscode.commands.registerCommand).find(
    ([command]) => command === 'spark-lsp.explain',
  );
  expect(registered).toBeDefined();
  const target = {
    uri: 'file:///project/calc.py',
    version: 3,
    first: 0,
    last: 2,
    action: 'explain',
    message: '',
  };
  await (registered![1] as (...args: unknown[]) => Promise<unknown>)(target);
  expect(vscode.commands.executeCommand).toHaveBeenCalledWith('sparkLsp.explain', target);
});

test('inline completions come through, and the shown item is reported', async () => {
  const provider = registeredProvider<vscode.InlineCompletionItemProvider>(
    vscode.languages.registerInlineCompletionItemProvider,
  );
  const result = await provider.provideInlineCompletionItems(
    document,
    new vscode.Position(1, 4),
    {
      triggerKind: 1,
      selectedCompletionInfo: undefined,
    } as unknown as vscode.InlineCompletionContext,
    cancellationToken(),
  );
  const items = Array.isArray(result) ? result : result!.items;
  expect(items[0].insertText).toBe('return a + b');
  expect(items[0].command!.command).toBe('spark-lsp.didAcceptCompletionItem');
  const shown = await receivedOne('textDocument/didShowCompletion');
  expect(shown.params.item.command).toEqual({
    title: 'Accept suggestion',
    command: 'spark-lsp.didAcceptCompletionItem',
    arguments: [7],
  });
  expect(shown.params.item.insertText).toBe('return a + b');
  expect(shown.params.item.range).toEqual({
    start: { line: 1, character: 4 },
    end: { line: 1, character: 4 },
  });
});

test('the session executes server commands and stops cleanly', async () => {
  const server = session.server()!;
  await expect(server.executeCommand('spark-lsp.explain', [{}])).resolves.toEqual({
    markdown: 'Adds **a** and **b**.',
  });
  await session.stop();
  expect(session.server()).toBeUndefined();
  expect(status.current.phase).toBe('stopped');
});
