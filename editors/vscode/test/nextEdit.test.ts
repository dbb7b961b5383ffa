import { createTextDocument } from 'jest-mock-vscode';
import * as vscode from 'vscode';

import { readNextEditSettings } from '../src/config';
import {
  cursorOn,
  NextEditController,
  NextEditDependencies,
  preview,
  VISIBLE_CONTEXT,
} from '../src/nextEdit';
import { parseNextEdit } from '../src/nextEditAnswer';
import { callsOf, setSettings } from './helpers';

const URI = 'file:///project/shapes.py';
const TEXT = 'def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n';

/** The server's answer after `width` became `span` on line 0 (document version 2). */
function answer(version = 2, uri = URI): Record<string, unknown> {
  return {
    edits: [
      {
        text: '    return span * height\n',
        range: { start: { line: 1, character: 0 }, end: { line: 2, character: 0 } },
        textDocument: { uri, version },
        command: {
          title: 'Accept next edit',
          command: 'spark-lsp.didAcceptNextEdit',
          arguments: [`${uri}@${version}#0`],
        },
      },
    ],
    source: 'substitution',
  };
}

describe('parseNextEdit', () => {
  it('reads the server answer', () => {
    const suggestion = parseNextEdit(answer(), URI, 2);
    expect(suggestion?.parts).toEqual([
      {
        startLine: 1,
        startCharacter: 0,
        endLine: 2,
        endCharacter: 0,
        text: '    return span * height\n',
      },
    ]);
    expect(suggestion?.source).toBe('substitution');
    expect(suggestion?.accept).toEqual({
      command: 'spark-lsp.didAcceptNextEdit',
      arguments: [`${URI}@2#0`],
    });
  });

  it('refuses an answer for another version or document', () => {
    expect(parseNextEdit(answer(1), URI, 2)).toBeUndefined();
    expect(parseNextEdit(answer(2, 'file:///other.py'), URI, 2)).toBeUndefined();
  });

  it('refuses a malformed or empty answer, whole', () => {
    const broken = answer();
    (broken.edits as Record<string, unknown>[]).push({ text: 3, range: {} });
    expect(parseNextEdit(broken, URI, 2)).toBeUndefined();
    expect(parseNextEdit({ edits: [] }, URI, 2)).toBeUndefined();
    expect(parseNextEdit(null, URI, 2)).toBeUndefined();
    expect(parseNextEdit('edits', URI, 2)).toBeUndefined();
    const backwards = answer();
    (backwards.edits as { range: unknown }[])[0].range = {
      start: { line: 2, character: 0 },
      end: { line: 1, character: 0 },
    };
    expect(parseNextEdit(backwards, URI, 2)).toBeUndefined();
  });

  it('sorts the edits and refuses overlapping ones', () => {
    const edit = (first: number, last: number): Record<string, unknown> => ({
      text: 'x\n',
      range: { start: { line: first, character: 0 }, end: { line: last, character: 0 } },
      textDocument: { uri: URI, version: 2 },
    });
    const sorted = parseNextEdit({ edits: [edit(4, 5), edit(1, 2)] }, URI, 2);
    expect(sorted?.parts.map((part) => part.startLine)).toEqual([1, 4]);
    expect(sorted?.accept).toBeUndefined();
    expect(parseNextEdit({ edits: [edit(1, 3), edit(2, 4)] }, URI, 2)).toBeUndefined();
  });
});

describe('preview and cursorOn', () => {
  it('shows the first line of the new text and how many follow', () => {
    expect(preview('    return span * height\n')).toBe('return span * height');
    expect(preview('a = 1\nb = 2\n')).toBe('a = 1 (+1 lines)');
    expect(preview('')).toBe('delete');
    expect(preview('x'.repeat(100))).toBe(`${'x'.repeat(80)}…`);
  });

  it('puts the cursor on a whole-line edit only on its lines', () => {
    const part = { startLine: 1, startCharacter: 0, endLine: 3, endCharacter: 0, text: '' };
    expect([0, 1, 2, 3].map((line) => cursorOn(part, line))).toEqual([false, true, true, false]);
    const insertion = { startLine: 2, startCharacter: 0, endLine: 2, endCharacter: 0, text: 'x\n' };
    expect(cursorOn(insertion, 2)).toBe(true);
  });
});

describe('readNextEditSettings', () => {
  it('reads the declared defaults and bounds the pause', () => {
    setSettings();
    expect(readNextEditSettings(vscode.workspace.getConfiguration('sparkLsp'))).toEqual({
      enabled: true,
      debounceMs: 750,
    });
    setSettings({
      user: { 'sparkLsp.nextEdit.debounceMs': 5, 'sparkLsp.nextEdit.enabled': false },
    });
    expect(readNextEditSettings(vscode.workspace.getConfiguration('sparkLsp'))).toEqual({
      enabled: false,
      debounceMs: 100,
    });
  });
});

interface FakeEditor {
  document: vscode.TextDocument & { version: number };
  selection: vscode.Selection;
  setDecorations: jest.Mock;
  revealRange: jest.Mock;
}

