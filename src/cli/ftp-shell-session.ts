/**
 * The session of `netkit ftp shell`: the state the commands share — the connection, the login to
 * reconnect with, the remote and local directories, the transfer type — and what each command
 * does. The command table (names, aliases, usage, help, what arguments complete to) is
 * ftp-shell-table.ts; the terminal (prompt, history, Ctrl-C, reading a script) is ftp-shell.ts;
 * this module only turns one line into one action and reports its outcome.
 *
 * It stays a thin layer: connections, transfers, listings, mirror and their output formats are
 * the ones of `netkit ftp get|put|ls|mirror` (ftp-client.ts over {@link FtpClient}); line words and
 * wildcards are pure functions in src/ftp (shell-words.ts, glob.ts).
 *
 * Remote paths are relative to the server's working directory (CWD), as in every FTP client; the
 * local directory is the shell's own (`lcd` never changes the process's directory). Each failure
 * is one line on stderr — the server's reply where there was one — and the shell goes on; a
 * connection the server dropped is reported and `open` reconnects. Ctrl-C during a command closes
 * the connection, which is the one way to stop a transfer that works with every server (ABOR is
 * answered differently by each, and a late reply would be taken for the next command's), keeps
 * the `.part` file for `reget`, and logs in again with the same login and directory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { formatHostPort } from '../core/address.js';
import { writesInPlace } from '../core/datadir.js';
import { errorMessage, NetkitError, usageError } from '../core/errors.js';
import { fromNetworkAscii, toNetworkAscii } from '../ftp/ascii.js';
import {
  type FtpClient,
  type FtpEntry,
  type FtpTransferResult,
  toFtpClientError,
  withResumeAdvice,
} from '../ftp/client.js';
import type { ActiveModeOptions } from '../ftp/client-active.js';
import { joinRemote, parseFtpUrl, remoteBasename } from '../ftp/ftp-url.js';
import { hasGlob, matchGlob, splitGlobPath } from '../ftp/glob.js';
import { displayName, unsafeNameReason } from '../ftp/safe-name.js';
import { lexShellLine, parseShellLine, quoteShellWord, type ShellWord } from '../ftp/shell-words.js';
import {
  activeOption,
  type CommonOptions,
  checkLocalFile,
  formatListing,
  localTarget,
  open,
  runMirror,
  trackTransfer,
  transferMessage,
} from './ftp-client.js';
import { COMMANDS, commandTable, findCommand, out, type ShellCommand } from './ftp-shell-table.js';
import { formatBytes } from './util.js';

/** Where a session connects to: the URL without its login, and the login to use there. */
interface Target {
  url: string;
  user?: string;
  password?: string;
}

/** Options of the shell: the login, TLS and trace flags of every `ftp` client command. */
export type ShellOptions = Omit<CommonOptions, 'json' | 'quiet'>;

export interface ShellSettings {
  /** stdin is a terminal: prompts for passwords and `prompt` confirmations, progress bars */
  interactive: boolean;
}

/** `host`, `host:port`, `[v6]:port`, or a bare IPv6 address, with an optional separate port, as a URL. */
export function hostToUrl(host: string, port?: string): string {
  if (/^ftps?:\/\//i.test(host)) {
    if (port !== undefined) throw usageError('give the port in the URL, not after it');
    return host;
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port)) throw usageError(`"${port}" is not a port`);
  const bare = (host.match(/:/g) ?? []).length > 1 && !host.startsWith('[') ? `[${host}]` : host;
  if (port !== undefined && /(^[^[].*:\d+$)|(\]:\d+$)/.test(bare))
    throw usageError(`"${host}" already has a port`);
  return `ftp://${bare}${port !== undefined ? `:${port}` : ''}/`;
}

/** The URL without `user[:password]@` (the login is kept apart, so `user` can replace it). */
function withoutLogin(url: string): string {
  return url.replace(/^(ftps?:\/\/)[^/]*@/i, '$1');
}

const note = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

function flagsAndOperands(
  args: ShellWord[],
  known: Record<string, string>,
): { flags: Set<string>; operands: ShellWord[] } {
  const flags = new Set<string>();
  const operands: ShellWord[] = [];
  let ended = false;
  for (const a of args) {
    if (!ended && a.value === '--') ended = true;
    else if (!ended && a.value.startsWith('-') && a.value.length > 1) {
      const flag = known[a.value];
      if (!flag) throw usageError(`unknown option ${a.value}`);
      flags.add(flag);
    } else operands.push(a);
  }
  return { flags, operands };
}

