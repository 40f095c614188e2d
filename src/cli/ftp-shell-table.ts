/**
 * The commands of `netkit ftp shell` as one table: BSD ftp names first, then the sftp and lftp
 * aliases people type; each with its usage, help text, argument counts and what its arguments
 * complete to on TAB, and the FtpShell method that runs it (ftp-shell-session.ts).
 */
import { usageError } from '../core/errors.js';
import { maxOf } from '../core/format.js';
import type { ShellWord } from '../ftp/shell-words.js';
import type { FtpShell } from './ftp-shell-session.js';

/** A result line (stdout; notes and errors go to stderr). */
export const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

/** What an argument position completes to on TAB. */
export type ArgKind = 'remote' | 'remote-dir' | 'local' | 'local-dir' | 'command' | 'none';

export interface ShellCommand {
  /** the name, then its aliases */
  names: string[];
  /** the arguments as shown by `help` */
  usage: string;
  /** the usage in the command table, when `usage` is too long for it */
  synopsis?: string;
  help: string;
  min: number;
  max: number;
  /** needs a live connection */
  remote?: boolean;
  /** may change the server's files or directory: the completion cache is dropped afterwards */
  changes?: boolean;
  /** opens a connection itself: after Ctrl-C the shell does not log in again */
  connects?: boolean;
  /** what each argument completes to (the last one repeats), or a function of the words so far */
  complete?: ArgKind[] | ((index: number, words: string[]) => ArgKind);
  run(sh: FtpShell, args: ShellWord[], name: string): Promise<'exit' | undefined> | Promise<void>;
}

const remoteArgs: ArgKind[] = ['remote'];