describe('NextEditController', () => {
  let editor: FakeEditor;
  let dependencies: jest.Mocked<NextEditDependencies>;
  let controller: NextEditController;

  function change(): void {
    controller.onChange({
      document: editor.document,
      contentChanges: [{ text: 'x' }],
    } as unknown as vscode.TextDocumentChangeEvent);
  }

  /** The user's edit, then the pause: the request goes out and its answer is shown. */
  async function editAndPause(): Promise<void> {
    editor.document.version = 2;
    change();
    await jest.advanceTimersByTimeAsync(750);
  }

  function contexts(): unknown[] {
    return callsOf(vscode.commands.executeCommand as jest.Mock)
      .filter((call) => call[0] === 'setContext' && call[1] === VISIBLE_CONTEXT)
      .map((call) => call[2]);
  }

  beforeEach(() => {
    jest.useFakeTimers();
    (vscode.window.createTextEditorDecorationType as jest.Mock).mockImplementation(() => ({
      dispose: jest.fn(),
    }));
    const document = createTextDocument(vscode.Uri.parse(URI), TEXT, 'python', 1);
    editor = {
      document: document as unknown as FakeEditor['document'],
      selection: new vscode.Selection(0, 13, 0, 13),
      setDecorations: jest.fn(),
      revealRange: jest.fn(),
    };
    (vscode.window as { activeTextEditor?: unknown }).activeTextEditor = editor;
    dependencies = {
      request: jest.fn<
        Promise<unknown> | undefined,
        [vscode.TextDocument, vscode.Position, vscode.CancellationToken]
      >(async () => answer(editor.document.version)),
      accepted: jest.fn(),
      settings: jest.fn(() => ({ enabled: true, debounceMs: 750 })),
      log: jest.fn(),
    };
    (vscode.workspace.applyEdit as jest.Mock).mockResolvedValue(true);
    controller = new NextEditController(dependencies);
  });

  afterEach(() => {
    controller.dispose();
    jest.useRealTimers();
  });

  it('asks after the pause, not on every keystroke, and shows the answer', async () => {
    editor.document.version = 2;
    change();
    await jest.advanceTimersByTimeAsync(400);
    change();
    await jest.advanceTimersByTimeAsync(400);
    expect(dependencies.request).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(350);
    expect(dependencies.request).toHaveBeenCalledTimes(1);
    expect(dependencies.request.mock.calls[0][1]).toEqual(new vscode.Position(0, 13));
    expect(controller.visible?.parts[0].text).toBe('    return span * height\n');
    expect(contexts()).toEqual([true]);
    const drawn = editor.setDecorations.mock.calls.map((call) => call[1]).flat();
    expect(
      drawn.some((option) => option.renderOptions?.after?.contentText === '⇥ return span * height'),
    ).toBe(true);
    expect(
      drawn.some((option) => option.range.start.line === 1 && option.range.end.line === 1),
    ).toBe(true);
  });

  it('jumps with the first Tab, accepts with the second as one edit, and tells the server', async () => {
    await editAndPause();
    expect(await controller.jumpOrAccept()).toBe(true);
    expect(editor.selection.active).toEqual(new vscode.Position(1, 0));
    expect(editor.revealRange).toHaveBeenCalled();
    expect(vscode.workspace.applyEdit).not.toHaveBeenCalled();
    expect(await controller.jumpOrAccept()).toBe(true);
    const edit = (vscode.workspace.applyEdit as jest.Mock).mock.calls[0][0] as vscode.WorkspaceEdit;
    const [[uri, edits]] = edit.entries();
    expect(uri.toString()).toBe(URI);
    expect(edits.map((one) => [one.range, one.newText])).toEqual([
      [new vscode.Range(1, 0, 2, 0), '    return span * height\n'],
    ]);
    expect(dependencies.accepted).toHaveBeenCalledWith('spark-lsp.didAcceptNextEdit', [
      `${URI}@2#0`,
    ]);
    expect(controller.visible).toBeUndefined();
    expect(contexts()).toEqual([true, false]);
  });

  it('dismisses with Escape and when the document changes', async () => {
    await editAndPause();
    controller.dismiss();
    expect(controller.visible).toBeUndefined();
    expect(editor.setDecorations.mock.calls.slice(-2).map((call) => call[1])).toEqual([[], []]);
    await editAndPause();
    expect(controller.visible).toBeDefined();
    editor.document.version = 3;
    change();
    expect(controller.visible).toBeUndefined();
    expect(await controller.jumpOrAccept()).toBe(false);
  });

  it('never shows an answer that arrives after the document moved on', async () => {
    let answered: (value: unknown) => void = () => undefined;
    dependencies.request.mockImplementationOnce(
      () => new Promise((resolve) => (answered = resolve)),
    );
    await editAndPause();
    editor.document.version = 3;
    answered(answer(2));
    await jest.advanceTimersByTimeAsync(0);
    expect(controller.visible).toBeUndefined();
  });

  it('does not apply a suggestion to a changed document', async () => {
    await editAndPause();
    editor.selection = new vscode.Selection(1, 0, 1, 0);
    editor.document.version = 3; // changed without an event reaching the controller yet
    expect(await controller.jumpOrAccept()).toBe(false);
    expect(vscode.workspace.applyEdit).not.toHaveBeenCalled();
  });

  it('asks nothing when disabled, and logs a failed request without showing anything', async () => {
    dependencies.settings.mockReturnValue({ enabled: false, debounceMs: 750 });
    await editAndPause();
    expect(dependencies.request).not.toHaveBeenCalled();
    dependencies.settings.mockReturnValue({ enabled: true, debounceMs: 750 });
    dependencies.request.mockRejectedValueOnce(new Error('content modified'));
    await editAndPause();
    expect(dependencies.log).toHaveBeenCalledWith('next edit: content modified');
    expect(controller.visible).toBeUndefined();
  });

  it('shows nothing for an edit past the end of the document', async () => {
    dependencies.request.mockImplementationOnce(async () => {
      const far = answer(2);
      (far.edits as { range: unknown }[])[0].range = {
        start: { line: 40, character: 0 },
        end: { line: 41, character: 0 },
      };
      return far;
    });
    await editAndPause();
    expect(controller.visible).toBeUndefined();
  });
});
