/**
 * Language client middleware: where VS Code's default handling of the server's answers is not
 * what spark-lsp needs.
 *
 * - The Explain and Edit-with-instruction code actions carry server commands whose answer VS Code
 *   would drop (the explanation) or that need an argument from the user (the instruction); they
 *   are routed to this extension's commands instead.
 * - Resolving a code action can fail with a message the user must read ("the rewrite does not
 *   parse"); the client's default shows only "Request codeAction/resolve failed".
 * - VS Code does not tell the server that a suggestion was shown; the first item returned is
 *   reported with `textDocument/didShowCompletion` for the local statistics.
 * - A `workspace/configuration` pull for `sparkLsp` gets the server's options only, the same as
 *   initializationOptions, never the client-only settings.
 */
import * as vscode from 'vscode';
import { BaseLanguageClient, CodeActionResolveRequest, Middleware } from 'vscode-languageclient';

import { SECTION, ServerOptions } from './config';
import { showServerError } from './errors';
import { ClientCommand, DID_SHOW_COMPLETION, ServerCommand } from './protocol';

/** Server commands that this extension runs itself, by the client command that does it. */
export const ROUTED_COMMANDS: Readonly<Record<string, string>> = {
  [ServerCommand.explain]: ClientCommand.explain,
  [ServerCommand.editWithInstruction]: ClientCommand.editWithInstruction,
};

const CLIENT_COMMANDS = new Set(Object.values(ROUTED_COMMANDS));

export interface MiddlewareDependencies {
  /** The running client, if any. */
  client(): BaseLanguageClient | undefined;
  serverOptions(): ServerOptions;
}

function routeCommand(command: vscode.Command): vscode.Command {
  const clientCommand = ROUTED_COMMANDS[command.command];
  return clientCommand === undefined ? command : { ...command, command: clientCommand };
}

function isCodeAction(item: vscode.Command | vscode.CodeAction): item is vscode.CodeAction {
  return typeof item.command !== 'string';
}

/** The actions with the routed server commands replaced by this extension's commands. */
export function routeActionCommands(
  actions: (vscode.Command | vscode.CodeAction)[] | null | undefined,
): (vscode.Command | vscode.CodeAction)[] | null | undefined {
  if (!actions) {
    return actions;
  }
  return actions.map((item) => {
    if (!isCodeAction(item)) {
      return routeCommand(item);
    }
    // Keep the action object itself: the client needs it (and its data) to resolve it.
    if (item.command !== undefined) {
      item.command = routeCommand(item.command);
    }
    return item;
  });
}

function firstItem(
  result: vscode.InlineCompletionItem[] | vscode.InlineCompletionList | null | undefined,
): vscode.InlineCompletionItem | undefined {
  if (!result) {
    return undefined;
  }
  return Array.isArray(result) ? result[0] : result.items[0];
}

/** The item as the server sent it, enough for the server to recognise it. */
export function asProtocolItem(
  item: vscode.InlineCompletionItem,
  client: BaseLanguageClient,
): Record<string, unknown> {
  const insertText = typeof item.insertText === 'string' ? item.insertText : item.insertText.value;
  const protocolItem: Record<string, unknown> = { insertText };
  if (item.range !== undefined) {
    protocolItem.range = client.code2ProtocolConverter.asRange(item.range);
  }
  if (item.command !== undefined) {
    protocolItem.command = {
      title: item.command.title,
      command: item.command.command,
      arguments: item.command.arguments,
    };
  }
  return { item: protocolItem };
}

export function createMiddleware(dependencies: MiddlewareDependencies): Middleware {
  return {
    provideCodeActions: async (document, range, context, token, next) =>
      routeActionCommands(await next(document, range, context, token)),

    resolveCodeAction: async (item, token, next) => {
      if (item.command !== undefined && CLIENT_COMMANDS.has(item.command.command)) {
        return item; // the command does the work: nothing to resolve
      }
      const client = dependencies.client();
      if (client === undefined) {
        return next(item, token);
      }
      try {
        const resolved = await client.sendRequest(
          CodeActionResolveRequest.type,
          client.code2ProtocolConverter.asCodeActionSync(item),
          token,
        );
        if (token.isCancellationRequested) {
          return item;
        }
        return (await client.protocol2CodeConverter.asCodeAction(resolved, token)) ?? item;
      } catch (error) {
        if (!token.isCancellationRequested) {
          showServerError(error);
        }
        return item; // without an edit: nothing is applied
      }
    },

    executeCommand: async (command, args, next) => {
      const clientCommand = ROUTED_COMMANDS[command];
      if (clientCommand !== undefined) {
        return vscode.commands.executeCommand(clientCommand, ...args);
      }
      return next(command, args);
    },

    provideInlineCompletionItems: async (document, position, context, token, next) => {
      const result = await next(document, position, context, token);
      const shown = firstItem(result);
      const client = dependencies.client();
      if (shown !== undefined && client !== undefined && !token.isCancellationRequested) {
        void client
          .sendNotification(DID_SHOW_COMPLETION, asProtocolItem(shown, client))
          .catch(() => undefined); // statistics only: a stopped client loses nothing
      }
      return result;
    },

    workspace: {
      configuration: async (params, token, next) => {
        const values = await next(params, token);
        if (!Array.isArray(values)) {
          return values;
        }
        return params.items.map((item, index) =>
          item.section === SECTION ? dependencies.serverOptions() : values[index],
        );
      },
    },
  };
}
