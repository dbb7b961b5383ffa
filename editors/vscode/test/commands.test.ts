import { createMockTextEditor, createTextDocument } from 'jest-mock-vscode';
import * as vscode from 'vscode';
import { LSPErrorCodes, ResponseError } from 'vscode-languageclient';

import { SparkServer } from '../src/client';
import {
  editWithInstruction,
  explain,
  NOT_RUNNING,
  registerCommands,
  showStatistics,
  toggleAutomatic,
} from '../src/commands';
import { SECTION } from '../src/config';
import { ActionTarget } from '../src/protocol';
import { callsOf, setSettings } from './helpers';

const target: ActionTarget = {
  uri: 'file:///project/calc.py',
  version: 3,
  first: 4,
  last: 9,
  action: 'edit',
  message: '',
};

function fakeServer(answer: unknown = { applied: true }): jest.Mocked<SparkServer> {
  return {
    executeCommand: jest.fn<Promise<unknown>, [string, unknown[]]>(async () => answer),
    codeActions: jest.fn<
      ReturnType<SparkServer['codeActions']>,
      [vscode.TextDocument, vscode.Range]
    >(async () => [
      { title: 'spark-lsp: Add docstring', data: { ...target, action: 'docstring' } },
      {
        title: 'spark-lsp: Explain',
        command: {
          title: 'Explain',
          command: 'spark-lsp.explain',
          arguments: [{ ...target, action: 'explain' }],
        },
      },
      {
        title: 'spark-lsp: Edit with instruction...',
        command: { title: 'Edit', command: 'spark-lsp.editWithInstruction', arguments: [target] },
      },
    ]),
    nextEdit: jest.fn<
      Promise<unknown>,
      [vscode.TextDocument, vscode.Position, vscode.CancellationToken]
    >(async () => ({ edits: [] })),
  };
}

function answerInput(value: string | undefined): void {
  (vscode.window.showInputBox as jest.Mock).mockResolvedValueOnce(value);
}

function openEditor(): vscode.TextEditor {
  const document = createTextDocument(vscode.Uri.file('/project/calc.py'), 'x = 1\n', 'python');
  const editor = createMockTextEditor(jest, document, undefined, new vscode.Selection(4, 0, 8, 3));
  (vscode.window as { activeTextEditor?: unknown }).activeTextEditor = editor;
  return editor as unknown as vscode.TextEditor;
}

afterEach(() => {
  (vscode.window as { activeTextEditor?: unknown }).activeTextEditor = undefined;
});

describe('edit with instruction', () => {
  test('asks for the instruction, then runs the server command with [target, instruction]', async () => {
    const server = fakeServer();
    answerInput('  use pathlib  ');
    await editWithInstruction(server, target);
    expect(vscode.window.showInputBox).toHaveBeenCalledWith(
      expect.objectContaining({ prompt: 'How should lines 5-9 change?' }),
    );
    expect(server.executeCommand).toHaveBeenCalledWith('spark-lsp.editWithInstruction', [
      target,
      'use pathlib',
    ]);
    expect(vscode.window.showWarningMessage).not.toHaveBeenCalled();
  });

  test.each([undefined, '', '   '])('stops when the input is %p', async (input) => {
    const server = fakeServer();
    answerInput(input);
    await editWithInstruction(server, target);
    expect(server.executeCommand).not.toHaveBeenCalled();
  });

  test('from the palette, takes the target of the server action for the selection', async () => {
    const server = fakeServer();
    const editor = openEditor();
    answerInput('rename x');
    await editWithInstruction(server, editor.document.uri); // what a context menu passes
    expect(server.codeActions).toHaveBeenCalledWith(editor.document, editor.selection);
    expect(server.executeCommand).toHaveBeenCalledWith('spark-lsp.editWithInstruction', [
      target,
      'rename x',
    ]);
  });

  test('without an editor, or without an edit action, says so and asks nothing', async () => {
    const server = fakeServer();
    await editWithInstruction(server);
    expect(vscode.window.showWarningMessage).toHaveBeenCalledWith(
      expect.stringMatching(/open a file/),
    );
    openEditor();
    server.codeActions.mockResolvedValueOnce([]);
    await editWithInstruction(server);
    expect(vscode.window.showWarningMessage).toHaveBeenLastCalledWith(
      expect.stringMatching(/no code here to edit/),
    );
    expect(vscode.window.showInputBox).not.toHaveBeenCalled();
  });

  test('an edit the editor did not apply is reported', async () => {
    const server = fakeServer({ applied: false });
    answerInput('rename x');
    await editWithInstruction(server, target);
    expect(vscode.window.showWarningMessage).toHaveBeenCalledWith(
      expect.stringMatching(/not applied/),
    );
  });

  test.each([
    [LSPErrorCodes.ContentModified, 'showWarningMessage', /document changed/],
    [LSPErrorCodes.RequestFailed, 'showErrorMessage', /the rewrite does not parse/],
    [LSPErrorCodes.RequestCancelled, 'showInformationMessage', /cancelled/],
  ] as const)('server error %d becomes a %s', async (code, kind, text) => {
    const server = fakeServer();
    server.executeCommand.mockRejectedValueOnce(
      new ResponseError(code, 'spark-lsp: the rewrite does not parse (it would add syntax errors)'),
    );
    answerInput('rename x');
    await expect(editWithInstruction(server, target)).resolves.toBeUndefined();
    expect(vscode.window[kind]).toHaveBeenCalledWith(expect.stringMatching(text));
  });
});

