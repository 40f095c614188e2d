/**
 * Commands that move data over the data connection: RETR, STOR, APPE, STOU, LIST, NLST, MLSD —
 * plus MLST, which answers on the control connection from the same listing code.
 *
 * Every check (permission, data connection ready, PROT P when required, file exists, no overwrite)
 * happens before the 150 reply; a refused command closes the prepared data channel. Uploads open
 * the file without truncating it and truncate only once the data connection is up, so a STOR
 * that never gets its data connection cannot destroy an existing file.
 *
 * REST: the offset waits for the next file transfer command (RETR, STOR, APPE, STOU), which
 * takes it first thing, so it is used or dropped the same way whatever the outcome; listings and
 * other commands leave it alone (as pyftpdlib and vsftpd do).
 */
import { constants } from 'node:fs';
import { type FileHandle, lstat, open, stat, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { hasGlob, matchGlob } from '../glob.js';
import {
  entryFromStats,
  formatFacts,
  formatListLine,
  pathArgument,
  readEntries,
  splitListArgs,
} from '../listing.js';
import { overwriteRefusal, permFact } from '../permissions.js';
import type { CommandSpec, FtpSession } from '../session.js';
import {
  listingBytes,
  receiveFile,
  sendFile,
  sendLines,
  type TransferOutcome,
  type TransferRun,
} from '../transfer.js';
import { checkUpload, isOversize, undoUpload, uploadGuard } from '../upload-limits.js';

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW } = constants;

type ListKind = 'list' | 'nlst' | 'mlsd';

/** A transfer command handler: any error before the transfer starts also drops the data channel. */
function transferCommand(
  help: string,
  run: (s: FtpSession, arg: string) => Promise<void>,
  needsArg = true,
): CommandSpec {
  return {
    needsArg,
    help,
    async run(s, arg) {
      try {
        await run(s, arg);
      } catch (err) {
        s.data.dismiss();
        throw err;
      }
    },
  };
}

/** Permission check that also drops the data channel on refusal. */
function permitted(s: FtpSession, p: Parameters<FtpSession['allowed']>[0], vpath: string): boolean {
  if (s.allowed(p, vpath)) return true;
  s.data.dismiss();
  return false;
}

/**
 * The lines of a listing of `vpath` (directory or single file). Throws ENOENT and jail errors;
 * for `mlsd` on a file throws a 501-worthy error (handled by the caller). `written` is the path
 * as the client sent it: NLST of a single file answers with it (`NLST docs/a.txt` → `docs/a.txt`),
 * as `ls` and vsftpd do and as a wildcard match does, so that ftp(1)'s `mget docs/a.txt` (NLST,
 * then RETR of each name) fetches the right file; a directory's names stay bare.
 */
export async function buildListing(
  s: FtpSession,
  vpath: string,
  kind: ListKind | 'mlst',
  written?: string,
): Promise<string[]> {
  const vfs = s.identity!.vfs;
  const loc = vfs.locate(vpath);
  if (!loc) {
    const err = new Error('no such file or directory') as NodeJS.ErrnoException;
    err.code = 'ENOENT';
    throw err;
  }
  const now = Date.now();
  if (loc.kind === 'synthetic') {
    const own = entryFromStats('.', await stat(vfs.mounts[0]!.dir));
    if (kind === 'mlst') return [formatFacts(own, s.mlstFacts, 'el', vpath)];
    const lines: string[] = [];
    for (const name of loc.children) {
      const child = vpath === '/' ? `/${name}` : `${vpath}/${name}`;
      const mount = vfs.mountOf(child);
      const st = await stat(mount && mount.path === child ? mount.dir : vfs.mounts[0]!.dir);
      const e = { ...entryFromStats(name, st), isDir: true, size: 0 };
      if (kind === 'nlst') lines.push(name);
      else if (kind === 'list') lines.push(formatListLine(e, now));
      else lines.push(formatFacts(e, s.mlstFacts, permFact(mount?.perms ?? s.permsAt(child), true)));
    }
    return lines;
  }
  const { real, mount } = await vfs.realPath(vpath);
  const st = await stat(real);
  if (!st.isDirectory() || kind === 'mlst') {
    if (kind === 'mlsd') {
      const err = new Error(`${vpath} is not a directory`) as NodeJS.ErrnoException;
      err.code = 'ENOTDIR';
      throw err;
    }
    const e = entryFromStats(path.posix.basename(vpath) || '/', st);
    if (kind === 'nlst') return [written || e.name];
    if (kind === 'list') return [formatListLine(e, now)];
    return [formatFacts(e, s.mlstFacts, permFact(mount.perms, e.isDir, mount.noOverwrite), vpath)];
  }
  const root = await vfs.realRoot(mount);
  const inside = await vfs.visible(mount);
  const listings = s.ctx.listings;
  if (kind === 'nlst')
    return listings.get(real, `nlst\0${root}`, st.mtimeMs, () => readEntries(real, inside, (e) => e.name));
  if (kind === 'list') {
    return listings.get(real, `list\0${root}`, st.mtimeMs, () =>
      readEntries(real, inside, (e) => formatListLine(e, now)),
    );
  }
  const dirPerm = permFact(mount.perms, true);
  const filePerm = permFact(mount.perms, false, mount.noOverwrite);
  const variant = `mlsd\0${root}\0${s.mlstFacts.join(';')}\0${dirPerm}\0${filePerm}`;
  return listings.get(real, variant, st.mtimeMs, () =>
    readEntries(real, inside, (e) => formatFacts(e, s.mlstFacts, e.isDir ? dirPerm : filePerm)),
  );
}