export class FtpShell {
  private client: FtpClient | undefined;
  /** the connection being set up (Ctrl-C closes it too) */
  private connecting: FtpClient | undefined;
  private target: Target | undefined;
  /** the server's working directory after the last login or cd (restored after a reconnect) */
  private remoteDir: string | undefined;
  /** the login flags, used by the first connection only */
  private firstLogin: { user?: string; password?: string } | undefined;
  localDir = process.cwd();
  private ascii = false;
  private prompting = false;
  /** `passive off` switches to active mode, with the --active-address/--active-ports settings */
  private passive: boolean;
  private readonly activeSettings: true | ActiveModeOptions;
  /** commands (or files of an mget/mput) that failed */
  failures = 0;
  private busy = false;
  private interrupted = false;
  /** remote directory listings for TAB completion, by path relative to the working directory */
  private listings = new Map<string, Promise<FtpEntry[]>>();

  constructor(
    private readonly opts: ShellOptions,
    readonly settings: ShellSettings,
  ) {
    const login: { user?: string; password?: string } = {};
    if (opts.user !== undefined) login.user = opts.user;
    if (opts.password !== undefined) login.password = opts.password;
    this.firstLogin = login;
    const active = activeOption(opts);
    this.passive = active === false;
    this.activeSettings = active === false ? true : active;
  }

  /** progress bars only when a person is watching */
  private get progress(): boolean {
    return this.settings.interactive && process.stderr.isTTY === true;
  }

  private get where(): string {
    const c = this.client ?? this.connecting;
    if (!c) return 'the server';
    return formatHostPort(c.host, c.port);
  }

  /** Report a failure (one line on stderr) and count it. */
  fail(err: unknown): void {
    this.failures++;
    note(errorMessage(err));
  }

  private need(): FtpClient {
    if (!this.client) throw new NetkitError('NETKIT_USAGE', 'not connected (open HOST first)');
    return this.client;
  }

  /** Run one line. Resolves 'exit' for bye/quit/exit; failures are reported here, never thrown. */
  async execute(line: string): Promise<'exit' | undefined> {
    const text = line.replace(/\r$/, '');
    if (/^\s*!/.test(text)) {
      this.fail(usageError('local shell commands (!) are not supported: this shell runs nothing locally'));
      return undefined;
    }
    let words: ShellWord[];
    try {
      words = parseShellLine(text);
    } catch (err) {
      this.fail(err);
      return undefined;
    }
    if (words.length === 0) return undefined;
    const name = words[0]!.value;
    const args = words.slice(1);
    let cmd: ShellCommand;
    try {
      cmd = findCommand(name);
      if (args.some((a) => /[\r\n\0]/.test(a.value)))
        throw usageError('arguments cannot contain CR, LF or NUL');
      if (args.length < cmd.min || args.length > cmd.max)
        throw usageError(`usage: ${cmd.names[0]} ${cmd.usage}`.trimEnd());
      if (cmd.remote) {
        if (this.client?.closed) this.lost();
        this.need();
      }
    } catch (err) {
      this.fail(err);
      return undefined;
    }
    const wasConnected = this.client !== undefined;
    this.busy = true;
    this.interrupted = false;
    try {
      return (await cmd.run(this, args, name)) ?? undefined;
    } catch (err) {
      if (this.interrupted && !(err instanceof InterruptedNote)) this.fail('interrupted');
      else this.fail(err);
      return undefined;
    } finally {
      if (cmd.changes) this.listings.clear();
      if (this.interrupted) {
        // still busy: a second Ctrl-C stops the new login too
        this.interrupted = false;
        if (wasConnected && this.target && !cmd.connects) await this.reconnect();
        this.interrupted = false;
      } else if (this.client?.closed) this.lost();
      this.busy = false;
    }
  }

  /** Ctrl-C: stop the running command by aborting its connection (the shell logs in again). */
  interrupt(): void {
    if (!this.busy) return;
    this.interrupted = true;
    this.connecting?.close();
    this.client?.abort();
  }

  /** The server closed the connection, or it broke: say so once and forget it. */
  private lost(): void {
    note(`connection to ${this.where} closed; "open" connects again`);
    this.client?.close();
    this.client = undefined;
    this.listings.clear();
  }

  private drop(): void {
    this.client?.close();
    this.client = undefined;
    this.remoteDir = undefined;
    this.listings.clear();
  }

