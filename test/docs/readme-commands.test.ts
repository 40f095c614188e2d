/**
 * Every `netkit …` command the README shows, and every example in a command's `--help`, names a real
 * command and only options that command takes: a renamed flag, a subcommand that moved, or a typo in
 * an example fails here instead of in a newcomer's terminal. The commands are read from the README's
 * console blocks (`$ netkit …`, continued lines joined), its inline code (`netkit ip 10.0.0.1 24`)
 * and the `Examples:` of every command's help, and resolved against the registered commander tree
 * (completion.ts's `fullProgram`, the CLI itself); a synopsis's `[--flag VALUE]` counts too. Placeholders (`netkit COMMAND`, `ftp ls|get|put`,
 * `url …`) and what follows them are not checked.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { fullProgram } from '../../src/cli/completion.js';
import { fitHelp } from '../../src/cli/help-fit.js';
import { ROOT } from '../helpers/net.js';

interface Example {
  /** where it was found: `README.md:120`, `netkit tcp connect --help` */
  where: string;
  line: string;
}

/** Shell words up to the end of the line; `|`, `;`, `&`, `<`, `>`, `#`, `)` are separate tokens. */
function shellWords(line: string): Array<string | { op: string }> {
  const out: Array<string | { op: string }> = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      word = (word ?? '') + line.slice(i + 1, end === -1 ? line.length : end);
      i = end === -1 ? line.length : end;
    } else if (/\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
    } else if (word === null && /[|;&<>)#]/.test(c)) {
      out.push({ op: c });
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) out.push(word);
  return out;
}

const isPlaceholder = (word: string) => /[A-Z|…[\]]/.test(word);

function subcommand(cmd: Command, name: string): Command | undefined {
  return cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

/** The option `flag` of `cmd` or of a command above it (commander reads those too). */
function option(cmd: Command, flag: string): { takesValue: 'no' | 'yes' | 'maybe' } | undefined {
  if (flag === '-h' || flag === '--help') return { takesValue: 'no' };
  for (let c: Command | null = cmd; c; c = c.parent) {
    const o = c.options.find((o) => o.short === flag || o.long === flag);
    if (o) return { takesValue: o.required ? 'yes' : o.optional ? 'maybe' : 'no' };
  }
  return undefined;
}

/** What is wrong with the `netkit` commands in one shell line (several when it pipes). */
function commandProblems(program: Command, line: string): string[] {
  const problems: string[] = [];
  const words = shellWords(line);
  for (let k = 0; k < words.length; k++) {
    if (words[k] !== 'netkit') continue;
    const before = words[k - 1];
    // `netkit` as an argument (`cd netkit`), not as the command run
    if (typeof before === 'string' && !/^(npx|exec|env|time|[A-Z_]+=.*)$/.test(before)) continue;
    const args: string[] = [];
    for (let i = k + 1; i < words.length && typeof words[i] === 'string'; i++) args.push(words[i] as string);
    let cmd = program;
    let j = 0;
    for (; j < args.length && !args[j]!.startsWith('-'); j++) {
      const sub = subcommand(cmd, args[j]!);
      if (sub) cmd = sub;
      else if (cmd.commands.length === 0)
        break; // the first positional argument
      else {
        // `netkit help tcp` is main.ts's own; `netkit COMMAND`, `ftp ls|get` are placeholders
        if (args[j] !== 'help' && !isPlaceholder(args[j]!))
          problems.push(`"${cmd.name()}" has no subcommand "${args[j]}"`);
        j = args.length;
      }
    }
    const name = ['netkit', ...pathOf(cmd)].join(' ');
    for (; j < args.length; j++) {
      // a synopsis writes options in brackets: `[--port N] [--cert F --key F]`
      const arg = args[j]!.replace(/^\[+/, '').replace(/\]+$/, '');
      if (arg === '--') break;
      if (!/^--?[A-Za-z0-9]/.test(arg)) continue;
      const inline = arg.startsWith('--') && arg.includes('=');
      const flag = inline ? arg.slice(0, arg.indexOf('=')) : arg.startsWith('--') ? arg : arg.slice(0, 2);
      const o = option(cmd, flag);
      if (!o) {
        problems.push(`${name} has no option ${flag}`);
        continue;
      }
      const joined = inline || (!arg.startsWith('--') && arg.length > 2);
      if (joined) continue;
      const next = args[j + 1];
      if (o.takesValue === 'yes' || (o.takesValue === 'maybe' && next && !next.startsWith('-'))) j++;
    }
  }
  return problems;
}

function pathOf(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}

/**
 * `$ netkit …` lines of console blocks (with their `\` continuations), and inline `netkit …` code,
 * which may run on over a line break inside its paragraph (a synopsis does).
 */
function readmeExamples(markdown: string): Example[] {
  const examples: Example[] = [];
  const lines = markdown.split('\n');
  let fence: string | null = null;
  let paragraph: { start: number; text: string } | null = null;
  const endParagraph = () => {
    if (!paragraph) return;
    for (const m of paragraph.text.matchAll(/`(netkit [^`]+)`/g)) {
      const line = paragraph.start + paragraph.text.slice(0, m.index).split('\n').length - 1;
      examples.push({ where: `README.md:${line + 1}`, line: m[1]!.replace(/\n/g, ' ') });
    }
    paragraph = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trimStart().startsWith('```')) {
      endParagraph();
      fence = fence === null ? l.trim().slice(3) : null;
    } else if (fence === 'console' || fence === 'sh') {
      const m = fence === 'sh' ? /^(.*)$/.exec(l) : /^\s*\$ (.*)$/.exec(l);
      if (!m) continue;
      const where = `README.md:${i + 1}`;
      let line = m[1]!;
      while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
      examples.push({ where, line });
    } else if (fence === null) {
      if (l.trim() === '') endParagraph();
      else if (paragraph) paragraph.text += `\n${l}`;
      else paragraph = { start: i, text: l };
    }
  }
  endParagraph();
  return examples;
}

