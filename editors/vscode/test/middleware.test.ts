import * as vscode from 'vscode';
import { BaseLanguageClient, CancellationTokenSource } from 'vscode-languageclient';

import { createMiddleware, routeActionCommands } from '../src/middleware';
import { cancellationToken } from './helpers';

const target = {
  uri: 'file:///a.py',
  version: 1,
  first: 0,
  last: 2,
  action: 'explain',
  message: '',
};

function middlewareWith(client?: Partial<BaseLanguageClient>) {
  return createMiddleware({
    client: () => client as BaseLanguageClient | undefined,
    serverOptions: () => ({ actions: {}, completion: { automatic: true }, context: {}, engine: {} }),
  });
}

test('explain and edit commands are routed, other actions are left alone', () => {
  const explainAction = new vscode.CodeAction('spark-lsp: Explain');
  explainAction.command = { title: 'Explain', command: 'spark-lsp.explain', arguments: [target] };
  const docstring = new vscode.CodeAction('spark-lsp: Add docstring');
  const bareEdit: vscode.Command = {
    title: 'Edit with instruction...',
    command: 'spark-lsp.editWithInstruction',
    arguments: [target],
  };
  const other: vscode.Command = { title: 'Other', command: 'other.command' };
  const routed = routeActionCommands([explainAction, docstring, bareEdit, other])!;
  expect(routed[0]).toBe(explainAction); // the same object, so that the client can resolve it
  expect(explainAction.command).toEqual({
    title: 'Explain',
    command: 'sparkLsp.explain',
    arguments: [target],
  });
  expect(routed[1]).toBe(docstring);
  expect(docstring.command).toBeUndefined();
  expect(routed[2]).toEqual({ ...bareEdit, command: 'sparkLsp.editWithInstruction' });
  expect(routed[3]).toBe(other);
  expect(routeActionCommands(null)).toBeNull();
});

test('executeCommand runs routed server commands as extension commands, others on the server', async () => {
  const middleware = middlewareWith();
  const next = jest.fn(async () => 'from server');
  await middleware.executeCommand!('spark-lsp.editWithInstruction', [target], next);
  expect(vscode.commands.executeCommand).toHaveBeenCalledWith(
    'sparkLsp.editWithInstruction',
    target,
  );
  expect(next).not.toHaveBeenCalled();
  await expect(
    middleware.executeCommand!('spark-lsp.didAcceptCompletionItem', [7], next),
  ).resolves.toBe('from server');
  expect(next).toHaveBeenCalledWith('spark-lsp.didAcceptCompletionItem', [7]);
});

test('no didShowCompletion for an empty or cancelled answer', async () => {
  const sendNotification = jest.fn(async () => undefined);
  const middleware = middlewareWith({ sendNotification } as unknown as BaseLanguageClient);
  const document = {} as vscode.TextDocument;
  const position = new vscode.Position(0, 0);
  const context = {} as vscode.InlineCompletionContext;
  await middleware.provideInlineCompletionItems!(
    document,
    position,
    context,
    cancellationToken(),
    async () => [],
  );
  const source = new CancellationTokenSource();
  source.cancel();
  const item = new vscode.InlineCompletionItem('x');
  await middleware.provideInlineCompletionItems!(
    document,
    position,
    context,
    source.token as unknown as vscode.CancellationToken,
    async () => [item],
  );
  expect(sendNotification).not.toHaveBeenCalled();
});

test('configuration pulls for other sections are answered as usual', async () => {
  const middleware = middlewareWith();
  const next = jest.fn(async () => [{ raw: 'section' }, { editor: 'values' }]);
  const values = await middleware.workspace!.configuration!(
    { items: [{ section: 'sparkLsp' }, { section: 'editor' }] },
    cancellationToken(),
    next,
  );
  expect(values).toEqual([
    { actions: {}, completion: { automatic: true }, context: {}, engine: {} },
    { editor: 'values' },
  ]);
});
