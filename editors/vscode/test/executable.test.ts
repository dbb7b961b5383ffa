import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';

import {
  COPY_INSTALL_COMMAND,
  findExecutable,
  INSTALL_COMMAND,
  missingExecutableMessage,
  OPEN_SETTINGS,
  reportMissingExecutable,
} from '../src/executable';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-lsp-path-'));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));
const executable = path.join(directory, 'spark-lsp');
fs.writeFileSync(executable, '#!/bin/sh\n');
fs.chmodSync(executable, 0o755);
const notExecutable = path.join(directory, 'not-executable');
fs.writeFileSync(notExecutable, '');
fs.chmodSync(notExecutable, 0o644);

test('a bare name is looked up on PATH', async () => {
  const env = { PATH: ['/nonexistent', directory].join(path.delimiter) };
  await expect(findExecutable('spark-lsp', '/', env, 'linux')).resolves.toBe(executable);
  await expect(
    findExecutable('spark-lsp', '/', { PATH: '/nonexistent' }, 'linux'),
  ).resolves.toBeUndefined();
  await expect(findExecutable('not-executable', '/', env, 'linux')).resolves.toBeUndefined();
});

test('a path is checked as it is, relative to the working directory', async () => {
  await expect(findExecutable(executable, '/', { PATH: '' }, 'linux')).resolves.toBe(executable);
  await expect(findExecutable('./spark-lsp', directory, { PATH: '' }, 'linux')).resolves.toBe(
    executable,
  );
  await expect(findExecutable(directory, '/', { PATH: '' }, 'linux')).resolves.toBeUndefined();
  await expect(findExecutable(notExecutable, '/', { PATH: '' }, 'linux')).resolves.toBeUndefined();
});

test('the message names the install command and the setting', () => {
  const message = missingExecutableMessage('spark-lsp');
  expect(message).toContain(`"spark-lsp"`);
  expect(message).toContain(INSTALL_COMMAND);
  expect(INSTALL_COMMAND).toBe("pip install '/path/to/spark-lsp[model]'");
  expect(message).toContain('sparkLsp.server.path');
});

test('the error offers the settings and the install command', async () => {
  (vscode.window.showErrorMessage as jest.Mock).mockResolvedValueOnce(OPEN_SETTINGS);
  await reportMissingExecutable('/opt/spark-lsp');
  expect(vscode.window.showErrorMessage).toHaveBeenCalledWith(
    missingExecutableMessage('/opt/spark-lsp'),
    OPEN_SETTINGS,
    COPY_INSTALL_COMMAND,
  );
  expect(vscode.commands.executeCommand).toHaveBeenCalledWith(
    'workbench.action.openSettings',
    'sparkLsp.server.path',
  );
  (vscode.window.showErrorMessage as jest.Mock).mockResolvedValueOnce(COPY_INSTALL_COMMAND);
  await reportMissingExecutable('spark-lsp');
  expect(vscode.env.clipboard.writeText).toHaveBeenCalledWith(INSTALL_COMMAND);
});
