/** Errors from the server, as messages a user can act on (never a stack trace). */
import * as vscode from 'vscode';
import { ErrorCodes, LSPErrorCodes } from 'vscode-languageclient';

export type Severity = 'information' | 'warning' | 'error';

export interface UserMessage {
  severity: Severity;
  text: string;
}

const PREFIX = 'spark-lsp: ';

function withPrefix(text: string): string {
  return text.startsWith(PREFIX) ? text : PREFIX + text;
}

function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function errorText(error: unknown): string {
  if (error instanceof Error || typeof (error as { message?: unknown })?.message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}

/** How to tell the user that a request to the server failed. */
export function describeServerError(error: unknown): UserMessage {
  switch (errorCode(error)) {
    case LSPErrorCodes.ContentModified:
      return {
        severity: 'warning',
        text: 'spark-lsp: the document changed while the model was working, so nothing was changed. Run the action again.',
      };
    case LSPErrorCodes.RequestCancelled:
    case LSPErrorCodes.ServerCancelled:
      return { severity: 'information', text: 'spark-lsp: cancelled.' };
    case LSPErrorCodes.RequestFailed:
      return { severity: 'error', text: withPrefix(errorText(error)) };
    case ErrorCodes.ConnectionInactive:
    case ErrorCodes.PendingResponseRejected:
      return {
        severity: 'error',
        text: 'spark-lsp: the server is not running. Restart it from the status bar menu.',
      };
  }
  if (error instanceof vscode.CancellationError) {
    return { severity: 'information', text: 'spark-lsp: cancelled.' };
  }
  return { severity: 'error', text: withPrefix(errorText(error)) };
}

export function showUserMessage(message: UserMessage): void {
  const show = {
    information: vscode.window.showInformationMessage,
    warning: vscode.window.showWarningMessage,
    error: vscode.window.showErrorMessage,
  }[message.severity];
  void show(message.text);
}

export function showServerError(error: unknown): void {
  showUserMessage(describeServerError(error));
}