/** Every command: BSD ftp names first, then the sftp and lftp aliases people type. */
export const COMMANDS: ShellCommand[] = [
  {
    names: ['open'],
    connects: true,
    usage: 'URL|HOST [PORT]',
    help: 'connect and log in; no argument: the last server again',
    min: 0,
    max: 2,
    changes: true,
    run: (sh, a) => sh.cmdOpen(a),
  },
  {
    names: ['user'],
    connects: true,
    usage: 'NAME [PASSWORD]',
    help: 'log in again as NAME (asks for the password on a terminal)',
    min: 1,
    max: 2,
    changes: true,
    run: (sh, a) => sh.cmdUser(a),
  },
  {
    names: ['close', 'disconnect'],
    usage: '',
    help: 'log out and close the connection; the shell stays',
    min: 0,
    max: 0,
    changes: true,
    run: async (sh) => sh.close(),
  },
  {
    names: ['ls'],
    usage: '[-l] [PATH|GLOB]',
    help: 'list a remote directory (-l: mode, size, time)',
    min: 0,
    max: 2,
    remote: true,
    complete: remoteArgs,
    run: (sh, a, n) => sh.cmdLs(a, n),
  },
  {
    names: ['dir'],
    usage: '[PATH|GLOB]',
    help: 'long listing of a remote directory (ls -l)',
    min: 0,
    max: 1,
    remote: true,
    complete: remoteArgs,
    run: (sh, a, n) => sh.cmdLs(a, n),
  },
  {
    names: ['cd', 'cwd'],
    usage: 'DIR',
    help: 'change the remote directory',
    min: 1,
    max: 1,
    remote: true,
    changes: true,
    complete: ['remote-dir'],
    run: (sh, a) => sh.cd(a[0]!.value),
  },
  {
    names: ['cdup'],
    usage: '',
    help: 'go to the parent remote directory',
    min: 0,
    max: 0,
    remote: true,
    changes: true,
    run: (sh) => sh.cd('..'),
  },
  {
    names: ['pwd'],
    usage: '',
    help: 'print the remote directory',
    min: 0,
    max: 0,
    remote: true,
    run: async (sh) => out(await sh.pwd()),
  },
  {
    names: ['lcd'],
    usage: '[DIR]',
    help: 'change the local directory (default: home)',
    min: 0,
    max: 1,
    complete: ['local-dir'],
    run: (sh, a) => sh.cmdLcd(a),
  },
  {
    names: ['lpwd'],
    usage: '',
    help: 'print the local directory',
    min: 0,
    max: 0,
    run: async (sh) => out(sh.localDir),
  },
  {
    names: ['lls'],
    usage: '[DIR|GLOB]',
    help: 'list a local directory',
    min: 0,
    max: 1,
    complete: ['local'],
    run: (sh, a) => sh.cmdLls(a),
  },
  {
    names: ['get', 'recv'],
    usage: 'REMOTE [LOCAL]',
    help: 'download a file (via LOCAL.part, renamed when complete)',
    min: 1,
    max: 2,
    remote: true,
    complete: ['remote', 'local'],
    run: (sh, a, n) => sh.get(a[0]!.value, a[1]?.value, false, n),
  },
  {
    names: ['reget'],
    usage: 'REMOTE [LOCAL]',
    help: 'resume a download from LOCAL.part with REST',
    min: 1,
    max: 2,
    remote: true,
    complete: ['remote', 'local'],
    run: (sh, a, n) => sh.get(a[0]!.value, a[1]?.value, true, n),
  },
  {
    names: ['put', 'send'],
    usage: 'LOCAL [REMOTE]',
    help: 'upload a file',
    min: 1,
    max: 2,
    remote: true,
    changes: true,
    complete: ['local', 'remote'],
    run: (sh, a, n) => sh.put(a[0]!.value, a[1]?.value, false, n),
  },
  {
    names: ['reput'],
    usage: 'LOCAL [REMOTE]',
    help: 'resume an upload: append the missing tail (APPE)',
    min: 1,
    max: 2,
    remote: true,
    changes: true,
    complete: ['local', 'remote'],
    run: (sh, a, n) => sh.put(a[0]!.value, a[1]?.value, true, n),
  },
  {
    names: ['mget'],
    usage: 'GLOB…',
    help: 'download every remote file matching (* ? [a-z])',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    complete: remoteArgs,
    run: (sh, a, n) => sh.cmdMget(a, n),
  },
  {
    names: ['mput'],
    usage: 'GLOB…',
    help: 'upload every local file matching',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    changes: true,
    complete: ['local'],
    run: (sh, a, n) => sh.cmdMput(a, n),
  },
  {
    names: ['mkdir'],
    usage: '[-p] DIR…',
    help: 'create remote directories (-p: with their parents)',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    changes: true,
    complete: ['remote-dir'],
    run: (sh, a) => sh.mkdir(a),
  },
  {
    names: ['rmdir'],
    usage: 'DIR…',
    help: 'remove empty remote directories',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    changes: true,
    complete: ['remote-dir'],
    run: (sh, a) => sh.rmdir(a),
  },
  {
    names: ['delete', 'rm'],
    usage: 'FILE…',
    help: 'delete remote files (no wildcards: see mdelete)',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    changes: true,
    complete: remoteArgs,
    run: (sh, a, n) => sh.cmdDelete(a, false, n),
  },
  {
    names: ['mdelete'],
    usage: 'GLOB…',
    help: 'delete every remote file matching',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    changes: true,
    complete: remoteArgs,
    run: (sh, a, n) => sh.cmdDelete(a, true, n),
  },
  {
    names: ['rename', 'mv'],
    usage: 'FROM TO',
    help: 'rename or move a remote file or directory',
    min: 2,
    max: 2,
    remote: true,
    changes: true,
    complete: ['remote', 'remote'],
    run: (sh, a) => sh.rename(a[0]!.value, a[1]!.value),
  },
  {
    names: ['size'],
    usage: 'FILE…',
    help: 'size of remote files in bytes (SIZE)',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    complete: remoteArgs,
    run: (sh, a) => sh.cmdSize(a),
  },
  {
    names: ['modtime'],
    usage: 'FILE…',
    help: 'modification time of remote files, UTC (MDTM)',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    complete: remoteArgs,
    run: (sh, a) => sh.cmdModtime(a),
  },
  {
    names: ['mirror'],
    usage: '[-R|--reverse] [--delete] [--only-newer] [-n|--dry-run] SRC [DST]',
    synopsis: '[OPTIONS] SRC [DST]',
    help: 'copy a remote tree here (-R/--reverse: a local one there)',
    min: 1,
    max: 6,
    remote: true,
    changes: true,
    complete: (i, words) => {
      const reverse = words.includes('-R') || words.includes('--reverse');
      const operands = words.filter((w) => !w.startsWith('-')).length;
      if (i < 0) return 'none';
      return (operands === 0) !== reverse ? 'remote-dir' : 'local-dir';
    },
    run: (sh, a) => sh.cmdMirror(a),
  },
  {
    names: ['binary', 'bin', 'image'],
    usage: '',
    help: 'binary transfers, byte for byte (TYPE I, the default)',
    min: 0,
    max: 0,
    remote: true,
    run: (sh) => sh.cmdType('I'),
  },
  {
    names: ['ascii', 'asc'],
    usage: '',
    help: 'text transfers, line ends converted (TYPE A)',
    min: 0,
    max: 0,
    remote: true,
    run: (sh) => sh.cmdType('A'),
  },
  {
    names: ['passive'],
    usage: '[on|off]',
    help: 'toggle or set passive mode (EPSV, PASV); off = active mode (PORT, EPRT)',
    min: 0,
    max: 1,
    run: async (sh, a) => sh.cmdPassive(a),
  },
  {
    names: ['prompt'],
    usage: '[on|off]',
    help: 'ask before each file of mget/mput/mdelete (default off)',
    min: 0,
    max: 1,
    run: async (sh, a) => sh.cmdPrompt(a),
  },
  {
    names: ['status'],
    usage: '',
    help: 'connection, directories and settings',
    min: 0,
    max: 0,
    run: async (sh) => sh.cmdStatus(),
  },
  {
    names: ['quote', 'literal'],
    usage: 'COMMAND [ARG…]',
    help: 'send a raw command, print the reply (PASS refused)',
    min: 1,
    max: Number.POSITIVE_INFINITY,
    remote: true,
    changes: true,
    run: (sh, a) => sh.cmdQuote(a),
  },
  {
    names: ['help', '?'],
    usage: '[COMMAND…]',
    help: 'list the commands, or explain one',
    min: 0,
    max: Number.POSITIVE_INFINITY,
    complete: ['command'],
    run: async (sh, a) => sh.cmdHelp(a),
  },
  {
    names: ['bye', 'quit', 'exit'],
    usage: '',
    help: 'close the connection and leave (Ctrl-D too)',
    min: 0,
    max: 0,
    run: async () => 'exit' as const,
  },
];