/**
 * `NLST *.txt`, `LIST docs/*.log`: wildcards in the last segment of a path that does not exist as
 * written, matched against that directory's names (`*`, `?`, `[…]`, as sh; a leading `.` only by a
 * pattern that starts with one) — what vsftpd and pure-ftpd do and what ftp(1)'s `mget *.txt`
 * relies on. NLST answers with the names as the client wrote the directory (`docs/a.log`), as
 * vsftpd does. Undefined when the path is not such a pattern.
 */
async function globListing(
  s: FtpSession,
  target: string,
  vpath: string,
  kind: 'nlst' | 'list',
): Promise<string[] | undefined> {
  const pattern = path.posix.basename(vpath);
  const dir = path.posix.dirname(vpath);
  if (!hasGlob(pattern) || hasGlob(dir)) return undefined;
  const { real, mount } = await s.identity!.vfs.realPath(dir);
  if (!(await stat(real)).isDirectory()) return undefined;
  const entries = await readEntries(real, await s.identity!.vfs.visible(mount), (e) => e);
  const matching = entries.filter((e) => matchGlob(pattern, e.name));
  if (matching.length === 0) return undefined; // no match: the path's own 550
  const prefix = target.slice(0, target.lastIndexOf('/') + 1);
  const now = Date.now();
  return matching.map((e) => (kind === 'nlst' ? `${prefix}${e.name}` : formatListLine(e, now)));
}

