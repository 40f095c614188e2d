/**
 * Help text fitted to the terminal. commander wraps what it lays out itself (the descriptions of
 * options, arguments and subcommands) to the help width — the terminal's, or 80 columns when
 * stdout is not one — but the notes and examples a command adds (`addHelpText`) are printed as
 * written, and they were written for 100 columns. Every help text goes through {@link fitHelp} on
 * its way out (main.ts), which fits what is too wide and leaves the rest as it is, so a wide
 * terminal sees the help exactly as written:
 *
 * - a paragraph (lines at the left margin) with a line too long is reflowed;
 * - in a block of examples (`  $ command   comment`, a `\` continuing a command on the next line)
 *   with a line too long, each comment goes above its command as a shell comment (`# …`), and a
 *   command too long is broken between its words (outside quotes, an option kept with its value),
 *   with ` \` continuations;
 * - an indented block (a table of `term   description` rows, or indented prose) with a line too
 *   long has each description wrapped in its own column, each prose paragraph in its own indent.
 *
 * A single word wider than the width (a long URL) stays whole.
 */

/** Fit `text` (one chunk of help output) to `width` columns. */
export function fitHelp(text: string, width: number): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      out.push(line);
      i++;
      continue;
    }
    const kind = lineKind(line);
    let j = i + 1;
    if (kind === 'example') {
      // the examples at this indent, each with its continuation lines and any output lines
      const indent = indentOf(line);
      while (j < lines.length && lines[j]!.trim() !== '' && indentOf(lines[j]!) >= indent) {
        if (indentOf(lines[j]!) === indent && lineKind(lines[j]!) !== 'example' && !continues(lines[j - 1]!))
          break;
        j++;
      }
    } else {
      while (j < lines.length && lines[j]!.trim() !== '' && lineKind(lines[j]!) === kind) j++;
    }
    const block = lines.slice(i, j);
    if (block.every((l) => l.length <= width)) out.push(...block);
    else if (kind === 'paragraph') out.push(...wrapWords(block.join(' '), width, '', ''));
    else if (kind === 'example') out.push(...fitExamples(block, width));
    else out.push(...fitIndented(block, width));
    i = j;
  }
  return out.join('\n');
}

type Kind = 'paragraph' | 'example' | 'indented';

function lineKind(line: string): Kind {
  if (!/^\s/.test(line)) return 'paragraph';
  return line.trimStart().startsWith('$ ') ? 'example' : 'indented';
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** A command line that goes on on the next one (`… \`). */
function continues(line: string): boolean {
  return /(^|\s)\\$/.test(line);
}

/** `text`'s words in lines of at most `width` columns (a longer word stays whole). */
export function wrapWords(text: string, width: number, firstIndent: string, restIndent: string): string[] {
  const words = text.trim().split(/\s+/);
  const lines: string[] = [];
  let current = firstIndent;
  let empty = true;
  for (const word of words) {
    if (!empty && current.length + 1 + word.length > width) {
      lines.push(current);
      current = restIndent;
      empty = true;
    }
    current += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(current);
  return lines;
}

/** Where the first run of two or more spaces outside quotes begins in `text` (-1: none). */
function gapAt(text: string): number {
  let quote = '';
  for (let k = 0; k < text.length; k++) {
    const c = text[k]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ' ' && text[k + 1] === ' ') return k;
  }
  return -1;
}

/** `text` split at the spaces outside quotes. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote = '';
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ' ') {
      if (current) words.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  if (current) words.push(current);
  return words;
}

interface Example {
  /** the command as written, without its comment: a line, or lines continued with ` \` */
  lines: string[];
  /** the command, continuation lines joined */
  command: string;
  comment?: string;
  /** lines under the command that are not part of it (the output an example shows) */
  after: string[];
}

function parseExamples(block: string[]): { indent: string; examples: Example[] } {
  const indent = ' '.repeat(indentOf(block[0]!));
  const examples: Example[] = [];
  let joining = false;
  for (const line of block) {
    const text = line.trim();
    const current = examples.at(-1);
    if (!joining && (lineKind(line) !== 'example' || indentOf(line) !== indent.length)) {
      current?.after.push(line);
      continue;
    }
    let command = text;
    let comment: string | undefined;
    joining = continues(text);
    if (joining) command = text.slice(0, -1).trimEnd();
    else {
      const gap = gapAt(text);
      if (gap >= 0) {
        command = text.slice(0, gap);
        comment = text.slice(gap).trim().replace(/^#\s*/, '');
      }
    }
    const written = comment === undefined ? line.trimEnd() : line.slice(0, indentOf(line) + gapAt(text));
    if (current && current.after.length === 0 && !text.startsWith('$ ')) {
      current.lines.push(written);
      current.command += ` ${command}`;
      if (comment !== undefined) current.comment = comment;
    } else
      examples.push({ lines: [written], command, ...(comment !== undefined ? { comment } : {}), after: [] });
  }
  return { indent, examples };
}

function fitExamples(block: string[], width: number): string[] {
  const { indent, examples } = parseExamples(block);
  // a command that fits as written keeps its lines
  return examples.flatMap((e) => [
    ...(e.comment === undefined ? [] : wrapWords(e.comment, width, `${indent}# `, `${indent}# `)),
    ...(e.lines.every((l) => l.length <= width) ? e.lines : breakCommand(e.command, indent, width)),
    ...e.after,
  ]);
}

