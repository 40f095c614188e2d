/**
 * The pure parts of `netkit ftp shell`: splitting a typed line into words (quotes, escapes, the
 * pattern form that keeps quoted wildcards literal), quoting a completed name back, wildcard
 * matching, and the command table's name lookup (aliases, BSD-style prefixes).
 */
import { describe, expect, it } from 'vitest';
import { hostToUrl } from '../../src/cli/ftp-shell-session.js';
import { findCommand } from '../../src/cli/ftp-shell-table.js';
import { globToRegExp, hasGlob, matchGlob, splitGlobPath, unescapeGlob } from '../../src/ftp/glob.js';
import { lexShellLine, parseShellLine, quoteShellWord } from '../../src/ftp/shell-words.js';

const values = (line: string) => parseShellLine(line).map((w) => w.value);
const patterns = (line: string) => parseShellLine(line).map((w) => w.pattern);

describe('parseShellLine', () => {
  it.each<[string, string[]]>([
    ['', []],
    ['   \t ', []],
    ['ls', ['ls']],
    ['  get   a.txt\tb.txt  ', ['get', 'a.txt', 'b.txt']],
    ["get 'my file.txt'", ['get', 'my file.txt']],
    ['get "my file.txt" local', ['get', 'my file.txt', 'local']],
    ['get my\\ file.txt', ['get', 'my file.txt']],
    ["put 'it''s'", ['put', 'its']],
    ["put it\\'s", ['put', "it's"]],
    ['put "it\'s"', ['put', "it's"]],
    ['put \'say "hi"\'', ['put', 'say "hi"']],
    ['put "a \\"b\\" c"', ['put', 'a "b" c']],
    ['put "back\\\\slash"', ['put', 'back\\slash']],
    ['put "keep\\n"', ['put', 'keep\\n']],
    ["put 'no \\escape'", ['put', 'no \\escape']],
    ["mv a'b c'd e", ['mv', 'ab cd', 'e']],
    ["rm ''", ['rm', '']],
    ['rm ""x', ['rm', 'x']],
    ['cd dir#1', ['cd', 'dir#1']],
    ['# a comment', []],
    ['   # indented comment', []],
    ['quote SITE CHMOD 644 f', ['quote', 'SITE', 'CHMOD', '644', 'f']],
    ['get 日本語.txt', ['get', '日本語.txt']],
    ['get a\\\\b', ['get', 'a\\b']],
  ])('%j → %j', (line, expected) => {
    expect(values(line)).toEqual(expected);
  });

  it.each<[string, string]>([
    ["get 'abc", 'unterminated single quote'],
    ['get "abc', 'unterminated double quote'],
    ['get "a\\"', 'unterminated double quote'],
    ['get abc\\', 'the line ends with a backslash that escapes nothing'],
  ])('%j is refused: %s', (line, message) => {
    expect(() => parseShellLine(line)).toThrow(message);
    try {
      parseShellLine(line);
    } catch (err) {
      expect((err as { code: string }).code).toBe('NETKIT_USAGE');
    }
  });

  it('keeps wildcards only where they were typed bare', () => {
    expect(patterns('mget *.txt')).toEqual(['mget', '*.txt']);
    expect(patterns("mget '*.txt'")).toEqual(['mget', '\\*.txt']);
    expect(patterns('mget \\*.txt')).toEqual(['mget', '\\*.txt']);
    expect(patterns('mget "a?"*')).toEqual(['mget', 'a\\?*']);
    expect(patterns("mget '[x]'")).toEqual(['mget', '\\[x\\]']);
    expect(patterns("mget 'a\\b'")).toEqual(['mget', 'a\\\\b']);
    expect(patterns('mget plain.txt')).toEqual(['mget', 'plain.txt']);
  });

  it('words know where they start (completion replaces the last one)', () => {
    expect(parseShellLine("get  'a b' c").map((w) => w.start)).toEqual([0, 5, 11]);
    expect(parseShellLine('get x\\ y').map((w) => w.start)).toEqual([0, 4]);
    expect(parseShellLine('get \\ y').map((w) => w.start)).toEqual([0, 4]);
  });
});

describe('lexShellLine (a line being typed)', () => {
  it.each<[string, { words: string[]; openQuote?: string; inWord: boolean; danglingEscape?: boolean }]>([
    ['get ', { words: ['get'], inWord: false }],
    ['get re', { words: ['get', 're'], inWord: true }],
    ["get 'my f", { words: ['get', 'my f'], openQuote: "'", inWord: true }],
    ['get "my f', { words: ['get', 'my f'], openQuote: '"', inWord: true }],
    ["get ''", { words: ['get', ''], inWord: true }],
    ['get my\\', { words: ['get', 'my'], inWord: true, danglingEscape: true }],
  ])('%j', (line, expected) => {
    const lex = lexShellLine(line);
    expect(lex.words.map((w) => w.value)).toEqual(expected.words);
    expect(lex.openQuote).toBe(expected.openQuote);
    expect(lex.inWord).toBe(expected.inWord);
    expect(lex.danglingEscape).toBe(expected.danglingEscape ?? false);
  });
});

