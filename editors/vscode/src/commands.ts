/** The extension's commands: the edit and explain flows, statistics, the automatic toggle. */
import * as path from 'path';
import * as vscode from 'vscode';
import type { CodeAction, Command } from 'vscode-languageclient';

import { SparkServer } from './client';
import { AUTOMATIC_SETTING, readAutomatic, SECTION } from './config';
import { showServerError } from './errors';
import { ActionTarget, ClientCommand, isActionTarget, ServerCommand } from './protocol';
import { statisticsLines } from './statistics';

/** What the commands need from the session. */
export interface CommandSession {
  server(): SparkServer | undefined;
  restart(): Promise<void>;
  showOutput(): void;
}

export const NOT_RUNNING =
  'spark-lsp: the server is not running. Restart it from the status bar menu.';

function commandOf(action: Command | CodeAction): Command | undefined {
  return typeof action.command === 'string' ? (action as Command) : action.command;
}

/**
 * The target of the server's `serverCommand` action for the active editor's selection. Asking
 * the server, rather than building the target here, gives its choice of lines (the enclosing
 * function for an empty selection) and the document version it will check.
 */
export async function targetForSelection(
  server: SparkServer,
  serverCommand: string,
  what: string,
): Promise<ActionTarget | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    void vscode.window.showWarningMessage(`spark-lsp: open a file and select the code to ${what}.`);
    return undefined;
  }
  const actions = await server.codeActions(editor.document, editor.selection);
  const command = actions.map(commandOf).find((found) => found?.command === serverCommand);
  const target: unknown = command?.arguments?.[0];
  if (!isActionTarget(target)) {
    void vscode.window.showWarningMessage(`spark-lsp: there is no code here to ${what}.`);
    return undefined;
  }
  return target;
}

function lineSpan(target: ActionTarget): string {
  return target.last - target.first === 1
    ? `line ${target.first + 1}`
    : `lines ${target.first + 1}-${target.last}`;
}

/** Asks for an instruction, then has the server rewrite the target's lines and apply the edit. */
export async function editWithInstruction(server: SparkServer, argument?: unknown): Promise<void> {
  try {
    const target = isActionTarget(argument)
      ? argument
      : await targetForSelection(server, ServerCommand.editWithInstruction, 'edit');
    if (target === undefined) {
      return;
    }
    const instruction = await vscode.window.showInputBox({
      title: 'spark-lsp: Edit with instruction',
      prompt: `How should ${lineSpan(target)} change?`,
      placeHolder: 'for example: handle an empty list',
      ignoreFocusOut: true,
    });
    if (instruction === undefined || instruction.trim() === '') {
      return;
    }
    const answer = await server.executeCommand(ServerCommand.editWithInstruction, [
      target,
      instruction.trim(),
    ]);
    if ((answer as { applied?: unknown } | null)?.applied !== true) {
      void vscode.window.showWarningMessage(
        'spark-lsp: the edit was not applied (the document may have changed). Try again.',
      );
    }
  } catch (error) {
    showServerError(error);
  }
}

/** The explanation as an untitled Markdown document beside the code. */
export async function showExplanation(target: ActionTarget, markdown: string): Promise<void> {
  const file = path.posix.basename(vscode.Uri.parse(target.uri).path);
  const content = `# ${file}, ${lineSpan(target)}\n\n${markdown}\n`;
  const document = await vscode.workspace.openTextDocument({ language: 'markdown', content });
  await vscode.window.showTextDocument(document, {
    viewColumn: vscode.ViewColumn.Beside,
    preserveFocus: true,
    preview: true,
  });
}

export async function explain(server: SparkServer, argument?: unknown): Promise<void> {
  try {
    const target = isActionTarget(argument)
      ? argument
      : await targetForSelection(server, ServerCommand.explain, 'explain');
    if (target === undefined) {
      return;
    }
    const answer = await server.executeCommand(ServerCommand.explain, [target]);
    const markdown = (answer as { markdown?: unknown } | null)?.markdown;
    if (typeof markdown !== 'string') {
      void vscode.window.showErrorMessage('spark-lsp: the server sent no explanation.');
      return;
    }
    await showExplanation(target, markdown);
  } catch (error) {
    showServerError(error);
  }
}

export async function showStatistics(server: SparkServer): Promise<void> {
  try {
    const lines = statisticsLines(await server.executeCommand(ServerCommand.showStatistics, []));
    if (lines === undefined) {
      void vscode.window.showErrorMessage('spark-lsp: the server sent no statistics.');
      return;
    }
    await vscode.window.showQuickPick(
      lines.map((line) => ({ label: line.label, description: line.value })),
      { title: 'spark-lsp suggestion statistics (kept on this machine only)' },
    );
  } catch (error) {
    showServerError(error);
  }
}

/** Flips `sparkLsp.completion.automatic` where it is set (workspace, else user settings). */
export async function toggleAutomatic(): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const enabled = !readAutomatic(config);
  const inWorkspace = config.inspect(AUTOMATIC_SETTING)?.workspaceValue !== undefined;
  await config.update(
    AUTOMATIC_SETTING,
    enabled,
    inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global,
  );
  void vscode.window.showInformationMessage(
    enabled
      ? 'spark-lsp: automatic suggestions on.'
      : 'spark-lsp: automatic suggestions off; Alt+\\ (Trigger Inline Suggestion) still asks for one.',
  );
}

interface MenuItem extends vscode.QuickPickItem {
  run(): unknown;
}

export async function showMenu(session: CommandSession): Promise<void> {
  const automatic = readAutomatic(vscode.workspace.getConfiguration(SECTION));
  const items: MenuItem[] = [
    {
      label: automatic
        ? '$(circle-slash) Turn off automatic suggestions'
        : '$(sparkle) Turn on automatic suggestions',
      run: () => vscode.commands.executeCommand(ClientCommand.toggleAutomatic),
    },
    {
      label: '$(graph) Show suggestion statistics',
      run: () => vscode.commands.executeCommand(ClientCommand.showStatistics),
    },
    {
      label: '$(debug-restart) Restart the server',
      run: () => vscode.commands.executeCommand(ClientCommand.restartServer),
    },
    { label: '$(output) Show the output', run: () => session.showOutput() },
    {
      label: '$(gear) Open settings',
      run: () => vscode.commands.executeCommand('workbench.action.openSettings', SECTION),
    },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'spark-lsp' });
  await picked?.run();
}

function withServer(
  session: CommandSession,
  run: (server: SparkServer, ...args: unknown[]) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const server = session.server();
    if (server === undefined) {
      void vscode.window.showErrorMessage(NOT_RUNNING);
      return;
    }
    await run(server, ...args);
  };
}

export function registerCommands(session: CommandSession): vscode.Disposable[] {
  const handlers: Record<string, (...args: unknown[]) => unknown> = {
    [ClientCommand.editWithInstruction]: withServer(session, editWithInstruction),
    [ClientCommand.explain]: withServer(session, explain),
    [ClientCommand.showStatistics]: withServer(session, showStatistics),
    [ClientCommand.toggleAutomatic]: toggleAutomatic,
    [ClientCommand.restartServer]: () => session.restart(),
    [ClientCommand.showMenu]: () => showMenu(session),
  };
  return Object.entries(handlers).map(([command, handler]) =>
    vscode.commands.registerCommand(command, handler),
  );
}