  /** Connect and log in to `target` (in the transfer type the shell is in). */
  private async connect(target: Target): Promise<void> {
    this.drop();
    this.target = target;
    const opts: CommonOptions = { ...this.opts };
    delete opts.user;
    delete opts.password;
    if (target.user !== undefined) opts.user = target.user;
    if (target.password !== undefined) opts.password = target.password;
    try {
      const { client, login } = await open(target.url, opts, (c) => {
        this.connecting = c;
      });
      this.client = client;
      client.setActive(this.passive ? false : this.activeSettings);
      // the password used (given, prompted for, or from ~/.netrc) is kept for reconnecting
      this.target = { url: target.url, user: login.user, password: login.password };
    } finally {
      this.connecting = undefined;
    }
    if (this.ascii) await this.setType('A');
    this.remoteDir = await this.client.raw.pwd().catch(() => undefined);
  }

  /** After Ctrl-C: the same login, the same directory, the same type. */
  private async reconnect(): Promise<void> {
    const target = this.target!;
    const dir = this.remoteDir;
    try {
      await this.connect(target);
      if (dir !== undefined) await this.cd(dir);
    } catch (err) {
      note(`logging in again failed: ${errorMessage(err)}`);
    }
  }

  /** Connect to the URL given on the command line (a failure is reported like any command's). */
  async start(url: string): Promise<void> {
    await this.execute(`open ${quoteShellWord(url)}`);
  }

  async close(): Promise<void> {
    this.drop();
  }

  // ---- helpers for the commands ----

  /** A local path relative to `lcd` (`~` is the home directory); a trailing `/` is kept (a directory). */
  localPath(p: string): string {
    const full = /^~(\/|$)/.test(p) ? path.join(os.homedir(), p.slice(1)) : path.resolve(this.localDir, p);
    return /[/\\]$/.test(p) && full !== path.parse(full).root ? `${full}${path.sep}` : full;
  }

  /** A local path as the user would write it: relative to `lcd` when below it. */
  showLocal(p: string): string {
    const rel = path.relative(this.localDir, p);
    return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
  }

  private async list(dir: string): Promise<FtpEntry[]> {
    const entries = (await this.need().list(dir)).filter((e) => e.name !== '.' && e.name !== '..');
    this.listings.set(dir, Promise.resolve(entries));
    return entries;
  }

  /** Remote files matching each word (wildcards matched against the listing); none is an error. */
  private async remoteMatches(words: ShellWord[], cmd: string): Promise<string[]> {
    const names: string[] = [];
    for (const w of words) {
      if (!hasGlob(w.pattern)) {
        names.push(w.value);
        continue;
      }
      const { dir, name } = splitGlobPath(w.pattern);
      const found: string[] = [];
      for (const e of await this.list(dir)) {
        if (e.type !== 'file' || !matchGlob(name, e.name)) continue;
        // a name no local file could have (../x, a/b, control characters) is not taken
        const why = unsafeNameReason(e.name);
        if (why) note(`netkit: warning: skipped remote ${displayName(e.name)}: ${why}`);
        else found.push(e.name);
      }
      found.sort();
      if (found.length === 0) this.fail(`${cmd}: no remote file matches ${w.value}`);
      names.push(...found.map((n) => joinRemote(dir, n)));
    }
    return names;
  }

  /** Local files matching each word (wildcards matched against the directory); none is an error. */
  private async localMatches(words: ShellWord[], cmd: string): Promise<string[]> {
    const files: string[] = [];
    for (const w of words) {
      if (!hasGlob(w.pattern)) {
        files.push(this.localPath(w.value));
        continue;
      }
      const { dir, name } = splitGlobPath(w.pattern);
      const base = this.localPath(dir || '.');
      const found: string[] = [];
      const names = await readdir(base).catch(() => {
        throw new NetkitError('NETKIT_NOT_FOUND', `${cmd}: no local directory ${dir || '.'}`);
      });
      for (const n of names.sort()) {
        if (!matchGlob(name, n)) continue;
        const st = await stat(path.join(base, n)).catch(() => undefined);
        if (st?.isFile()) found.push(path.join(base, n));
      }
      if (found.length === 0) this.fail(`${cmd}: no local file matches ${w.value}`);
      files.push(...found);
    }
    return files;
  }

