/** One server session at a time: launch (after checking the executable), stop, restart. */
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  State,
} from 'vscode-languageclient/node';

import { asSparkServer, createLanguageClient, SparkServer } from './client';
import { SECTION, ServerLaunch, ServerOptions } from './config';
import { findExecutable, missingExecutableMessage, reportMissingExecutable } from './executable';
import { createMiddleware } from './middleware';
import { parseServerStatus, STATUS_NOTIFICATION } from './protocol';
import { ClientPhase, SparkStatusBar } from './status';

export interface SessionDependencies {
  outputChannel: vscode.LogOutputChannel;
  status: SparkStatusBar;
  launch(): ServerLaunch;
  serverOptions(): ServerOptions;
  /** Where the server runs and relative executable paths start; undefined: no folder open. */
  workspaceRoot(): string | undefined;
}

function phaseOf(state: State): ClientPhase {
  switch (state) {
    case State.Starting:
      return 'starting';
    case State.Running:
      return 'running';
    case State.StartFailed:
      return 'failed';
    default:
      return 'stopped';
  }
}

export class SparkSession implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private clientListeners: vscode.Disposable[] = [];
  // Starts and stops run one after the other, so that two quick restarts cannot interleave.
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly dependencies: SessionDependencies) {}

  /** The current language client, running or not (for the extension's API and tests). */
  get languageClient(): LanguageClient | undefined {
    return this.client;
  }

  /** The running server, if any. */
  server(): SparkServer | undefined {
    return this.client?.isRunning() ? asSparkServer(this.client) : undefined;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.launch());
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.shutdown());
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      await this.shutdown();
      await this.launch();
    });
  }

  /** Sends the current options to a running server (workspace/didChangeConfiguration). */
  async sendOptions(): Promise<void> {
    if (this.client?.isRunning()) {
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [SECTION]: this.dependencies.serverOptions() },
      });
    }
  }

  dispose(): void {
    void this.stop();
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async launch(): Promise<void> {
    const { outputChannel, status } = this.dependencies;
    const launch = this.dependencies.launch();
    const cwd = this.dependencies.workspaceRoot();
    status.showProblem(undefined);
    if (launch.problem !== undefined) {
      outputChannel.error(`spark-lsp: ${launch.problem}`);
      status.showProblem(launch.problem);
      void vscode.window.showErrorMessage(`spark-lsp: ${launch.problem}`);
      return;
    }
    const executable = await findExecutable(launch.command, cwd ?? process.cwd());
    if (executable === undefined) {
      outputChannel.error(missingExecutableMessage(launch.command));
      status.showProblem(`cannot find the server executable "${launch.command}"`);
      void reportMissingExecutable(launch.command);
      return;
    }
    const client = createLanguageClient({ ...launch, command: executable }, cwd, {
      outputChannel,
      middleware: createMiddleware({
        client: () => this.client,
        serverOptions: () => this.dependencies.serverOptions(),
      }),
      serverOptions: () => this.dependencies.serverOptions(),
    });
    this.client = client;
    this.clientListeners = [
      client.onDidChangeState((event) => status.showClientPhase(phaseOf(event.newState))),
      client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
        const serverStatus = parseServerStatus(params);
        if (serverStatus !== undefined) {
          status.showServerStatus(serverStatus);
        }
      }),
    ];
    try {
      await client.start();
    } catch {
      // The client has shown why and logged it in the output; the status bar keeps the state.
      status.showClientPhase('failed');
    }
  }

  private async shutdown(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) {
      return;
    }
    try {
      await client.dispose(2000);
    } catch (error) {
      this.dependencies.outputChannel.warn(`stopping the server: ${String(error)}`);
    } finally {
      this.clientListeners.forEach((listener) => listener.dispose());
      this.clientListeners = [];
      this.dependencies.status.showClientPhase('stopped');
    }
  }
}
