/** Entry point: wires the settings, the status bar, the server session and the commands. */
import * as vscode from 'vscode';

import { registerCommands } from './commands';
import {
  buildServerOptions,
  declaredServerOptions,
  readAutomatic,
  readNextEditSettings,
  readServerLaunch,
  SECTION,
  SERVER_GROUPS,
} from './config';
import { NextEditController } from './nextEdit';
import { ClientCommand } from './protocol';
import { SparkSession } from './session';
import { SparkStatusBar } from './status';

const RESTART = 'Restart';

let activeSession: SparkSession | undefined; // for deactivate, which gets no context

function configuration(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

export function activate(context: vscode.ExtensionContext): void {
  const outputChannel = vscode.window.createOutputChannel('spark-lsp', { log: true });
  const status = new SparkStatusBar(readAutomatic(configuration()));
  const declared = declaredServerOptions(context.extension.packageJSON);
  const session = new SparkSession({
    outputChannel,
    status,
    launch: () => readServerLaunch(configuration()),
    serverOptions: () => buildServerOptions(configuration(), declared),
    workspaceRoot: () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
  });
  activeSession = session;
  const nextEdits = new NextEditController({
    request: (document, position, token) => session.server()?.nextEdit(document, position, token),
    accepted: (command, args) => void session.server()?.executeCommand(command, args),
    settings: () => readNextEditSettings(configuration()),
    log: (message) => outputChannel.debug(message),
  });
  context.subscriptions.push(
    outputChannel,
    status,
    session,
    nextEdits,
    vscode.commands.registerCommand(ClientCommand.nextEditJumpOrAccept, () =>
      nextEdits.jumpOrAccept(),
    ),
    vscode.commands.registerCommand(ClientCommand.nextEditDismiss, () => nextEdits.dismiss()),
    ...registerCommands({
      server: () => session.server(),
      restart: () => session.restart(),
      showOutput: () => outputChannel.show(),
    }),
    vscode.workspace.onDidChangeConfiguration((event) =>
      onConfigurationChanged(event, session, status),
    ),
  );
  void session.start(); // the model loads in the background; activation does not wait
}

export function onConfigurationChanged(
  event: vscode.ConfigurationChangeEvent,
  session: SparkSession,
  status: SparkStatusBar,
): void {
  if (event.affectsConfiguration(`${SECTION}.server`)) {
    void vscode.window
      .showInformationMessage('spark-lsp: restart the server to use the new command?', RESTART)
      .then((choice) => (choice === RESTART ? session.restart() : undefined));
  }
  if (SERVER_GROUPS.some((group) => event.affectsConfiguration(`${SECTION}.${group}`))) {
    status.showAutomatic(readAutomatic(configuration()));
    void session.sendOptions();
  }
}

export function deactivate(): Promise<void> | undefined {
  const session = activeSession;
  activeSession = undefined;
  return session?.stop();
}