describe('quoteShellWord (completion writes names back)', () => {
  const names = [
    'plain.txt',
    'my file.txt',
    "it's",
    'say "hi"',
    'a\\b',
    '*.txt',
    '[x]?',
    'tab\there',
    '日本',
  ];
  it.each(names)('%j reads back as itself, bare and in either quote', (name) => {
    expect(values(`get ${quoteShellWord(name)}`)).toEqual(['get', name]);
    expect(values(`get ${quoteShellWord(name, "'", true)}`)).toEqual(['get', name]);
    expect(values(`get ${quoteShellWord(name, '"', true)}`)).toEqual(['get', name]);
    // a bare completion keeps wildcards literal
    expect(parseShellLine(`get ${quoteShellWord(name)}`)[1]!.pattern.replace(/\\(.)/g, '$1')).toBe(name);
  });
  it('continues an open quote without closing it for a directory', () => {
    expect(quoteShellWord('my dir/', "'")).toBe("'my dir/");
    expect(quoteShellWord('my file', "'", true)).toBe("'my file'");
    expect(quoteShellWord('my file')).toBe('my\\ file');
  });
});

describe('glob matching', () => {
  it.each<[string, string, boolean]>([
    ['*.txt', 'a.txt', true],
    ['*.txt', 'a.txt.bak', false],
    ['*.txt', '.hidden.txt', false],
    ['.*.txt', '.hidden.txt', true],
    ['*', 'anything at all', true],
    ['*', '.dot', false],
    ['?', 'a', true],
    ['?', 'ab', false],
    ['?', '日', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['[abc].bin', 'b.bin', true],
    ['[abc].bin', 'd.bin', false],
    ['[a-c]*', 'cat', true],
    ['[a-c]*', 'dog', false],
    ['[!a-c]*', 'dog', true],
    ['[^a-c]*', 'cat', false],
    ['[]]', ']', true],
    ['[!]]', 'x', true],
    ['[a-]', '-', true],
    ['[', '[', true],
    ['a[', 'a[', true],
    ['\\*.txt', '*.txt', true],
    ['\\*.txt', 'a.txt', false],
    ['a\\?', 'a?', true],
    ['a\\?', 'ab', false],
    ['\\[x\\]', '[x]', true],
    ['file(1).txt', 'file(1).txt', true],
    ['a+b.txt', 'a+b.txt', true],
    ['a+b.txt', 'aab.txt', false],
    ['$x^', '$x^', true],
    ['*.TXT', 'a.txt', false],
    ['data-*.csv', 'data-2024.csv', true],
    ['*2024*', 'report-2024-q1.pdf', true],
  ])('%j vs %j → %s', (pattern, name, expected) => {
    expect(matchGlob(pattern, name)).toBe(expected);
  });

  it('a backwards range is a usage error, not a crash', () => {
    expect(() => globToRegExp('[z-a]')).toThrow(/backwards/);
  });

  it.each<[string, boolean]>([
    ['*.txt', true],
    ['a?', true],
    ['[ab]', true],
    ['plain', false],
    ['\\*.txt', false],
    ['a\\?\\[', false],
  ])('hasGlob(%j) = %s', (pattern, expected) => {
    expect(hasGlob(pattern)).toBe(expected);
  });

  it('splits a directory part off, which may not hold wildcards', () => {
    expect(splitGlobPath('*.txt')).toEqual({ dir: '', name: '*.txt' });
    expect(splitGlobPath('docs/*.txt')).toEqual({ dir: 'docs', name: '*.txt' });
    expect(splitGlobPath('/pub/a?')).toEqual({ dir: '/pub', name: 'a?' });
    expect(splitGlobPath('/*')).toEqual({ dir: '/', name: '*' });
    expect(splitGlobPath('my\\ dir/*')).toEqual({ dir: 'my dir', name: '*' });
    expect(() => splitGlobPath('*/a.txt')).toThrow(/last path segment/);
    expect(unescapeGlob('a\\*b\\\\')).toBe('a*b\\');
  });
});

describe('the command table', () => {
  it.each<[string, string]>([
    ['get', 'get'],
    ['recv', 'get'],
    ['GET', 'get'],
    ['rm', 'delete'],
    ['mv', 'rename'],
    ['?', 'help'],
    ['quit', 'bye'],
    ['exit', 'bye'],
    ['bin', 'binary'],
    ['bi', 'binary'],
    ['mdel', 'mdelete'],
    ['disc', 'close'],
  ])('%j is %s', (name, canonical) => {
    expect(findCommand(name).names[0]).toBe(canonical);
  });

  it('ambiguous and unknown names are usage errors', () => {
    expect(() => findCommand('m')).toThrow(/ambiguous command "m": .*mget.*mput/);
    expect(() => findCommand('frobnicate')).toThrow('unknown command "frobnicate" (help lists the commands)');
  });

  it('turns HOST [PORT] into a URL', () => {
    expect(hostToUrl('127.0.0.1')).toBe('ftp://127.0.0.1/');
    expect(hostToUrl('127.0.0.1', '2121')).toBe('ftp://127.0.0.1:2121/');
    expect(hostToUrl('127.0.0.1:2121')).toBe('ftp://127.0.0.1:2121/');
    expect(hostToUrl('::1', '2121')).toBe('ftp://[::1]:2121/');
    expect(hostToUrl('[::1]:2121')).toBe('ftp://[::1]:2121/');
    expect(hostToUrl('ftp://h/pub/')).toBe('ftp://h/pub/');
    expect(() => hostToUrl('h', 'x')).toThrow('"x" is not a port');
    expect(() => hostToUrl('h:21', '22')).toThrow('already has a port');
    expect(() => hostToUrl('ftp://h/', '21')).toThrow(/in the URL/);
  });
});
