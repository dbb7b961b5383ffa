/** Finding the server executable before launching it, and what to say when it is missing. */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

import { SECTION, SERVER_PATH_SETTING } from './config';

export const INSTALL_COMMAND = "pip install '/path/to/spark-lsp[model]'";
export const OPEN_SETTINGS = 'Open Settings';
export const COPY_INSTALL_COMMAND = 'Copy Install Command';

async function isExecutableFile(file: string, platform: NodeJS.Platform): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) {
      return false;
    }
    if (platform !== 'win32') {
      await fs.access(file, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

function candidates(file: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string[] {
  if (platform !== 'win32' || path.extname(file) !== '') {
    return [file];
  }
  const extensions = (env.PATHEXT ?? '.COM;.EXE;.BAT;.CMD').split(';').filter(Boolean);
  return [file, ...extensions.map((extension) => file + extension)];
}

/**
 * The executable a spawn of `command` would run, as an absolute path: a path is taken relative
 * to `cwd` (where the server is started), a bare name is looked up on PATH. Undefined when there
 * is none.
 */
export async function findExecutable(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): Promise<string | undefined> {
  const isPath = command.includes('/') || (platform === 'win32' && command.includes('\\'));
  const directories = isPath
    ? [cwd]
    : (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  for (const directory of directories) {
    for (const file of candidates(path.resolve(directory, command), env, platform)) {
      if (await isExecutableFile(file, platform)) {
        return file;
      }
    }
  }
  return undefined;
}

export function missingExecutableMessage(command: string): string {
  return (
    `spark-lsp: cannot find the server executable "${command}". ` +
    `Install it from a clone of the spark-lsp repository with ${INSTALL_COMMAND} (Python 3.11+), then restart the server; ` +
    `if it lives in a virtual environment, set ${SECTION}.${SERVER_PATH_SETTING} to its bin/spark-lsp.`
  );
}

export async function reportMissingExecutable(command: string): Promise<void> {
  const choice = await vscode.window.showErrorMessage(
    missingExecutableMessage(command),
    OPEN_SETTINGS,
    COPY_INSTALL_COMMAND,
  );
  if (choice === OPEN_SETTINGS) {
    await vscode.commands.executeCommand(
      'workbench.action.openSettings',
      `${SECTION}.${SERVER_PATH_SETTING}`,
    );
  } else if (choice === COPY_INSTALL_COMMAND) {
    await vscode.env.clipboard.writeText(INSTALL_COMMAND);
  }
}