  /** `prompt` mode on a terminal: ask before each file of an mget/mput/mdelete. */
  private async confirm(question: string): Promise<'yes' | 'no' | 'all' | 'quit'> {
    if (!this.prompting || !this.settings.interactive) return 'all';
    const answer = await ask(`${question} [y]es [n]o [a]ll [q]uit? `);
    const a = answer.trim().toLowerCase();
    if (a === 'a' || a === 'all') return 'all';
    if (a === 'q' || a === 'quit') return 'quit';
    if (a === 'n' || a === 'no') return 'no';
    return 'yes';
  }

  /** Run `each` over `items`, asking first in prompt mode; one failure does not stop the rest. */
  private async forEach(items: string[], verb: string, each: (item: string) => Promise<void>): Promise<void> {
    let asking = true;
    for (const item of items) {
      if (asking) {
        const a = await this.confirm(`${verb} ${displayName(item)}`);
        if (a === 'quit') break;
        if (a === 'no') continue;
        if (a === 'all') asking = false;
      }
      try {
        await each(item);
      } catch (err) {
        if (this.interrupted) throw err;
        this.fail(err);
        if (this.client?.closed) return;
      }
    }
  }

  private async setType(t: 'A' | 'I'): Promise<string> {
    const res = await this.need().command(`TYPE ${t}`);
    if (res.code >= 400) throw new NetkitError('NETKIT_PROTOCOL', `type: ${res.message.trim()}`);
    return res.message.trim();
  }

  async cd(dir: string): Promise<void> {
    const client = this.need();
    try {
      await client.raw.cd(dir);
    } catch (err) {
      throw toFtpClientError(err, `cd ${dir}`);
    }
    this.remoteDir = await client.raw.pwd().catch(() => undefined);
  }

  /**
   * A transfer that failed: how to go on. Interrupted (Ctrl-C): what the part file kept and the
   * command that resumes (`reget`, `reput`); otherwise the client's own message, with its
   * `--continue` advice (the one-shot commands' flag) turned into the shell's command.
   */
  private async transferFailure(err: unknown, how: { again?: string; part?: string }): Promise<unknown> {
    if (this.interrupted) {
      if (how.part) {
        const size = await stat(how.part).then(
          (s) => s.size,
          () => undefined,
        );
        return new InterruptedNote(
          size === undefined
            ? 'interrupted: nothing received'
            : `interrupted: ${this.showLocal(how.part)} kept (${formatBytes(size)}); "${how.again}" resumes`,
        );
      }
      return new InterruptedNote(how.again ? `interrupted: "${how.again}" sends the rest` : 'interrupted');
    }
    if (!how.again) return err;
    return withResumeAdvice(err, {
      resume: `resume with "${how.again}"`,
      restRefused: `but the server refused REST, so "${how.again}" cannot resume it`,
    });
  }

  async get(remote: string, localArg: string | undefined, resume: boolean, verb: string): Promise<void> {
    const client = this.need();
    const local = await localTarget(
      remote,
      localArg === undefined ? `${this.localDir}${path.sep}` : this.localPath(localArg),
    );
    if (this.ascii && resume)
      throw usageError(`${verb} needs binary mode (resuming would misplace converted line ends)`);
    const again = `reget ${quoteShellWord(remote)}${localArg !== undefined ? ` ${quoteShellWord(localArg)}` : ''}`;
    const bar = trackTransfer(client, path.basename(local), { quiet: !this.progress });
    let r: FtpTransferResult;
    try {
      r = this.ascii
        ? await this.getAscii(client, remote, local)
        : await client.get(remote, local, { resume, mtime: true });
    } catch (err) {
      bar.finish();
      throw await this.transferFailure(err, this.ascii ? {} : { again, part: `${local}.part` });
    }
    bar.finish();
    note(transferMessage('saved', this.showLocal(local), r));
  }

  async put(localArg: string, remoteArg: string | undefined, resume: boolean, verb: string): Promise<void> {
    const client = this.need();
    const local = this.localPath(localArg);
    await checkLocalFile(local);
    if (this.ascii && resume)
      throw usageError(`${verb} needs binary mode (resuming would misplace converted line ends)`);
    const name = path.basename(local);
    const remote =
      remoteArg === undefined ? name : remoteArg.endsWith('/') ? joinRemote(remoteArg, name) : remoteArg;
    const again = `reput ${quoteShellWord(localArg)} ${quoteShellWord(remote)}`;
    const bar = trackTransfer(client, name, { quiet: !this.progress });
    let r: FtpTransferResult;
    try {
      r = this.ascii
        ? await this.putAscii(client, local, remote)
        : await client.put(local, remote, { resume });
    } catch (err) {
      bar.finish();
      throw await this.transferFailure(err, this.ascii ? {} : { again });
    }
    bar.finish();
    note(transferMessage('uploaded', remote, r));
  }

