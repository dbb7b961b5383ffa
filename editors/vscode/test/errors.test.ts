import * as vscode from 'vscode';
import { ErrorCodes, LSPErrorCodes, ResponseError } from 'vscode-languageclient';

import { describeServerError, showServerError } from '../src/errors';

test('ContentModified asks to run the action again, as a warning', () => {
  const message = describeServerError(
    new ResponseError(LSPErrorCodes.ContentModified, 'file:///a.py changed (version 3 -> 4)'),
  );
  expect(message.severity).toBe('warning');
  expect(message.text).toMatch(/document changed.*Run the action again/);
});

test('RequestCancelled is a quiet notice', () => {
  expect(
    describeServerError(new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled')),
  ).toEqual({
    severity: 'information',
    text: 'spark-lsp: cancelled.',
  });
  expect(describeServerError(new vscode.CancellationError()).severity).toBe('information');
});

test('RequestFailed shows the server message once prefixed', () => {
  expect(
    describeServerError(
      new ResponseError(LSPErrorCodes.RequestFailed, 'spark-lsp: the rewrite does not parse'),
    ),
  ).toEqual({ severity: 'error', text: 'spark-lsp: the rewrite does not parse' });
  expect(
    describeServerError(new ResponseError(LSPErrorCodes.RequestFailed, 'the model is not loaded')),
  ).toEqual({
    severity: 'error',
    text: 'spark-lsp: the model is not loaded',
  });
});

test('a dead connection says the server is not running; anything else keeps its message', () => {
  expect(
    describeServerError(new ResponseError(ErrorCodes.ConnectionInactive, 'Client is not running'))
      .text,
  ).toMatch(/server is not running/);
  expect(describeServerError(new ResponseError(ErrorCodes.InvalidParams, 'bad target'))).toEqual({
    severity: 'error',
    text: 'spark-lsp: bad target',
  });
  expect(describeServerError(new Error('boom')).text).toBe('spark-lsp: boom');
});

test('errors are shown with the matching message kind', () => {
  showServerError(new ResponseError(LSPErrorCodes.ContentModified, 'changed'));
  expect(vscode.window.showWarningMessage).toHaveBeenCalledTimes(1);
  showServerError(new ResponseError(LSPErrorCodes.RequestFailed, 'no'));
  expect(vscode.window.showErrorMessage).toHaveBeenCalledWith('spark-lsp: no');
  showServerError(new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled'));
  expect(vscode.window.showInformationMessage).toHaveBeenCalledWith('spark-lsp: cancelled.');
});
