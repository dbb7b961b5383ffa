/**
 * The server's next-edit answer (`spark/nextEdit`), checked field by field: an edit is kept only
 * when it is well formed and stamped with the document and version that were asked about.
 */

/** One replacement, in the protocol's 0-based line and character positions. */
export interface NextEditPart {
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
  text: string;
}

/** The command a client runs when it accepts the suggestion (the server only logs it). */
export interface AcceptCommand {
  command: string;
  arguments: unknown[];
}

export interface NextEditSuggestion {
  uri: string;
  version: number;
  /** Sorted by position, none overlapping. */
  parts: NextEditPart[];
  accept?: AcceptCommand;
  /** `substitution` or `model`. */
  source: string;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function count(value: unknown): number | undefined {
  return Number.isInteger(value) && (value as number) >= 0 ? (value as number) : undefined;
}

function position(value: unknown): [number, number] | undefined {
  const raw = record(value);
  const line = count(raw?.line);
  const character = count(raw?.character);
  return line === undefined || character === undefined ? undefined : [line, character];
}

function acceptCommand(value: unknown): AcceptCommand | undefined {
  const raw = record(value);
  if (typeof raw?.command !== 'string') {
    return undefined;
  }
  return { command: raw.command, arguments: Array.isArray(raw.arguments) ? raw.arguments : [] };
}

function part(value: unknown, uri: string, version: number): NextEditPart | undefined {
  const raw = record(value);
  const range = record(raw?.range);
  const start = position(range?.start);
  const end = position(range?.end);
  const document = record(raw?.textDocument);
  if (
    typeof raw?.text !== 'string' ||
    start === undefined ||
    end === undefined ||
    document?.uri !== uri ||
    document?.version !== version ||
    end[0] < start[0] ||
    (end[0] === start[0] && end[1] < start[1])
  ) {
    return undefined;
  }
  return {
    startLine: start[0],
    startCharacter: start[1],
    endLine: end[0],
    endCharacter: end[1],
    text: raw.text,
  };
}

function before(a: NextEditPart, b: NextEditPart): boolean {
  return (
    a.endLine < b.startLine || (a.endLine === b.startLine && a.endCharacter <= b.startCharacter)
  );
}

/**
 * The suggestion in `result` for `uri` at `version`, or undefined when there is none or any of
 * its edits is malformed, for another document or version, or overlaps another: half a
 * suggestion is never shown.
 */
export function parseNextEdit(
  result: unknown,
  uri: string,
  version: number,
): NextEditSuggestion | undefined {
  const raw = record(result);
  if (!Array.isArray(raw?.edits) || raw.edits.length === 0) {
    return undefined;
  }
  const parts: NextEditPart[] = [];
  for (const edit of raw.edits) {
    const parsed = part(edit, uri, version);
    if (parsed === undefined) {
      return undefined;
    }
    parts.push(parsed);
  }
  parts.sort((a, b) => a.startLine - b.startLine || a.startCharacter - b.startCharacter);
  if (parts.some((current, index) => index > 0 && !before(parts[index - 1], current))) {
    return undefined;
  }
  const suggestion: NextEditSuggestion = {
    uri,
    version,
    parts,
    source: typeof raw.source === 'string' ? raw.source : 'model',
  };
  const accept = acceptCommand(record(raw.edits[0])?.command);
  return accept === undefined ? suggestion : { ...suggestion, accept };
}