  /**
   * TYPE A download: the server sends CRLF lines, stored here with LF (ascii.ts, the server's own
   * conversion). Through a part file like binary downloads, removed on failure: an ASCII transfer
   * is never resumed, its offsets differ between the two forms.
   */
  private async getAscii(client: FtpClient, remote: string, local: string): Promise<FtpTransferResult> {
    const t0 = Date.now();
    // a device or FIFO is written in place: a part file renamed over it would replace it
    const inPlace = await writesInPlace(local);
    const part = inPlace ? local : `${local}.part`;
    const convert = fromNetworkAscii();
    const written = pipeline(convert, createWriteStream(part));
    // a part file that cannot be written fails the transfer (below), never the process
    written.catch(() => {});
    let r: FtpTransferResult;
    try {
      r = await client.getStream(remote, convert);
      convert.end();
      await written;
      if (!inPlace) await rename(part, local);
    } catch (err) {
      convert.destroy();
      await written.catch(() => {});
      if (!inPlace) await unlink(part).catch(() => {});
      throw err;
    }
    const size = inPlace ? r.transferred : (await stat(local)).size;
    return { ...r, path: local, size, ms: Date.now() - t0 };
  }

  /** TYPE A upload: local LF lines go out as CRLF (the server stores them in its own form). */
  private async putAscii(client: FtpClient, local: string, remote: string): Promise<FtpTransferResult> {
    const t0 = Date.now();
    const source = toNetworkAscii();
    // pipeline: a file that cannot be read ends the upload with its error, and closes the file
    const reading = pipeline(createReadStream(local), source);
    reading.catch(() => {});
    try {
      await client.putStream(source, remote);
      await reading;
    } catch (err) {
      source.destroy();
      throw toFtpClientError(err, `put ${remote}`);
    }
    const size = (await stat(local)).size;
    return {
      path: remote,
      size,
      transferred: size,
      resumedFrom: 0,
      alreadyComplete: false,
      ms: Date.now() - t0,
    };
  }

  // ---- the commands (the table below calls these) ----

  async pwd(): Promise<string> {
    const client = this.need();
    try {
      this.remoteDir = await client.raw.pwd();
    } catch (err) {
      throw toFtpClientError(err, 'pwd');
    }
    return this.remoteDir;
  }

  async mkdir(args: ShellWord[]): Promise<void> {
    const client = this.need();
    const { flags, operands } = flagsAndOperands(args, { '-p': 'parents' });
    if (operands.length === 0) throw usageError('usage: mkdir [-p] DIR…');
    await this.forEach(
      operands.map((a) => a.value),
      'mkdir',
      async (dir) => {
        await client.mkdir(dir, { parents: flags.has('parents') });
        out(`created ${displayName(dir)}`);
      },
    );
  }

  async rmdir(args: ShellWord[]): Promise<void> {
    const client = this.need();
    await this.forEach(
      args.map((a) => a.value),
      'rmdir',
      async (dir) => {
        await client.removeEmptyDir(dir);
        out(`removed ${displayName(dir)}`);
      },
    );
  }

  async rename(from: string, to: string): Promise<void> {
    await this.need().rename(from, to);
    out(`renamed ${displayName(from)} -> ${displayName(to)}`);
  }

  async cmdOpen(args: ShellWord[]): Promise<void> {
    if (args.length === 0) {
      if (!this.target) throw usageError('usage: open URL|HOST [PORT] (no earlier connection to open again)');
      const dir = this.remoteDir;
      await this.connect(this.target);
      out(`Connected to ${this.where} as ${this.target?.user}.`);
      if (dir !== undefined) await this.cd(dir);
      return;
    }
    const url = hostToUrl(args[0]!.value, args[1]?.value);
    const parsed = parseFtpUrl(url);
    const first = this.firstLogin;
    this.firstLogin = undefined;
    const target: Target = { url: withoutLogin(url) };
    const user = parsed.user ?? first?.user;
    if (user !== undefined) target.user = user;
    const password = parsed.user !== undefined ? parsed.password : (first?.password ?? parsed.password);
    if (password !== undefined) target.password = password;
    try {
      await this.connect(target);
    } catch (err) {
      if (err instanceof NetkitError && err.code === 'NETKIT_AUTH')
        throw new NetkitError(err.code, `${err.message} ("user NAME" logs in as someone else)`);
      throw err;
    }
    out(`Connected to ${this.where} as ${this.target?.user}.`);
    const dir = parsed.path.replace(/(.)\/+$/, '$1');
    if (dir !== '') await this.cd(dir);
  }

