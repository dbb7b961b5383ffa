/** Activation as VS Code does it, with the fake server or with no server at all. */
import * as vscode from 'vscode';

import { activate, deactivate, onConfigurationChanged } from '../src/extension';
import { INSTALL_COMMAND, OPEN_SETTINGS } from '../src/executable';
import { SparkSession } from '../src/session';
import { SparkStatusBar } from '../src/status';
import {
  callsOf,
  fakeOutputChannel,
  fakeServerExecutable,
  packageJson,
  setSettings,
  waitFor,
} from './helpers';

const fakeServer = fakeServerExecutable();

function extensionContext(): vscode.ExtensionContext {
  return {
    subscriptions: [],
    extension: { packageJSON: packageJson },
  } as unknown as vscode.ExtensionContext;
}

function statusItem(): vscode.StatusBarItem {
  return (vscode.window.createStatusBarItem as jest.Mock).mock.results.at(-1)!.value;
}

beforeEach(() => {
  (vscode.window.createOutputChannel as jest.Mock).mockImplementation(() => fakeOutputChannel());
});

afterEach(async () => {
  await deactivate();
});

test('a missing executable gives one clear error with the install command, not a crash', async () => {
  setSettings({ user: { 'sparkLsp.server.path': '/nonexistent/bin/spark-lsp' } });
  activate(extensionContext());
  const [message, ...buttons] = await waitFor(() => callsOf(vscode.window.showErrorMessage)[0]);
  expect(message).toContain(INSTALL_COMMAND);
  expect(message).toContain('/nonexistent/bin/spark-lsp');
  expect(buttons).toContain(OPEN_SETTINGS);
  expect(callsOf(vscode.window.showErrorMessage)).toHaveLength(1);
  expect(statusItem().text).toBe('$(error) spark');
  expect(statusItem().tooltip).toContain('cannot find the server executable');
});

test('activation starts the server with the settings from package.json', async () => {
  setSettings({ user: { 'sparkLsp.server.path': fakeServer } });
  const context = extensionContext();
  activate(context);
  const registered = callsOf(vscode.commands.registerCommand).map(([command]) => command);
  const declared = (
    packageJson.contributes as unknown as { commands: { command: string }[] }
  ).commands.map(({ command }) => command);
  expect(declared).toContain('sparkLsp.nextEdit.jumpOrAccept');
  expect(registered).toEqual(expect.arrayContaining(declared));
  await waitFor(() => (statusItem().text === '$(sparkle) spark' ? true : undefined));
  expect(vscode.window.showErrorMessage).not.toHaveBeenCalled();
  expect(context.subscriptions.length).toBeGreaterThan(5);
});

test('setting changes: server options are sent, a new command offers a restart', () => {
  setSettings({ user: { 'sparkLsp.completion.automatic': false } });
  const session = { sendOptions: jest.fn(async () => undefined), restart: jest.fn() };
  const status = new SparkStatusBar(true);
  const changed = (...sections: string[]) =>
    ({
      affectsConfiguration: (section: string) => sections.some((s) => s.startsWith(section)),
    }) as vscode.ConfigurationChangeEvent;
  onConfigurationChanged(
    changed('sparkLsp.completion.automatic'),
    session as unknown as SparkSession,
    status,
  );
  expect(session.sendOptions).toHaveBeenCalledTimes(1);
  expect(status.current.automatic).toBe(false);
  expect(vscode.window.showInformationMessage).not.toHaveBeenCalled();
  onConfigurationChanged(
    changed('sparkLsp.server.path'),
    session as unknown as SparkSession,
    status,
  );
  expect(session.sendOptions).toHaveBeenCalledTimes(1);
  expect(vscode.window.showInformationMessage).toHaveBeenCalledWith(
    expect.stringMatching(/restart/),
    'Restart',
  );
  onConfigurationChanged(changed('editor.fontSize'), session as unknown as SparkSession, status);
  expect(session.sendOptions).toHaveBeenCalledTimes(1);
});
