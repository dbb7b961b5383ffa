/** Names and shapes shared with the spark-lsp server, and the extension's own command ids. */

/** Commands the server executes (`workspace/executeCommand`). */
export const ServerCommand = {
  explain: 'spark-lsp.explain',
  editWithInstruction: 'spark-lsp.editWithInstruction',
  showStatistics: 'spark-lsp.showStatistics',
} as const;

/** Commands this extension contributes (package.json). */
export const ClientCommand = {
  explain: 'sparkLsp.explain',
  editWithInstruction: 'sparkLsp.editWithInstruction',
  toggleAutomatic: 'sparkLsp.toggleAutomatic',
  showStatistics: 'sparkLsp.showStatistics',
  restartServer: 'sparkLsp.restartServer',
  showMenu: 'sparkLsp.showMenu',
  nextEditJumpOrAccept: 'sparkLsp.nextEdit.jumpOrAccept',
  nextEditDismiss: 'sparkLsp.nextEdit.dismiss',
} as const;

export const STATUS_NOTIFICATION = 'spark/status';
export const DID_SHOW_COMPLETION = 'textDocument/didShowCompletion';
export const NEXT_EDIT_REQUEST = 'spark/nextEdit';

/** What a spark-lsp code action works on: `arguments[0]` of its command. */
export interface ActionTarget {
  uri: string;
  version: number;
  /** 0-based first line. */
  first: number;
  /** Exclusive last line. */
  last: number;
  action: string;
  message: string;
}

export function isActionTarget(value: unknown): value is ActionTarget {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const target = value as Record<string, unknown>;
  return (
    typeof target.uri === 'string' &&
    typeof target.action === 'string' &&
    Number.isInteger(target.version) &&
    Number.isInteger(target.first) &&
    Number.isInteger(target.last)
  );
}

export type ServerState = 'loading' | 'ready' | 'generating' | 'error';

/** Params of the `spark/status` notification. */
export interface ServerStatus {
  state: ServerState;
  message: string;
  /** Loading progress, 0-100. */
  percentage?: number;
  /** Time to the last suggestion, sent with `ready`. */
  latencyMs?: number;
}

const SERVER_STATES: readonly string[] = ['loading', 'ready', 'generating', 'error'];

/** The notification's params, or undefined when they are not a status we understand. */
export function parseServerStatus(params: unknown): ServerStatus | undefined {
  if (typeof params !== 'object' || params === null) {
    return undefined;
  }
  const raw = params as Record<string, unknown>;
  if (typeof raw.state !== 'string' || !SERVER_STATES.includes(raw.state)) {
    return undefined;
  }
  const status: ServerStatus = {
    state: raw.state as ServerState,
    message: typeof raw.message === 'string' ? raw.message : '',
  };
  if (typeof raw.percentage === 'number' && Number.isFinite(raw.percentage)) {
    status.percentage = Math.min(100, Math.max(0, Math.round(raw.percentage)));
  }
  if (typeof raw.latencyMs === 'number' && Number.isFinite(raw.latencyMs)) {
    status.latencyMs = Math.max(0, Math.round(raw.latencyMs));
  }
  return status;
}