/** The commands as a table: `name usage` and what it does, aliases after it (help, --help). */
export function commandTable(indent = ''): string {
  const rows = COMMANDS.map((c) => [
    `${c.names[0]} ${c.synopsis ?? c.usage}`.trimEnd(),
    `${c.help}${c.names.length > 1 ? `; also ${c.names.slice(1).join(', ')}` : ''}`,
  ]);
  const width = maxOf(rows.map(([left]) => left!.length));
  return rows.map(([left, right]) => `${indent}${left!.padEnd(width)}  ${right}`).join('\n');
}

/**
 * The command a typed name stands for: a name or alias, or (as in BSD ftp) an unambiguous
 * prefix of one (`bin`, `mkd`). Unknown and ambiguous names are usage errors.
 */
export function findCommand(name: string): ShellCommand {
  const lower = name.toLowerCase();
  const exact = COMMANDS.find((c) => c.names.includes(lower));
  if (exact) return exact;
  const prefixed = COMMANDS.filter((c) => c.names.some((n) => n.startsWith(lower)));
  if (lower !== '' && prefixed.length === 1) return prefixed[0]!;
  if (prefixed.length > 1 && lower !== '')
    throw usageError(
      `ambiguous command "${name}": ${prefixed.map((c) => c.names.find((n) => n.startsWith(lower))).join(', ')}`,
    );
  throw usageError(`unknown command "${name}" (help lists the commands)`);
}