  async cmdUser(args: ShellWord[]): Promise<void> {
    if (!this.target) throw usageError('not connected (open HOST first)');
    const target: Target = { url: this.target.url, user: args[0]!.value };
    if (args[1]) target.password = args[1].value;
    await this.connect(target);
    out(`Logged in to ${this.where} as ${target.user}.`);
  }

  async cmdLs(args: ShellWord[], name: string): Promise<void> {
    const { flags, operands } = flagsAndOperands(args, { '-l': 'long', '-la': 'long', '-al': 'long' });
    if (operands.length > 1) throw usageError(`usage: ${name} [-l] [PATH]`);
    const long = flags.has('long') || name === 'dir';
    const w = operands[0];
    let entries: FtpEntry[];
    if (w && hasGlob(w.pattern)) {
      const { dir, name: pat } = splitGlobPath(w.pattern);
      entries = (await this.list(dir)).filter((e) => matchGlob(pat, e.name));
      if (entries.length === 0)
        throw new NetkitError('NETKIT_NOT_FOUND', `ls: no remote file matches ${w.value}`);
    } else entries = await this.list(w?.value ?? '');
    for (const line of formatListing(entries, long)) out(line);
  }

  async cmdMget(args: ShellWord[], name: string): Promise<void> {
    const names = await this.remoteMatches(args, name);
    await this.forEach(names, 'get', (remote) => this.get(remote, undefined, false, 'mget'));
  }

  async cmdMput(args: ShellWord[], name: string): Promise<void> {
    const files = (await this.localMatches(args, name)).map((f) => this.showLocal(f));
    await this.forEach(files, 'put', (local) => this.put(local, undefined, false, 'mput'));
  }

  async cmdDelete(args: ShellWord[], glob: boolean, name: string): Promise<void> {
    const client = this.need();
    const names = glob ? await this.remoteMatches(args, name) : args.map((a) => a.value);
    await this.forEach(names, 'delete', async (remote) => {
      await client.remove(remote);
      out(`removed ${displayName(remote)}`);
    });
  }

  async cmdMirror(args: ShellWord[]): Promise<void> {
    const { flags, operands } = flagsAndOperands(args, {
      '-R': 'reverse',
      '--reverse': 'reverse',
      '--delete': 'delete',
      '--only-newer': 'only-newer',
      '-n': 'dry-run',
      '--dry-run': 'dry-run',
    });
    if (operands.length < 1 || operands.length > 2)
      throw usageError('usage: mirror [--reverse] [--delete] [--only-newer] [--dry-run] SRC [DST]');
    const reverse = flags.has('reverse');
    const src = operands[0]!.value;
    const base = reverse
      ? path.basename(path.resolve(this.localDir, src))
      : remoteBasename(src.replace(/\/+$/, ''));
    const dst = operands[1]?.value ?? (base && base !== '.' && base !== '..' ? base : undefined);
    if (dst === undefined)
      throw usageError(`mirror: name the ${reverse ? 'remote' : 'local'} directory (DST)`);
    const [remote, local] = reverse ? [dst, src] : [src, dst];
    const remoteDir = remote === '.' ? '' : remote.replace(/(.)\/+$/, '$1');
    await runMirror(
      this.need(),
      {
        reverse,
        remoteDir,
        localDir: this.localPath(local),
        onlyNewer: flags.has('only-newer'),
        delete: flags.has('delete'),
        dryRun: flags.has('dry-run'),
        maxEntries: this.opts.maxEntries,
      },
      { progress: this.progress },
    );
  }

  async cmdQuote(args: ShellWord[]): Promise<void> {
    const line = args.map((a) => a.value).join(' ');
    if (/^\s*PASS\b/i.test(line))
      throw usageError('quote PASS is refused (it would put the password in the trace): use "user NAME"');
    const res = await this.need().command(line);
    const reply = res.message.replace(/\r?\n$/, '');
    if (res.code >= 400) throw new NetkitError('NETKIT_PROTOCOL', reply.replace(/\r?\n/g, ' '));
    out(reply.replace(/\r\n/g, '\n'));
  }

