import * as vscode from 'vscode';

import { parseServerStatus } from '../src/protocol';
import { SparkStatusBar, statusView } from '../src/status';

function statusItem(): vscode.StatusBarItem {
  return (vscode.window.createStatusBarItem as jest.Mock).mock.results.at(-1)!.value;
}

function notify(bar: SparkStatusBar, params: unknown): void {
  const status = parseServerStatus(params);
  if (status !== undefined) {
    bar.showServerStatus(status);
  }
}

test('each server state has its own look', () => {
  const running = { phase: 'running' as const, automatic: true };
  expect(
    statusView({
      ...running,
      server: { state: 'loading', message: 'loading the model', percentage: 40 },
    }).text,
  ).toBe('$(loading~spin) spark 40%');
  expect(statusView({ ...running, server: { state: 'ready', message: '' } }).text).toBe(
    '$(sparkle) spark',
  );
  expect(
    statusView({ ...running, server: { state: 'ready', message: '' }, lastLatencyMs: 120 }).text,
  ).toBe('$(sparkle) spark 120 ms');
  expect(statusView({ ...running, server: { state: 'generating', message: '' } }).text).toBe(
    '$(sync~spin) spark',
  );
  const error = statusView({
    ...running,
    server: { state: 'error', message: 'cannot load the model' },
  });
  expect(error.text).toBe('$(error) spark');
  expect(error.isError).toBe(true);
  expect(error.tooltip).toContain('cannot load the model');
});

test('client phases and problems come before the server state', () => {
  const server = { state: 'ready' as const, message: '' };
  expect(statusView({ phase: 'starting', automatic: true, server }).text).toBe(
    '$(loading~spin) spark',
  );
  expect(statusView({ phase: 'stopped', automatic: true, server }).text).toBe(
    '$(circle-slash) spark',
  );
  expect(statusView({ phase: 'failed', automatic: true }).isError).toBe(true);
  // Connected, before the server's first spark/status: never shown as ready.
  const waiting = statusView({ phase: 'running', automatic: true });
  expect(waiting.text).toBe('$(loading~spin) spark');
  expect(waiting.tooltip).toContain('waiting for the server');
  const missing = statusView({
    phase: 'stopped',
    automatic: true,
    problem: 'cannot find "spark-lsp"',
  });
  expect(missing.text).toBe('$(error) spark');
  expect(missing.tooltip).toContain('cannot find "spark-lsp"');
});

test('manual mode shows when idle and in the tooltip', () => {
  const view = statusView({
    phase: 'running',
    automatic: false,
    server: { state: 'ready', message: '' },
  });
  expect(view.text).toBe('$(sparkle) spark (manual)');
  expect(view.tooltip).toContain('Automatic suggestions: off');
  const busy = statusView({
    phase: 'running',
    automatic: false,
    server: { state: 'generating', message: '' },
  });
  expect(busy.text).toBe('$(sync~spin) spark');
});

test('the status bar item follows spark/status notifications and client phases', () => {
  const bar = new SparkStatusBar(true);
  const item = statusItem();
  expect(item.command).toBe('sparkLsp.showMenu');
  bar.showClientPhase('starting');
  expect(item.text).toBe('$(loading~spin) spark');
  bar.showClientPhase('running');
  notify(bar, { state: 'loading', message: 'loading the model', percentage: 40.4 });
  expect(item.text).toBe('$(loading~spin) spark 40%');
  notify(bar, { state: 'ready', message: 'qwen ready' });
  expect(item.text).toBe('$(sparkle) spark');
  notify(bar, { state: 'generating', message: 'generating' });
  expect(item.text).toBe('$(sync~spin) spark');
  notify(bar, { state: 'ready', message: 'ready', latencyMs: 118.6 });
  expect(item.text).toBe('$(sparkle) spark 119 ms');
  notify(bar, { state: 'generating', message: '' });
  notify(bar, { state: 'ready', message: '' }); // no new suggestion: the last latency stays
  expect(item.text).toBe('$(sparkle) spark 119 ms');
  notify(bar, { state: 'error', message: 'the model failed' });
  expect(item.text).toBe('$(error) spark');
  expect(item.backgroundColor).toBeInstanceOf(vscode.ThemeColor);
  expect(item.tooltip).toContain('the model failed');
  notify(bar, { state: 'bogus' }); // ignored
  expect(item.text).toBe('$(error) spark');
  bar.showClientPhase('starting'); // a restart forgets the old server's state
  bar.showClientPhase('running');
  expect(item.text).toBe('$(loading~spin) spark');
  notify(bar, { state: 'ready', message: 'the model loads at the first suggestion' });
  expect(item.text).toBe('$(sparkle) spark');
  expect(item.backgroundColor).toBeUndefined();
  bar.showAutomatic(false);
  expect(item.text).toBe('$(sparkle) spark (manual)');
});

test('malformed status params are rejected, numbers are clamped', () => {
  expect(parseServerStatus(null)).toBeUndefined();
  expect(parseServerStatus({ state: 'sleeping' })).toBeUndefined();
  expect(parseServerStatus({ state: 'loading', percentage: 140 })).toEqual({
    state: 'loading',
    message: '',
    percentage: 100,
  });
  expect(parseServerStatus({ state: 'ready', message: 'ok', latencyMs: 'fast' })).toEqual({
    state: 'ready',
    message: 'ok',
  });
});
