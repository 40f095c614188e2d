/**
 * Help fitted to 80 columns: `fitHelp` case by case (help-fit.ts), and then every command of the
 * real CLI, found by walking the registered commander tree, asked for `--help` with stdout a pipe
 * (commander's width is then 80): no line may be wider. The request commands of `netkit http`
 * printed 56 lines over 80 columns — commander gives up wrapping option descriptions when the
 * widest option (`-F, --multipart <name=value|name=@file>`) leaves them under 40 columns — and
 * the notes and examples of most commands were written for 100.
 */
import { describe, expect, it } from 'vitest';
import { commandTree } from '../../src/cli/completion.js';
import { fitHelp } from '../../src/cli/help-fit.js';
import { netkit } from '../helpers/net.js';

const W = 40;

describe('fitHelp', () => {
  const cases: Array<[string, string, string]> = [
    [
      'text that fits is left exactly as written',
      'a  b\n  $ x   y\n\n  t    d',
      'a  b\n  $ x   y\n\n  t    d',
    ],
    [
      'a paragraph with a line too long is reflowed',
      'one two three four five six seven eight nine ten\neleven twelve',
      'one two three four five six seven eight\nnine ten eleven twelve',
    ],
    [
      'a short paragraph beside it is not',
      'short line\nkept\n\nnine ten eleven twelve thirteen fourteen fifteen',
      'short line\nkept\n\nnine ten eleven twelve thirteen fourteen\nfifteen',
    ],
    [
      "an example's comment goes above it; the others keep their lines",
      'Examples:\n  $ netkit lab           everything on the default ports\n  $ netkit lab --json',
      'Examples:\n  # everything on the default ports\n  $ netkit lab\n  $ netkit lab --json',
    ],
    [
      'a # comment is not doubled',
      '  $ netkit ftp get ftp://h/f --active   # the server connects',
      '  # the server connects\n  $ netkit ftp get ftp://h/f --active',
    ],
    [
      'a command too long is continued with \\, an option kept with its value',
      '  $ netkit mail send --to bob@lab --subject hi --text hello',
      '  $ netkit mail send --to bob@lab \\\n      --subject hi --text hello',
    ],
    [
      'never inside quotes',
      `  $ netkit mail send --subject 'a b c d e f g h i' --to x`,
      `  $ netkit mail send \\\n      --subject 'a b c d e f g h i' \\\n      --to x`,
    ],
    [
      'after a pipe when the next command does not fit whole',
      "  $ printf 'GET / HTTP/1.0' | netkit tcp connect h 80",
      "  $ printf 'GET / HTTP/1.0' | \\\n      netkit tcp connect h 80",
    ],
    [
      'a redirection stays with its file',
      '  $ netkit tcp connect example.org 443 < /dev/null',
      '  $ netkit tcp connect example.org 443 \\\n      < /dev/null',
    ],
    [
      'a command continued by its author is joined and broken again, its comment kept',
      '  $ netkit http post http://h/login --form \\\n      user=bob -c jar.txt   log in',
      '  # log in\n  $ netkit http post http://h/login \\\n      --form user=bob -c jar.txt',
    ],
    [
      'the output an example shows stays under it',
      '  $ netkit http serve ./files --tls-port 8443\n  http listening on :8080\n  $ x',
      '  $ netkit http serve ./files \\\n      --tls-port 8443\n  http listening on :8080\n  $ x',
    ],
    [
      "a table row's description is wrapped in its column, a continuation line joined to it",
      '  get FILE      download a file (via\n                FILE.part, renamed when complete); also recv',
      '  get FILE      download a file (via\n                FILE.part, renamed when\n                complete); also recv',
    ],
    [
      'a description with too little room goes under its term',
      '  a-very-long-term-of-options    its description, which is long',
      '  a-very-long-term-of-options\n      its description, which is long',
    ],
    [
      'indented prose keeps its indent',
      '  echo (RFC 862) returns what it gets; discard (RFC 863) swallows it',
      '  echo (RFC 862) returns what it gets;\n  discard (RFC 863) swallows it',
    ],
    [
      'a word wider than the width stays whole',
      'see https://example.org/a/very/long/path/that/does/not/fit please',
      'see\nhttps://example.org/a/very/long/path/that/does/not/fit\nplease',
    ],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(fitHelp(input, W)).toBe(expected);
  });

  it('keeps the trailing newline and blank lines of a chunk', () => {
    expect(fitHelp('\nExamples:\n  $ a\n', W)).toBe('\nExamples:\n  $ a\n');
  });
});

describe('every command fits 80 columns', () => {
  it('no line of any --help is wider than 80 columns (stdout not a terminal)', async () => {
    const paths: string[][] = [];
    const visit = (c: Awaited<ReturnType<typeof commandTree>>): void => {
      paths.push(c.path);
      c.subcommands.forEach(visit);
    };
    visit(await commandTree());
    expect(paths.length).toBeGreaterThan(60);
    const wide: string[] = [];
    // a few at a time: each is a process
    for (let i = 0; i < paths.length; i += 8) {
      const helps = await Promise.all(paths.slice(i, i + 8).map((p) => netkit([...p, '--help'])));
      helps.forEach((r, k) => {
        const name = ['netkit', ...paths[i + k]!].join(' ');
        expect(r.code, `${name}: ${r.stderr}`).toBe(0);
        expect(r.stdout, name).toMatch(/^Usage: /);
        for (const line of r.stdout.split('\n'))
          if (line.length > 80) wide.push(`${name}: ${line.length}: ${line}`);
      });
    }
    expect(wide).toEqual([]);
  }, 120_000);
});
