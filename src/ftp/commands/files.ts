/**
 * File and directory commands on the control connection: PWD, CWD, CDUP, MKD, RMD, DELE, RNFR,
 * RNTO (plus the XPWD/XCWD/XCUP/XMKD/XRMD aliases of RFC 1123), SIZE, MDTM, MFMT (RFC 3659 and
 * its MFMT draft) and SITE CHMOD. Every path goes through the jail (`s.resolve` +
 * `vfs.realPath`, which answers a hidden path as missing), every operation through the
 * permission letters. DELE, RMD, RNFR and RNTO act
 * on a symbolic link itself, never on its target (`realPath(…, 'entry')`), as unlink, rmdir and
 * rename do.
 */
import { chmod, lstat, mkdir, rename, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { formatTimeVal, parseTimeVal } from '../listing.js';
import { overwriteRefusal } from '../permissions.js';
import { quotePath } from '../protocol.js';
import type { CommandSpec, FtpSession } from '../session.js';
import type { Mount } from '../vfs.js';

async function changeDir(s: FtpSession, arg: string): Promise<void> {
  const vpath = s.resolve(arg);
  const loc = s.identity!.vfs.locate(vpath);
  if (!loc) {
    s.reply(550, `${vpath}: no such directory`);
    return;
  }
  if (!s.allowed('e', vpath)) return;
  if (loc.kind === 'mount') {
    const { real } = await s.identity!.vfs.realPath(vpath);
    if (!(await stat(real)).isDirectory()) {
      s.reply(550, `${vpath}: not a directory`);
      return;
    }
  }
  s.cwd = vpath;
  s.reply(250, `Directory changed to ${vpath}`);
}

/**
 * A directory that holds a hidden path (the server's data directory, a `--key` file) lists as
 * empty or without it, but cannot be treated as such: renaming it (or renaming onto it) would move
 * the hidden path where the jail no longer looks, removing it fails as "not empty" on a directory
 * the client sees empty, and a chmod could lock the server out of its own files. All of these are
 * refused as a permission refusal — `550 PATH: cannot remove this directory (permission denied)`
 * — which says what cannot be done and nothing about what is inside (pyftpdlib answers a refused
 * RMD with 550 and the system's "Permission denied" too).
 */
async function holdsHidden(s: FtpSession, mount: Mount, real: string, refusal: string): Promise<boolean> {
  if (!(await s.identity!.vfs.holdsHidden(mount, real))) return false;
  s.reply(550, `${refusal} (permission denied)`);
  return true;
}

async function regularFile(
  s: FtpSession,
  arg: string,
): Promise<{ vpath: string; size: number; mtime: Date } | undefined> {
  const vpath = s.resolve(arg);
  if (!s.allowed('l', vpath)) return undefined;
  const { real } = await s.identity!.vfs.realPath(vpath);
  const st = await stat(real);
  if (!st.isFile()) {
    s.reply(550, `${vpath}: not a regular file`);
    return undefined;
  }
  return { vpath, size: st.size, mtime: st.mtime };
}

const pwd: CommandSpec = {
  help: 'PWD',
  run(s) {
    s.reply(257, `${quotePath(s.cwd)} is the current directory`);
  },
};
const cwd: CommandSpec = { needsArg: true, help: 'CWD <path>', run: (s, arg) => changeDir(s, arg) };
// At the root CDUP stays there, as `cd ..` at `/` does (clients send it blindly); `CWD ..` is refused.
const cdup: CommandSpec = { help: 'CDUP', run: (s) => changeDir(s, s.cwd === '/' ? '/' : '..') };

const mkd: CommandSpec = {
  needsArg: true,
  help: 'MKD <path>',
  async run(s, arg) {
    const vpath = s.resolve(arg);
    if (!s.allowed('m', vpath)) return;
    const { real } = await s.identity!.vfs.realPath(vpath, 'create');
    await mkdir(real);
    s.changed(real, true);
    s.reply(257, `${quotePath(vpath)} directory created`);
  },
};

const rmd: CommandSpec = {
  needsArg: true,
  help: 'RMD <path>',
  async run(s, arg) {
    const vpath = s.resolve(arg);
    if (!s.allowed('d', vpath)) return;
    const { real, mount, isRoot } = await s.identity!.vfs.realPath(vpath, 'entry');
    if (isRoot) {
      s.reply(550, `${vpath}: cannot remove the root directory`);
      return;
    }
    if (await holdsHidden(s, mount, real, `${vpath}: cannot remove this directory`)) return;
    await rmdir(real);
    s.changed(real, true);
    if (s.cwd === vpath || s.cwd.startsWith(`${vpath}/`)) s.cwd = '/';
    s.reply(250, `${vpath}: directory removed`);
  },
};

export const fileCommands: Record<string, CommandSpec> = {
  PWD: pwd,
  XPWD: pwd,
  CWD: cwd,
  XCWD: cwd,
  CDUP: cdup,
  XCUP: cdup,
  MKD: mkd,
  XMKD: mkd,
  RMD: rmd,
  XRMD: rmd,

  DELE: {
    needsArg: true,
    help: 'DELE <file>',
    async run(s, arg) {
      const vpath = s.resolve(arg);
      if (!s.allowed('d', vpath)) return;
      const { real } = await s.identity!.vfs.realPath(vpath, 'entry');
      if ((await lstat(real)).isDirectory()) {
        s.reply(550, `${vpath}: is a directory (use RMD)`);
        return;
      }
      await unlink(real);
      s.changed(real);
      s.reply(250, `${vpath}: file deleted`);
    },
  },

  RNFR: {
    needsArg: true,
    help: 'RNFR <from>',
    async run(s, arg) {
      const vpath = s.resolve(arg);
      if (!s.allowed('f', vpath)) return;
      const { real, mount, isRoot } = await s.identity!.vfs.realPath(vpath, 'entry');
      if (isRoot) {
        s.reply(550, `${vpath}: cannot rename the root directory`);
        return;
      }
      await lstat(real);
      if (await holdsHidden(s, mount, real, `${vpath}: cannot rename this directory`)) return;
      s.renameFrom = vpath;
      s.reply(350, `${vpath} exists: ready for RNTO`);
    },
  },

  RNTO: {
    needsArg: true,
    help: 'RNTO <to>',
    async run(s, arg) {
      const from = s.renameFrom;
      s.renameFrom = undefined;
      if (!from) {
        s.reply(503, 'Send RNFR first');
        return;
      }
      const vfs = s.identity!.vfs;
      const to = s.resolve(arg);
      if (!s.allowed('f', to)) return;
      const fromMount = vfs.mountOf(from);
      const toMount = vfs.mountOf(to);
      if (fromMount !== toMount) {
        s.reply(550, `Cannot rename across areas (${from} → ${to})`);
        return;
      }
      const source = await vfs.realPath(from, 'entry');
      if (await holdsHidden(s, source.mount, source.real, `${from}: cannot rename this directory`)) return;
      const target = await vfs.realPath(to, 'entry');
      if (target.isRoot) {
        s.reply(550, `${to}: cannot replace the root directory`);
        return;
      }
      if (await holdsHidden(s, target.mount, target.real, `${to}: cannot replace this directory`)) return;
      if (toMount?.noOverwrite) {
        const exists = await lstat(target.real).then(
          () => true,
          () => false,
        );
        if (exists) {
          const r = overwriteRefusal(to);
          s.reply(r.code, r.text);
          return;
        }
      }
      try {
        await rename(source.real, target.real);
      } catch (err) {
        // rename(2)'s own refusals, in words (the generic reply would only name the errno)
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EINVAL') s.reply(553, 'Cannot move a directory into itself');
        else if (code === 'EXDEV') s.reply(553, 'Cannot rename across file systems');
        else throw err;
        return;
      }
      s.changed(source.real, true);
      s.changed(target.real, true);
      s.reply(250, `Renamed ${from} to ${to}`);
    },
  },

  SIZE: {
    needsArg: true,
    help: 'SIZE <file>',
    async run(s, arg) {
      // RFC 3659 §4: the size in the current TYPE. In TYPE A that needs a read of the whole
      // file, so refuse it as pyftpdlib and ProFTPD do (clients ask after TYPE I).
      if (s.type === 'A') {
        s.reply(550, 'SIZE not allowed in ASCII mode');
        return;
      }
      const f = await regularFile(s, arg);
      if (f) s.reply(213, String(f.size));
    },
  },

  MDTM: {
    needsArg: true,
    help: 'MDTM <file>',
    async run(s, arg) {
      const f = await regularFile(s, arg);
      if (f) s.reply(213, formatTimeVal(f.mtime));
    },
  },

  MFMT: {
    needsArg: true,
    help: 'MFMT <YYYYMMDDHHMMSS> <path>',
    async run(s, arg) {
      const m = /^(\S+) (.+)$/s.exec(arg);
      const when = m ? parseTimeVal(m[1]!) : undefined;
      if (!m || !when) {
        s.reply(501, 'Syntax: MFMT YYYYMMDDHHMMSS path');
        return;
      }
      const vpath = s.resolve(m[2]!);
      if (!s.allowed('T', vpath)) return;
      const { real } = await s.identity!.vfs.realPath(vpath);
      await utimes(real, when, when);
      s.changed(real);
      s.reply(213, `Modify=${formatTimeVal(when)}; ${vpath}`);
    },
  },

  SITE: {
    needsArg: true,
    help: 'SITE CHMOD <mode> <path> | SITE HELP',
    async run(s, arg) {
      const [sub = '', ...rest] = arg.trim().split(' ');
      const verb = sub.toUpperCase();
      if (verb === 'HELP') {
        s.reply(214, ['SITE commands:', ' CHMOD <mode> <path>', ' HELP', 'End']);
        return;
      }
      if (verb !== 'CHMOD') {
        s.reply(504, `SITE ${verb} not supported (SITE HELP lists what is)`);
        return;
      }
      const m = /^([0-7]{3,4}) (.+)$/s.exec(rest.join(' '));
      if (!m) {
        s.reply(501, 'Syntax: SITE CHMOD <octal mode> <path>');
        return;
      }
      const vpath = s.resolve(m[2]!);
      if (!s.allowed('M', vpath)) return;
      const { real, mount } = await s.identity!.vfs.realPath(vpath);
      if (await holdsHidden(s, mount, real, `${vpath}: cannot change the permissions of this directory`))
        return;
      // no setuid, setgid or sticky bits from a network client
      await chmod(real, Number.parseInt(m[1]!, 8) & 0o777);
      s.changed(real);
      s.reply(200, `SITE CHMOD ${m[1]} ${vpath} done`);
    },
  },
};
