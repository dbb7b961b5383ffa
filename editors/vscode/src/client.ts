/** The language client for one server process, and the requests the commands make through it. */
import * as vscode from 'vscode';
import {
  BaseLanguageClient,
  CodeAction,
  CodeActionRequest,
  CodeActionTriggerKind,
  Command,
  ExecuteCommandRequest,
  LanguageClientOptions,
  Middleware,
  RevealOutputChannelOn,
} from 'vscode-languageclient';
import { Executable, LanguageClient } from 'vscode-languageclient/node';

import { ServerLaunch, ServerOptions } from './config';
import { NEXT_EDIT_REQUEST } from './protocol';

export const CLIENT_ID = 'sparkLsp'; // also the prefix of the `sparkLsp.trace.server` setting
export const CLIENT_NAME = 'spark-lsp';

export interface ClientDependencies {
  outputChannel: vscode.LogOutputChannel;
  middleware: Middleware;
  /** Read when the server starts, so that a restart picks up changed settings. */
  serverOptions(): ServerOptions;
}

export function createLanguageClient(
  launch: ServerLaunch,
  cwd: string | undefined,
  dependencies: ClientDependencies,
): LanguageClient {
  const executable: Executable = {
    command: launch.command,
    args: ['serve', ...launch.args],
    options: cwd === undefined ? undefined : { cwd },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    outputChannel: dependencies.outputChannel,
    // Failed requests are logged, not popped up: a failing automatic suggestion must not
    // interrupt typing. The commands show their own errors.
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: () => dependencies.serverOptions(),
    middleware: dependencies.middleware,
  };
  return new LanguageClient(CLIENT_ID, CLIENT_NAME, executable, clientOptions);
}

/** What the commands ask of a running server. */
export interface SparkServer {
  executeCommand(command: string, args: unknown[]): Promise<unknown>;
  /** The server's code actions for a range, as the protocol has them. */
  codeActions(
    document: vscode.TextDocument,
    range: vscode.Range,
  ): Promise<(Command | CodeAction)[]>;
  /** The server's next-edit answer for the document (`spark/nextEdit`), unchecked. */
  nextEdit(
    document: vscode.TextDocument,
    position: vscode.Position,
    token: vscode.CancellationToken,
  ): Promise<unknown>;
}

export function asSparkServer(client: BaseLanguageClient): SparkServer {
  return {
    executeCommand: (command, args) =>
      client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }),
    codeActions: async (document, range) =>
      (await client.sendRequest(CodeActionRequest.type, {
        textDocument: client.code2ProtocolConverter.asTextDocumentIdentifier(document),
        range: client.code2ProtocolConverter.asRange(range),
        context: { diagnostics: [], triggerKind: CodeActionTriggerKind.Invoked },
      })) ?? [],
    nextEdit: (document, position, token) =>
      client.sendRequest(
        NEXT_EDIT_REQUEST,
        {
          textDocument: client.code2ProtocolConverter.asVersionedTextDocumentIdentifier(document),
          position: client.code2ProtocolConverter.asPosition(position),
        },
        token,
      ),
  };
}