/** What joins two commands: the line is best broken after it. */
const JOIN = /^(\||\|\||&&|;)$/;
/** A redirection (`<`, `>`, `2>>`…): kept with the file after it. */
const REDIRECT = /^[0-9]*[<>]{1,2}&?[0-9]*$/;

/**
 * The units a command is broken between: its words, an option kept with the value that follows it
 * (`--to bob@lab`, not `--to \` and `bob@lab` on the next line), a redirection with its file.
 */
function commandUnits(command: string): string[] {
  const words = shellWords(command);
  const units: string[] = [];
  for (let k = 0; k < words.length; k++) {
    const word = words[k]!;
    const next = words[k + 1];
    const pair = (word.startsWith('-') && !next?.startsWith('-')) || REDIRECT.test(word);
    if (pair && next !== undefined && !JOIN.test(next) && !REDIRECT.test(next)) {
      units.push(`${word} ${next}`);
      k++;
    } else units.push(word);
  }
  return units;
}

/**
 * A command in lines of at most `width` columns, continued with ` \` (never inside quotes); after
 * a pipe or a `&&` the line is broken when the next command does not fit on it whole.
 */
function breakCommand(command: string, indent: string, width: number): string[] {
  const units = commandUnits(command);
  const lines: string[] = [];
  let current = indent;
  let empty = true;
  const newLine = (): void => {
    lines.push(`${current} \\`);
    current = `${indent}    `;
    empty = true;
  };
  units.forEach((unit, k) => {
    // room for the ` \` that ends a line that goes on
    if (!empty && current.length + 1 + unit.length + 2 > width) newLine();
    else if (!empty && k > 0 && JOIN.test(units[k - 1]!)) {
      const end = units.findIndex((u, m) => m >= k && JOIN.test(u));
      const next = units.slice(k, end < 0 ? undefined : end).join(' ');
      if (current.length + 1 + next.length + 2 > width) newLine();
    }
    current += empty ? unit : ` ${unit}`;
    empty = false;
  });
  lines.push(current);
  return lines;
}

type Item =
  | { type: 'row'; indent: number; term: string; column: number; text: string }
  | { type: 'prose'; indent: number; text: string };

function fitIndented(block: string[], width: number): string[] {
  const items: Item[] = [];
  for (const line of block) {
    const indent = indentOf(line);
    const text = line.trim();
    const last = items.at(-1);
    // a line at the column of the row above it goes on with that row's description
    if (last?.type === 'row' && indent === last.column) {
      last.text += ` ${text}`;
      continue;
    }
    const gap = gapAt(text);
    if (gap > 0) {
      const description = text.slice(gap).trimStart();
      items.push({
        type: 'row',
        indent,
        term: text.slice(0, gap),
        column: indent + text.length - description.length,
        text: description,
      });
    } else if (last?.type === 'prose' && last.indent === indent) last.text += ` ${text}`;
    else items.push({ type: 'prose', indent, text });
  }
  return items.flatMap((item) => {
    const pad = ' '.repeat(item.indent);
    if (item.type === 'prose') return wrapWords(item.text, width, pad, pad);
    const head = pad + item.term;
    // the description in its own column while that leaves it room, else under the term
    if (width - item.column >= 24 && head.length + 2 <= item.column) {
      const column = ' '.repeat(item.column);
      const [first, ...rest] = wrapWords(item.text, width, column, column);
      return [head.padEnd(item.column) + first!.trimStart(), ...rest];
    }
    const under = `${pad}    `;
    return [head, ...wrapWords(item.text, width, under, under)];
  });
}
