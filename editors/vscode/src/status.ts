/** The status bar item: what the client and the server are doing, and a way to the menu. */
import * as vscode from 'vscode';

import { ClientCommand, ServerStatus } from './protocol';

/** The language client's side: whether a server process is (being) connected. */
export type ClientPhase = 'starting' | 'running' | 'stopped' | 'failed';

export interface StatusSnapshot {
  phase: ClientPhase;
  server?: ServerStatus;
  /** Time to the last suggestion; kept until the server restarts. */
  lastLatencyMs?: number;
  automatic: boolean;
  /** A problem the client found itself, such as a missing executable. */
  problem?: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  isError: boolean;
}

const NAME = 'spark';

function serverView(server: ServerStatus | undefined, lastLatencyMs?: number): StatusView {
  switch (server?.state) {
    case 'loading': {
      const percentage = server.percentage === undefined ? '' : ` ${server.percentage}%`;
      return {
        text: `$(loading~spin) ${NAME}${percentage}`,
        tooltip: server.message || 'loading the model',
        isError: false,
      };
    }
    case 'generating':
      return {
        text: `$(sync~spin) ${NAME}`,
        tooltip: server.message || 'generating',
        isError: false,
      };
    case 'error':
      return { text: `$(error) ${NAME}`, tooltip: server.message || 'error', isError: true };
    default: {
      const latency = lastLatencyMs === undefined ? '' : ` ${lastLatencyMs} ms`;
      const readyMessage = server?.message || 'ready';
      const tooltip =
        lastLatencyMs === undefined
          ? readyMessage
          : `${readyMessage} (last suggestion in ${lastLatencyMs} ms)`;
      return { text: `$(sparkle) ${NAME}${latency}`, tooltip, isError: false };
    }
  }
}

/** What the item shows for a state; pure, so that each state's look is easy to check. */
export function statusView(snapshot: StatusSnapshot): StatusView {
  let view: StatusView;
  if (snapshot.problem !== undefined) {
    view = { text: `$(error) ${NAME}`, tooltip: snapshot.problem, isError: true };
  } else if (snapshot.phase === 'starting') {
    view = { text: `$(loading~spin) ${NAME}`, tooltip: 'starting the server', isError: false };
  } else if (snapshot.phase === 'running' && snapshot.server === undefined) {
    // Connected, but the server has not said whether its model is ready: not "ready" yet.
    view = { text: `$(loading~spin) ${NAME}`, tooltip: 'waiting for the server', isError: false };
  } else if (snapshot.phase === 'stopped') {
    view = { text: `$(circle-slash) ${NAME}`, tooltip: 'the server is stopped', isError: false };
  } else if (snapshot.phase === 'failed') {
    view = {
      text: `$(error) ${NAME}`,
      tooltip: 'the server did not start (see the spark-lsp output)',
      isError: true,
    };
  } else {
    view = serverView(snapshot.server, snapshot.lastLatencyMs);
  }
  const idle = !view.isError && !view.text.includes('~spin');
  if (idle && snapshot.phase === 'running' && !snapshot.automatic) {
    view = { ...view, text: `${view.text} (manual)` };
  }
  const automatic = snapshot.automatic ? 'on' : 'off (Alt+\\ asks for one)';
  return {
    ...view,
    tooltip: `spark-lsp: ${view.tooltip}\nAutomatic suggestions: ${automatic}\nClick for the spark-lsp menu`,
  };
}

export class SparkStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private snapshot: StatusSnapshot;

  constructor(automatic: boolean) {
    this.item = vscode.window.createStatusBarItem(
      'sparkLsp.status',
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.item.name = 'spark-lsp';
    this.item.command = ClientCommand.showMenu;
    this.snapshot = { phase: 'stopped', automatic };
    this.render();
    this.item.show();
  }

  get current(): Readonly<StatusSnapshot> {
    return this.snapshot;
  }

  showClientPhase(phase: ClientPhase): void {
    const restarting = phase === 'starting';
    this.update({
      phase,
      problem: restarting ? undefined : this.snapshot.problem,
      server: restarting ? undefined : this.snapshot.server,
      lastLatencyMs: restarting ? undefined : this.snapshot.lastLatencyMs,
    });
  }

  showServerStatus(status: ServerStatus): void {
    this.update({
      server: status,
      lastLatencyMs: status.latencyMs ?? this.snapshot.lastLatencyMs,
    });
  }

  showProblem(problem: string | undefined): void {
    this.update({ problem });
  }

  showAutomatic(automatic: boolean): void {
    this.update({ automatic });
  }

  dispose(): void {
    this.item.dispose();
  }

  private update(change: Partial<StatusSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    this.render();
  }

  private render(): void {
    const view = statusView(this.snapshot);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.isError
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : undefined;
  }
}