/** The `$ …` lines of every command's help, as `--help` prints them into a pipe. */
function helpExamples(program: Command): Example[] {
  const examples: Example[] = [];
  const visit = (cmd: Command) => {
    let text = '';
    cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    cmd.outputHelp();
    // fitted as the CLI prints it to a pipe: an example's comment then stands on a line of its own
    const lines = fitHelp(text, 80).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = /^\s*\$ (.*)$/.exec(lines[i]!);
      if (!m) continue;
      let line = m[1]!;
      while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
      examples.push({ where: `${['netkit', ...pathOf(cmd)].join(' ')} --help`, line });
    }
    cmd.commands.forEach(visit);
  };
  visit(program);
  return examples;
}

describe('netkit commands in the README and in --help', () => {
  let program: Command;
  beforeAll(async () => {
    program = await fullProgram();
  });

  const problemsIn = (examples: Example[]) =>
    examples.flatMap((e) => commandProblems(program, e.line).map((p) => `${e.where}: ${p}: ${e.line}`));

  it('every README command names a real command and its real options', () => {
    const examples = readmeExamples(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    expect(examples.filter((e) => e.line.includes('netkit ')).length).toBeGreaterThan(200);
    expect(problemsIn(examples)).toEqual([]);
  });

  it('every example of every --help names a real command and its real options', () => {
    const examples = helpExamples(program);
    expect(examples.length).toBeGreaterThan(200);
    expect(problemsIn(examples)).toEqual([]);
  });

  it('would catch a wrong flag, a wrong subcommand and a flag of another command', () => {
    const check = (line: string) => commandProblems(program, line);
    expect(check('echo hi | netkit tcp connect --tls --bogus 127.0.0.1 7')).toEqual([
      'netkit tcp connect has no option --bogus',
    ]);
    expect(check('netkit udp sned 127.0.0.1 7 hi')).toEqual(['"udp" has no subcommand "sned"']);
    expect(check('netkit pop3 list --user bob --save-attachments x')).toEqual([
      'netkit pop3 list has no option --save-attachments',
    ]);
    // an option's value is not read as an option; a placeholder is not a command
    expect(check("netkit http get -H '-x: 1' -d -1 -o - http://h/ --meta")).toEqual([]);
    expect(check('netkit ftp ls|get|put URL --whatever')).toEqual([]);
  });
});
