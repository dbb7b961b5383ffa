/**
 * Settings: what launches the server (client-only) and the options the server reads.
 *
 * The server takes `{completion: {...}, context: {...}, engine: {...}}` in camelCase, as
 * initializationOptions and in workspace/didChangeConfiguration under the section `sparkLsp`.
 * It warns about keys it does not know, so client-only settings (`server.*`, `trace.*`) are never
 * sent. Which options exist is read from package.json's contributes.configuration, the one list of
 * them in the extension.
 */
import * as os from 'os';
import * as path from 'path';
import type { WorkspaceConfiguration } from 'vscode';

export const SECTION = 'sparkLsp';
export const AUTOMATIC_SETTING = 'completion.automatic';
export const SERVER_PATH_SETTING = 'server.path';
export const SERVER_ARGS_SETTING = 'server.args';
export const DEFAULT_SERVER_COMMAND = 'spark-lsp';

export const SERVER_GROUPS = ['actions', 'completion', 'context', 'engine'] as const;

/**
 * Engine settings that say where code, credentials and model files come from. The server never
 * takes them from options (a repository's .vscode/settings.json can write those); they are
 * machine-scoped here and passed as flags, from the user's settings only.
 */
export const COMMAND_LINE_OPTIONS: Readonly<Record<string, string>> = {
  apiKeyEnv: '--api-key-env',
  backend: '--backend',
  endpoint: '--endpoint',
  hfFile: '--hf-file',
  hfRepo: '--hf-repo',
  model: '--model',
  nextEditHfFile: '--next-edit-hf-file',
  nextEditHfRepo: '--next-edit-hf-repo',
  nextEditModel: '--next-edit-model',
  remoteModel: '--remote-model',
};
export type ServerGroup = (typeof SERVER_GROUPS)[number];
export type ServerOptions = Record<ServerGroup, Record<string, unknown>>;

/** A server option declared in package.json, `sparkLsp.<group>.<name>`. */
export interface DeclaredOption {
  group: ServerGroup;
  name: string;
}

/** The server options package.json declares, in declaration order. */
export function declaredServerOptions(packageJson: unknown): DeclaredOption[] {
  const contributes = (packageJson as { contributes?: { configuration?: unknown } } | undefined)
    ?.contributes;
  const configuration = contributes?.configuration;
  const sections = Array.isArray(configuration) ? configuration : [configuration];
  const declared: DeclaredOption[] = [];
  for (const section of sections) {
    const properties = (section as { properties?: Record<string, unknown> } | undefined)
      ?.properties;
    for (const key of Object.keys(properties ?? {})) {
      const [prefix, group, name, ...rest] = key.split('.');
      if (prefix === SECTION && isServerGroup(group) && name && rest.length === 0) {
        declared.push({ group, name });
      }
    }
  }
  return declared;
}

function isServerGroup(value: string | undefined): value is ServerGroup {
  return (SERVER_GROUPS as readonly (string | undefined)[]).includes(value);
}

/**
 * The options to send, nested by group. Completion and context options are sent with their
 * effective values (defaults included), so that removing a setting restores the default.
 * Engine options are sent only when the user set them: `sparkLsp.server.args` may hold engine
 * flags (`--model ...`), which a default sent from here would silently override; engine options
 * apply when the model loads anyway, so a removed one takes effect at the next start.
 */
export function buildServerOptions(
  config: WorkspaceConfiguration,
  declared: readonly DeclaredOption[],
): ServerOptions {
  const options: ServerOptions = { actions: {}, completion: {}, context: {}, engine: {} };
  for (const { group, name } of declared) {
    if (group === 'engine' && name in COMMAND_LINE_OPTIONS) {
      continue; // a flag of the launch (readServerLaunch), never an option
    }
    const key = `${group}.${name}`;
    const value = group === 'engine' ? userValue(config, key) : config.get<unknown>(key);
    if (value !== undefined && value !== null && value !== '') {
      options[group][name] = value;
    }
  }
  return options;
}

function userValue(config: WorkspaceConfiguration, key: string): unknown {
  const inspected = config.inspect<unknown>(key);
  return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
}

/**
 * How to start the server: the executable and the arguments after `serve`; `problem` says why
 * it must not be started (a relative executable path would run a repository's own binary).
 */
export interface ServerLaunch {
  command: string;
  args: string[];
  problem?: string;
}

export function readServerLaunch(config: WorkspaceConfiguration): ServerLaunch {
  const configured = config.get<unknown>(SERVER_PATH_SETTING);
  const command =
    typeof configured === 'string' && configured.trim() !== ''
      ? expandHome(configured.trim())
      : DEFAULT_SERVER_COMMAND;
  const rawArgs = config.get<unknown>(SERVER_ARGS_SETTING);
  const args = Array.isArray(rawArgs)
    ? rawArgs.filter((arg): arg is string => typeof arg === 'string')
    : [];
  for (const name of Object.keys(COMMAND_LINE_OPTIONS).sort()) {
    const value = config.inspect<unknown>(`engine.${name}`)?.globalValue;
    if (typeof value === 'string' && value.trim() !== '') {
      args.push(COMMAND_LINE_OPTIONS[name], value.trim());
    }
  }
  const isPath = command.includes('/') || command.includes('\\');
  const problem =
    isPath && !path.isAbsolute(command)
      ? `${SECTION}.${SERVER_PATH_SETTING} must be an absolute path or a name on PATH, not ` +
        `"${command}" (a relative path would run whatever the workspace holds there)`
      : undefined;
  return problem === undefined ? { command, args } : { command, args, problem };
}

function expandHome(file: string): string {
  if (file === '~') {
    return os.homedir();
  }
  return file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : file;
}

export function readAutomatic(config: WorkspaceConfiguration): boolean {
  return config.get<boolean>(AUTOMATIC_SETTING) !== false;
}

export const NEXT_EDIT_ENABLED_SETTING = 'nextEdit.enabled';
export const NEXT_EDIT_DEBOUNCE_SETTING = 'nextEdit.debounceMs';
const NEXT_EDIT_DEBOUNCE_MS = { low: 100, high: 10000, fallback: 750 };

/** The next-edit settings (client-only: when to ask the server), bounded. */
export function readNextEditSettings(config: WorkspaceConfiguration): {
  enabled: boolean;
  debounceMs: number;
} {
  const debounce = config.get<unknown>(NEXT_EDIT_DEBOUNCE_SETTING);
  const { low, high, fallback } = NEXT_EDIT_DEBOUNCE_MS;
  const debounceMs =
    typeof debounce === 'number' && Number.isFinite(debounce)
      ? Math.min(high, Math.max(low, Math.round(debounce)))
      : fallback;
  return { enabled: config.get<unknown>(NEXT_EDIT_ENABLED_SETTING) !== false, debounceMs };
}