  async cmdLcd(args: ShellWord[]): Promise<void> {
    const dir = args[0] ? this.localPath(args[0].value).replace(/(.)[/\\]+$/, '$1') : os.homedir();
    const st = await stat(dir).catch(() => undefined);
    if (!st) throw new NetkitError('NETKIT_NOT_FOUND', `lcd ${args[0]?.value ?? dir}: no such directory`);
    if (!st.isDirectory())
      throw new NetkitError('NETKIT_IO', `lcd ${args[0]?.value ?? dir}: not a directory`);
    this.localDir = dir;
    out(`Local directory now ${dir}`);
  }

  async cmdLls(args: ShellWord[]): Promise<void> {
    const w = args[0];
    let dir = this.localDir;
    let pat: string | undefined;
    if (w && hasGlob(w.pattern)) {
      const s = splitGlobPath(w.pattern);
      dir = this.localPath(s.dir || '.');
      pat = s.name;
    } else if (w) dir = this.localPath(w.value);
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      throw new NetkitError(
        'NETKIT_IO',
        `lls ${w?.value ?? dir}: ${err.code === 'ENOENT' ? 'no such directory' : err.message}`,
      );
    });
    const names = entries
      .filter((e) => (pat === undefined ? !e.name.startsWith('.') : matchGlob(pat, e.name)))
      .map((e) => `${displayName(e.name)}${e.isDirectory() ? '/' : ''}`)
      .sort();
    for (const n of names) out(n);
  }

  async cmdSize(args: ShellWord[]): Promise<void> {
    const client = this.need();
    await this.forEach(
      args.map((a) => a.value),
      'size',
      async (p) => {
        const res = await client.command(`SIZE ${p}`);
        const n = /^213 (\d+)/.exec(res.message)?.[1];
        if (res.code !== 213 || n === undefined)
          throw new NetkitError('NETKIT_PROTOCOL', `size ${p}: ${res.message.trim()}`);
        out(`${displayName(p)}\t${n}`);
      },
    );
  }

  async cmdModtime(args: ShellWord[]): Promise<void> {
    const client = this.need();
    await this.forEach(
      args.map((a) => a.value),
      'modtime',
      async (p) => {
        const res = await client.command(`MDTM ${p}`);
        const m = /^213 (\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)/.exec(res.message);
        if (!m) throw new NetkitError('NETKIT_PROTOCOL', `modtime ${p}: ${res.message.trim()}`);
        out(`${displayName(p)}\t${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]} UTC`);
      },
    );
  }

  async cmdType(t: 'A' | 'I'): Promise<void> {
    out(await this.setType(t));
    this.ascii = t === 'A';
  }

  /** `passive` toggles, as in BSD ftp; `passive on|off` sets */
  cmdPassive(args: ShellWord[]): void {
    const v = args[0]?.value.toLowerCase();
    if (v !== undefined && v !== 'on' && v !== 'off') throw usageError('usage: passive [on|off]');
    this.passive = v === undefined ? !this.passive : v === 'on';
    this.client?.setActive(this.passive ? false : this.activeSettings);
    out(
      this.passive
        ? 'Passive mode: on (we connect to the server: EPSV, then PASV).'
        : 'Passive mode: off (active mode: the server connects to us after PORT/EPRT).',
    );
  }

  cmdPrompt(args: ShellWord[]): void {
    const v = args[0]?.value.toLowerCase();
    if (v !== undefined && v !== 'on' && v !== 'off') throw usageError('usage: prompt [on|off]');
    this.prompting = v === undefined ? !this.prompting : v === 'on';
    out(
      `Interactive mode ${this.prompting ? 'on' : 'off'}.${this.prompting && !this.settings.interactive ? ' (prompts need a terminal: every file is taken)' : ''}`,
    );
  }

  cmdStatus(): void {
    const c = this.client;
    if (c && !c.closed) {
      const tls =
        this.opts.implicitTls || /^ftps:/i.test(this.target?.url ?? '')
          ? 'implicit TLS'
          : this.opts.tls
            ? 'explicit TLS'
            : 'no TLS';
      out(`Connected to ${this.where} as ${this.target?.user} (${tls}).`);
      out(`Remote directory: ${this.remoteDir ?? '(unknown)'}`);
    } else
      out(
        this.target
          ? `Not connected ("open" connects to ${withoutLogin(this.target.url)} again).`
          : 'Not connected.',
      );
    out(`Local directory: ${this.localDir}`);
    out(
      `Type: ${this.ascii ? 'ascii' : 'binary'}; passive: ${this.passive ? 'on' : 'off'}; prompting: ${this.prompting ? 'on' : 'off'}; trace: ${this.opts.trace ? 'on' : 'off'}.`,
    );
  }

  cmdHelp(args: ShellWord[]): void {
    if (args.length === 0) {
      out(commandTable());
      return;
    }
    for (const a of args) {
      const c = findCommand(a.value);
      out(
        `${`${c.names[0]} ${c.usage}`.trimEnd()}${c.names.length > 1 ? ` (also ${c.names.slice(1).join(', ')})` : ''}`,
      );
      out(`  ${c.help}`);
    }
  }

  // ---- TAB completion ----

  /** Completions for the line up to the cursor, in readline's form: [candidates, the text they replace]. */
  async complete(line: string): Promise<[string[], string]> {
    const lex = lexShellLine(line);
    const words = lex.words;
    const current = lex.inWord ? words[words.length - 1] : undefined;
    const raw = current ? line.slice(current.start) : '';
    if (lex.danglingEscape) return [[], raw];
    const index = lex.inWord ? words.length - 1 : words.length;
    const prefix = current?.value ?? '';
    if (index === 0) {
      const names = COMMANDS.flatMap((c) => c.names)
        .filter((n) => n.startsWith(prefix))
        .sort();
      return [names.length === 1 ? [`${names[0]} `] : names, raw];
    }
    let cmd: ShellCommand;
    try {
      cmd = findCommand(words[0]!.value);
    } catch {
      return [[], raw];
    }
    const before = words.slice(1, index).map((w) => w.value);
    const kind =
      typeof cmd.complete === 'function'
        ? cmd.complete(index - 1, before)
        : (cmd.complete?.[Math.min(index - 1, cmd.complete.length - 1)] ?? 'none');
    let candidates: Array<{ name: string; dir: boolean }> = [];
    const slash = prefix.lastIndexOf('/');
    const dirPart = slash === -1 ? '' : prefix.slice(0, slash + 1);
    const base = prefix.slice(slash + 1);
    if (kind === 'command') candidates = COMMANDS.map((c) => ({ name: c.names[0]!, dir: false }));
    else if (kind === 'remote' || kind === 'remote-dir') {
      if (!this.client || this.client.closed) return [[], raw];
      const dir = dirPart === '' ? '' : dirPart === '/' ? '/' : dirPart.slice(0, -1);
      let listing = this.listings.get(dir);
      if (!listing) {
        listing = this.client.list(dir).catch(() => []);
        this.listings.set(dir, listing);
      }
      candidates = (await listing)
        .filter((e) => e.name !== '.' && e.name !== '..' && !unsafeNameReason(e.name))
        .map((e) => ({
          name: e.name,
          dir: e.type === 'dir' || (e.type === 'link' && kind === 'remote-dir'),
        }));
    } else if (kind === 'local' || kind === 'local-dir') {
      const dir = this.localPath(dirPart || '.');
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      candidates = entries.map((e) => ({ name: e.name, dir: e.isDirectory() }));
    } else return [[], raw];
    const dirsOnly = kind === 'remote-dir' || kind === 'local-dir';
    const matches = candidates
      .filter((c) => c.name.startsWith(base) && (base.startsWith('.') || !c.name.startsWith('.')))
      .filter((c) => !dirsOnly || c.dir)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const single = matches.length === 1;
    const quoteStyle = lex.openQuote;
    const texts = matches.map((m) => {
      const full = `${dirPart}${m.name}${m.dir ? '/' : ''}`;
      const word = quoteShellWord(full, quoteStyle, single && !m.dir);
      return single && !m.dir ? `${word} ` : word;
    });
    return [texts, raw];
  }
}

/** A failure already explained in full (an interrupted transfer): printed as it is. */
class InterruptedNote extends NetkitError {
  constructor(message: string) {
    super('NETKIT_IO', message);
  }
}

/** One question on the terminal (prompt mode), on a readline of its own. */
function ask(question: string): Promise<string> {
  return new Promise((resolve) => {
    const output = process.stdout.isTTY ? process.stdout : process.stderr;
    const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
    let done = false;
    const finish = (answer: string) => {
      if (done) return;
      done = true;
      rl.close();
      resolve(answer);
    };
    rl.on('SIGINT', () => {
      output.write('\n');
      finish('q');
    });
    rl.on('close', () => finish('q'));
    rl.question(question, finish);
  });
}
