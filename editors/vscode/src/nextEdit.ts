/**
 * Next-edit suggestions: after a pause in editing, the extension asks the server
 * (`spark/nextEdit`) for the edit that naturally follows (the other uses of a renamed name, the
 * next line of a repeated change), shows it where it would go, and lets Tab jump to it, then
 * accept it, and Escape dismiss it. The suggestion is for one document version: any change to
 * the document, or switching editors, takes it away.
 */
import * as vscode from 'vscode';

import { NextEditPart, NextEditSuggestion, parseNextEdit } from './nextEditAnswer';

export const VISIBLE_CONTEXT = 'sparkLsp.nextEditVisible';
const PREVIEW_CHARACTERS = 80;

export interface NextEditSettings {
  enabled: boolean;
  debounceMs: number;
}

export interface NextEditDependencies {
  /** The server's answer for the document at the position; undefined: no server running. */
  request(
    document: vscode.TextDocument,
    position: vscode.Position,
    token: vscode.CancellationToken,
  ): Promise<unknown> | undefined;
  /** Runs the server's accept command (copilot-language-server clients call it too). */
  accepted(command: string, args: unknown[]): void;
  settings(): NextEditSettings;
  log(message: string): void;
}

interface Shown {
  editor: vscode.TextEditor;
  suggestion: NextEditSuggestion;
}

/** The part's range in the editor; a whole-line range (the server's kind) as whole lines. */
export function rangeOf(part: NextEditPart): vscode.Range {
  return new vscode.Range(part.startLine, part.startCharacter, part.endLine, part.endCharacter);
}

/** The new text's first non-blank line, shortened, and how many lines follow it. */
export function preview(text: string): string {
  const lines = text.replace(/\n$/, '').split('\n');
  const first = lines.find((line) => line.trim() !== '')?.trim() ?? '';
  const shown =
    first.length > PREVIEW_CHARACTERS ? `${first.slice(0, PREVIEW_CHARACTERS)}…` : first;
  if (text === '') {
    return 'delete';
  }
  return lines.length > 1 ? `${shown} (+${lines.length - 1} lines)` : shown;
}

function wholeLines(part: NextEditPart): boolean {
  return part.startCharacter === 0 && part.endCharacter === 0 && part.endLine > part.startLine;
}

/** Whether the cursor is on the lines the part replaces (or, for an insertion, its line). */
export function cursorOn(part: NextEditPart, line: number): boolean {
  const last = wholeLines(part) ? part.endLine - 1 : part.endLine;
  return part.startLine <= line && line <= last;
}