function listCommand(kind: ListKind, help: string): CommandSpec {
  return transferCommand(
    help,
    async (s, arg) => {
      const target = kind === 'mlsd' ? pathArgument(arg) : splitListArgs(arg).path;
      const vpath = s.resolve(target);
      if (!permitted(s, 'l', vpath)) return;
      let lines: string[];
      try {
        lines = await buildListing(s, vpath, kind, target);
      } catch (err) {
        if (kind === 'mlsd' && (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
          s.refuseTransfer(501, `${vpath} is not a directory: use MLST for a single file`);
          return;
        }
        const globbed =
          kind !== 'mlsd' && (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? // a pattern that does not compile (a backwards range) is a plain name after all
              await globListing(s, target, vpath, kind).catch(() => undefined)
            : undefined;
        if (!globbed) throw err;
        lines = globbed;
      }
      if (!s.dataReady()) return;
      s.startTransfer({
        direction: 'list',
        file: vpath,
        total: listingBytes(lines),
        opening: `Here comes the ${kind === 'mlsd' ? 'MLSD' : 'directory'} listing of ${vpath}`,
        run: (r) => sendLines(r, lines),
        completed: () => `Transfer complete (${lines.length} entries)`,
      });
    },
    false,
  );
}

/** Open an upload target; `existed` tells whether the file was there before. */
async function openForUpload(real: string, flags: number): Promise<{ fh: FileHandle; existed: boolean }> {
  const existed = await lstat(real).then(
    () => true,
    () => false,
  );
  const fh = await open(real, flags | O_WRONLY | O_NOFOLLOW, 0o644);
  return { fh, existed };
}

/** Listings of the upload's directory are stale from the first byte to the last. */
async function received(
  s: FtpSession,
  real: string,
  outcome: Promise<TransferOutcome>,
): Promise<TransferOutcome> {
  s.changed(real);
  const o = await outcome;
  s.changed(real);
  return o;
}

async function cancelUpload(fh: FileHandle, real: string, existed: boolean): Promise<void> {
  await fh.close().catch(() => {});
  if (!existed) await unlink(real).catch(() => {});
}

/** Refuse (before the 150) an upload into `real` from byte `base` that the disk limits forbid. */
function uploadRefused(s: FtpSession, real: string, base: number): boolean {
  const refused = checkUpload(s.uploadLimits(), path.dirname(real), base);
  if (!refused) return false;
  s.refuseTransfer(refused.code, refused.text);
  return true;
}

/**
 * Receive an upload into `real` from byte `base` under the disk limits; one that grows past the
 * size limit is undone (`remove`: the file goes; else it is cut back to `base`). `unresumable`:
 * the command created the file on a mount where the session may not overwrite (guests, the
 * anonymous drop box), so it could never resume or replace a partial file — one that fails for
 * any reason is removed instead of holding the name for good.
 */
async function receiveLimited(
  s: FtpSession,
  r: TransferRun,
  fh: FileHandle,
  real: string,
  opts: { start?: number; ascii: boolean; base: number; remove: boolean; unresumable?: boolean },
): Promise<TransferOutcome> {
  const guard = uploadGuard(s.uploadLimits(), path.dirname(real), opts.base);
  const outcome = await receiveFile(guard ? { ...r, guard } : r, fh, opts);
  if (outcome.ok) return outcome;
  if (opts.unresumable) await undoUpload(real, 0, true);
  else if (isOversize(outcome.error)) await undoUpload(real, opts.base, opts.remove);
  return outcome;
}

/**
 * A REST offset in TYPE A is refused (as pyftpdlib does; SIZE is refused there too): it counts the
 * bytes of the CRLF stream on the wire (RFC 3659 §5), not of the file, so applying it to the file
 * would resume at the wrong place and splice a corrupt result.
 */
function asciiRestartRefused(s: FtpSession, start: number): boolean {
  if (start === 0 || s.type !== 'A') return false;
  s.refuseTransfer(554, `Resuming is not supported in ASCII mode (REST ${start}): use TYPE I`);
  return true;
}

const stor = transferCommand('STOR <file>', async (s, arg) => {
  const start = s.takeRest();
  if (asciiRestartRefused(s, start)) return;
  const vpath = s.resolve(arg);
  if (!permitted(s, 'w', vpath)) return;
  const { real, mount } = await s.identity!.vfs.realPath(vpath, 'create');
  if (!s.dataReady()) return;
  if (uploadRefused(s, real, start)) return;
  if (mount.noOverwrite && start > 0) {
    const r = overwriteRefusal(vpath);
    s.refuseTransfer(r.code, `${r.text} (no resume here)`);
    return;
  }
  const opened = await openForUpload(real, O_CREAT | (mount.noOverwrite ? O_EXCL : 0)).catch((err) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return undefined;
  });
  if (!opened) {
    const r = overwriteRefusal(vpath);
    s.refuseTransfer(r.code, r.text);
    return;
  }
  const { fh, existed } = opened;
  const size = (await fh.stat()).size;
  if (start > size) {
    await cancelUpload(fh, real, existed);
    s.refuseTransfer(554, `REST ${start} is beyond the end of ${vpath} (${size} bytes)`);
    return;
  }
  const ascii = s.type === 'A';
  s.startTransfer({
    direction: 'upload',
    file: vpath,
    opening: `Opening ${ascii ? 'ASCII' : 'BINARY'} mode data connection for ${vpath}${start ? ` at offset ${start}` : ''}`,
    async run(r) {
      // Only a file with content is truncated: on ext4, truncating even an empty file to 0 marks
      // it "replaced via truncate" (auto_da_alloc), and closing it then starts writeback of the
      // whole upload in close(2) — measured ~80 ms of CPU for 1 GiB before the 226 went out.
      if (start === 0 && (await fh.stat()).size > 0) await fh.truncate(0);
      s.changed(real);
      const outcome = await receiveLimited(s, r, fh, real, {
        start,
        ascii,
        base: start,
        remove: start === 0,
        unresumable: mount.noOverwrite === true,
      });
      // a resumed binary upload ends where the new data ends
      if (outcome.ok && start > 0 && !ascii) await truncate(real, start + outcome.bytes);
      s.changed(real);
      return outcome;
    },
    cancel: () => cancelUpload(fh, real, existed),
  });
});

const appe = transferCommand('APPE <file>', async (s, arg) => {
  s.takeRest(); // APPE always writes at the end
  const vpath = s.resolve(arg);
  if (!permitted(s, 'a', vpath)) return;
  const { real, mount } = await s.identity!.vfs.realPath(vpath, 'create');
  if (!s.dataReady()) return;
  if (
    mount.noOverwrite &&
    (await lstat(real).then(
      () => true,
      () => false,
    ))
  ) {
    const r = overwriteRefusal(vpath);
    s.refuseTransfer(r.code, r.text);
    return;
  }
  const before = await lstat(real).then(
    (st) => st.size,
    () => 0,
  );
  if (uploadRefused(s, real, before)) return;
  const { fh, existed } = await openForUpload(real, O_CREAT | O_APPEND);
  const ascii = s.type === 'A';
  s.startTransfer({
    direction: 'upload',
    file: vpath,
    opening: `Opening ${ascii ? 'ASCII' : 'BINARY'} mode data connection to append to ${vpath}`,
    run: (r) =>
      received(
        s,
        real,
        receiveLimited(s, r, fh, real, {
          ascii,
          base: before,
          remove: !existed,
          unresumable: mount.noOverwrite === true,
        }),
      ),
    cancel: () => cancelUpload(fh, real, existed),
  });
});

/**
 * STOU names the file it creates in its 150 reply, `150 FILE: pppp` (RFC 1123 §4.1.2.9), where
 * pppp is a pathname the client can use: the unique name with the directory as the client wrote
 * it (`STOU logs/x` → `FILE: logs/x.1`, as vsftpd answers), so that it names the file from the
 * client's working directory, not a file of that name in it.
 */
function asWritten(written: string, vpath: string): string {
  const trimmed = written.replace(/\/+$/, '');
  return `${trimmed.slice(0, trimmed.lastIndexOf('/') + 1)}${path.posix.basename(vpath)}`;
}

const stou = transferCommand(
  'STOU [name]',
  async (s, arg) => {
    s.takeRest(); // a new file has nothing to resume
    const written = arg.trim();
    const hint = written ? s.resolve(written) : `${s.cwd === '/' ? '' : s.cwd}/ftp-upload`;
    const dir = path.posix.dirname(hint);
    const base = path.posix.basename(hint);
    if (!permitted(s, 'w', hint)) return;
    if (!s.dataReady()) return;
    const target = await s.identity!.vfs.realPath(hint, 'create');
    if (uploadRefused(s, target.real, 0)) return;
    const unresumable = target.mount.noOverwrite === true;
    let opened: { fh: FileHandle; real: string; vpath: string } | undefined;
    for (let i = 0; i < 1000 && !opened; i++) {
      const vpath = `${dir === '/' ? '' : dir}/${i === 0 ? base : `${base}.${i}`}`;
      const { real } = await s.identity!.vfs.realPath(vpath, 'create');
      try {
        opened = { fh: await open(real, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644), real, vpath };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    if (!opened) {
      s.refuseTransfer(553, 'Could not find a unique file name');
      return;
    }
    const { fh, real, vpath } = opened;
    const ascii = s.type === 'A';
    s.startTransfer({
      direction: 'upload',
      file: vpath,
      opening: `FILE: ${asWritten(written, vpath)}`,
      run: (r) =>
        received(s, real, receiveLimited(s, r, fh, real, { ascii, base: 0, remove: true, unresumable })),
      completed: (o) => `Transfer complete (${o.bytes} bytes); stored as ${vpath}`,
      cancel: () => cancelUpload(fh, real, false),
    });
  },
  false,
);

export const transferCommands: Record<string, CommandSpec> = {
  RETR: transferCommand('RETR <file>', async (s, arg) => {
    const start = s.takeRest();
    if (asciiRestartRefused(s, start)) return;
    const vpath = s.resolve(arg);
    if (!permitted(s, 'r', vpath)) return;
    const { real } = await s.identity!.vfs.realPath(vpath);
    if (!s.dataReady()) return;
    const fh = await open(real, O_RDONLY | O_NOFOLLOW);
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      s.refuseTransfer(550, `${vpath}: not a regular file`);
      return;
    }
    if (start > st.size) {
      await fh.close();
      s.refuseTransfer(554, `REST ${start} is beyond the end of ${vpath} (${st.size} bytes)`);
      return;
    }
    const ascii = s.type === 'A';
    const remaining = st.size - start;
    s.startTransfer({
      direction: 'download',
      file: vpath,
      total: remaining,
      // in TYPE A the bytes sent differ from the size on disk: no count then
      opening: `Opening ${ascii ? 'ASCII' : 'BINARY'} mode data connection for ${vpath}${ascii ? '' : ` (${remaining} bytes)`}`,
      run: (r) => sendFile(r, fh, { start, ascii }),
      cancel: () => fh.close(),
    });
  }),
  STOR: stor,
  APPE: appe,
  STOU: stou,
  LIST: listCommand('list', 'LIST [path]'),
  NLST: listCommand('nlst', 'NLST [path]'),
  MLSD: listCommand('mlsd', 'MLSD [dir]'),

  MLST: {
    help: 'MLST [path]',
    async run(s, arg) {
      const vpath = s.resolve(pathArgument(arg));
      if (!s.allowed('l', vpath)) return;
      const [line] = await buildListing(s, vpath, 'mlst');
      s.reply(250, [`Listing ${vpath}`, ` ${line}`, 'End']);
    },
  },
};