describe('explain', () => {
  test('shows the markdown beside the code', async () => {
    const server = fakeServer({ markdown: 'Adds **a** and **b**.' });
    const openTextDocument = jest.spyOn(vscode.workspace, 'openTextDocument');
    const showTextDocument = jest.spyOn(vscode.window, 'showTextDocument');
    const explainTarget = { ...target, action: 'explain' };
    await explain(server, explainTarget);
    expect(server.executeCommand).toHaveBeenCalledWith('spark-lsp.explain', [explainTarget]);
    expect(openTextDocument).toHaveBeenCalledWith({
      language: 'markdown',
      content: '# calc.py, lines 5-9\n\nAdds **a** and **b**.\n',
    });
    expect(showTextDocument).toHaveBeenCalledWith(
      expect.anything(),
      expect.objectContaining({ viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }),
    );
  });

  test('from the palette, uses the Explain action of the selection', async () => {
    const server = fakeServer({ markdown: 'ok' });
    openEditor();
    await explain(server);
    expect(server.executeCommand).toHaveBeenCalledWith('spark-lsp.explain', [
      { ...target, action: 'explain' },
    ]);
  });

  test('an answer without markdown is an error, not a blank document', async () => {
    const server = fakeServer({ text: 'no markdown' });
    const openTextDocument = jest.spyOn(vscode.workspace, 'openTextDocument');
    await explain(server, target);
    expect(openTextDocument).not.toHaveBeenCalled();
    expect(vscode.window.showErrorMessage).toHaveBeenCalledWith(
      'spark-lsp: the server sent no explanation.',
    );
  });
});

test('statistics are listed as label and value', async () => {
  const server = fakeServer({ suggested: 10, accepted: 4, latencyP50Ms: 95 });
  await showStatistics(server);
  expect(server.executeCommand).toHaveBeenCalledWith('spark-lsp.showStatistics', []);
  expect(vscode.window.showQuickPick).toHaveBeenCalledWith(
    [
      { label: 'Suggested', description: '10' },
      { label: 'Accepted', description: '4' },
      { label: 'Latency p50', description: '95 ms' },
    ],
    expect.objectContaining({ title: expect.stringContaining('statistics') }),
  );
});

describe('toggle automatic', () => {
  const automatic = () => vscode.workspace.getConfiguration(SECTION).get('completion.automatic');

  test('flips the user setting', async () => {
    setSettings();
    await toggleAutomatic();
    expect(automatic()).toBe(false);
    expect(
      vscode.workspace.getConfiguration(SECTION).inspect('completion.automatic')?.globalValue,
    ).toBe(false);
    await toggleAutomatic();
    expect(automatic()).toBe(true);
  });

  test('flips the workspace setting when the workspace sets it', async () => {
    setSettings({ workspace: { 'sparkLsp.completion.automatic': false } });
    await toggleAutomatic();
    const inspected = vscode.workspace.getConfiguration(SECTION).inspect('completion.automatic');
    expect(inspected?.workspaceValue).toBe(true);
    expect(inspected?.globalValue).toBeUndefined();
    expect(automatic()).toBe(true);
  });
});

test('commands that need the server say when it is not running', async () => {
  registerCommands({ server: () => undefined, restart: jest.fn(), showOutput: jest.fn() });
  const registered = new Map(
    callsOf(vscode.commands.registerCommand) as [string, (...args: unknown[]) => unknown][],
  );
  expect([...registered.keys()].sort()).toEqual([
    'sparkLsp.editWithInstruction',
    'sparkLsp.explain',
    'sparkLsp.restartServer',
    'sparkLsp.showMenu',
    'sparkLsp.showStatistics',
    'sparkLsp.toggleAutomatic',
  ]);
  await registered.get('sparkLsp.explain')!(target);
  expect(vscode.window.showErrorMessage).toHaveBeenCalledWith(NOT_RUNNING);
});

test('the menu runs the picked entry', async () => {
  const restart = jest.fn(async () => undefined);
  const showOutput = jest.fn();
  registerCommands({ server: () => undefined, restart, showOutput });
  const registered = new Map(
    callsOf(vscode.commands.registerCommand) as [string, (...args: unknown[]) => unknown][],
  );
  (vscode.window.showQuickPick as jest.Mock).mockImplementationOnce(
    async (items: vscode.QuickPickItem[]) => items.find((item) => item.label.includes('output')),
  );
  await registered.get('sparkLsp.showMenu')!();
  expect(showOutput).toHaveBeenCalled();
  await registered.get('sparkLsp.restartServer')!();
  expect(restart).toHaveBeenCalled();
});