export class NextEditController implements vscode.Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending: vscode.CancellationTokenSource | undefined;
  private shown: Shown | undefined;
  private readonly replaced = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.modifiedForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  });
  private readonly marker = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor('editorGhostText.foreground'),
      fontStyle: 'italic',
      margin: '0 0 0 2em',
    },
  });
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly dependencies: NextEditDependencies) {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((event) => this.onChange(event)),
      vscode.window.onDidChangeActiveTextEditor(() => this.dismiss()),
      vscode.workspace.onDidCloseTextDocument((document) => {
        if (this.shown?.editor.document === document) {
          this.dismiss();
        }
      }),
    ];
  }

  /** The suggestion on screen, if any (for tests and the status bar). */
  get visible(): NextEditSuggestion | undefined {
    return this.shown?.suggestion;
  }

  dispose(): void {
    this.dismiss();
    this.subscriptions.forEach((subscription) => subscription.dispose());
    this.replaced.dispose();
    this.marker.dispose();
  }

  onChange(event: vscode.TextDocumentChangeEvent): void {
    if (event.contentChanges.length === 0) {
      return; // a dirty-state change only
    }
    const editor = vscode.window.activeTextEditor;
    if (this.shown?.editor.document === event.document || editor?.document === event.document) {
      this.dismiss();
    }
    const settings = this.dependencies.settings();
    if (!settings.enabled || editor?.document !== event.document) {
      return;
    }
    this.timer = setTimeout(() => void this.ask(editor), settings.debounceMs);
  }

  /** Asks the server about the editor's document now and shows the answer, if any. */
  async ask(editor: vscode.TextEditor): Promise<void> {
    this.cancelPending();
    const document = editor.document;
    const version = document.version;
    const source = new vscode.CancellationTokenSource();
    this.pending = source;
    let result: unknown;
    try {
      result = await this.dependencies.request(document, editor.selection.active, source.token);
    } catch (error) {
      // ContentModified (the user typed on) and cancellations are expected; log the rest.
      this.dependencies.log(`next edit: ${error instanceof Error ? error.message : String(error)}`);
      return;
    } finally {
      if (this.pending === source) {
        this.pending = undefined;
      }
      source.dispose();
    }
    const current = vscode.window.activeTextEditor;
    if (
      source.token.isCancellationRequested ||
      document.version !== version ||
      current !== editor
    ) {
      return;
    }
    const suggestion = parseNextEdit(result, document.uri.toString(), version);
    if (
      suggestion !== undefined &&
      suggestion.parts.every((part) => part.endLine <= document.lineCount)
    ) {
      this.show(editor, suggestion);
    }
  }

  private show(editor: vscode.TextEditor, suggestion: NextEditSuggestion): void {
    const document = editor.document;
    const hover = new vscode.MarkdownString(
      '**spark-lsp next edit**: Tab jumps to it, Tab again accepts, Escape dismisses.',
    );
    const replaced: vscode.DecorationOptions[] = [];
    const markers: vscode.DecorationOptions[] = [];
    for (const part of suggestion.parts) {
      hover.appendCodeblock(part.text.replace(/\n$/, ''), document.languageId);
      const lastLine = wholeLines(part) ? part.endLine - 1 : part.endLine;
      const end = wholeLines(part) ? document.lineAt(lastLine).range.end : rangeOf(part).end;
      if (!rangeOf(part).isEmpty) {
        replaced.push({ range: new vscode.Range(rangeOf(part).start, end), hoverMessage: hover });
      }
      const markerLine = Math.min(lastLine, document.lineCount - 1);
      markers.push({
        range: document.lineAt(markerLine).range,
        hoverMessage: hover,
        renderOptions: { after: { contentText: `⇥ ${preview(part.text)}` } },
      });
    }
    editor.setDecorations(this.replaced, replaced);
    editor.setDecorations(this.marker, markers);
    this.shown = { editor, suggestion };
    void vscode.commands.executeCommand('setContext', VISIBLE_CONTEXT, true);
  }

  /** Escape: takes the suggestion away (and any request still out). */
  dismiss(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.cancelPending();
    const shown = this.shown;
    this.shown = undefined;
    if (shown !== undefined) {
      shown.editor.setDecorations(this.replaced, []);
      shown.editor.setDecorations(this.marker, []);
      void vscode.commands.executeCommand('setContext', VISIBLE_CONTEXT, false);
    }
  }

  /** Tab: moves the cursor to the suggestion when it is elsewhere, else accepts it. */
  async jumpOrAccept(): Promise<boolean> {
    const shown = this.shown;
    if (shown === undefined) {
      return false;
    }
    const { editor, suggestion } = shown;
    const line = editor.selection.active.line;
    if (suggestion.parts.some((part) => cursorOn(part, line))) {
      return this.accept();
    }
    const next = suggestion.parts.find((part) => part.startLine > line) ?? suggestion.parts[0];
    const start = rangeOf(next).start;
    editor.selection = new vscode.Selection(start, start);
    editor.revealRange(rangeOf(next), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    return true;
  }

  /** Applies every edit of the suggestion as one undo step, if the document is unchanged. */
  async accept(): Promise<boolean> {
    const shown = this.shown;
    if (shown === undefined) {
      return false;
    }
    const { editor, suggestion } = shown;
    this.dismiss();
    if (editor.document.version !== suggestion.version) {
      return false;
    }
    const edit = new vscode.WorkspaceEdit();
    for (const part of suggestion.parts) {
      edit.replace(editor.document.uri, rangeOf(part), part.text);
    }
    const applied = await vscode.workspace.applyEdit(edit);
    if (applied && suggestion.accept !== undefined) {
      this.dependencies.accepted(suggestion.accept.command, suggestion.accept.arguments);
    }
    return applied;
  }

  private cancelPending(): void {
    this.pending?.cancel();
    this.pending = undefined;
  }
}
