/**
 * Informational commands: SYST, NOOP, FEAT and OPTS (RFC 2389), HELP, STAT (RFC 959: server
 * status, transfer status during a transfer, or a listing over the control connection), ALLO.
 */
import { formatHostPort } from '../../core/server.js';
import { mlstFeature, parseMlstOptions, splitListArgs } from '../listing.js';
import type { CommandSpec } from '../session.js';
import { checkUpload } from '../upload-limits.js';
import { buildListing } from './transfers.js';

/** Entries STAT shows of a directory over the control connection (LIST sends them all). */
export const STAT_MAX_ENTRIES = 2000;

export const infoCommands: Record<string, CommandSpec> = {
  SYST: {
    auth: false,
    help: 'SYST',
    run(s) {
      s.reply(215, 'UNIX Type: L8');
    },
  },

  NOOP: {
    auth: false,
    help: 'NOOP',
    run(s) {
      s.reply(200, 'NOOP ok');
    },
  },

  FEAT: {
    auth: false,
    help: 'FEAT',
    run(s) {
      const features = [
        ...(s.ctx.tls ? ['AUTH TLS', 'PBSZ', 'PROT'] : []),
        'EPRT',
        'EPSV',
        'MDTM',
        'MFMT',
        mlstFeature(s.mlstFacts),
        'REST STREAM',
        'SIZE',
        'TVFS',
        'UTF8',
      ];
      s.reply(211, ['Features:', ...features.map((f) => ` ${f}`), 'End']);
    },
  },

  OPTS: {
    auth: false,
    needsArg: true,
    help: 'OPTS UTF8 ON | OPTS MLST facts',
    run(s, arg) {
      const [name = '', ...rest] = arg.trim().split(/\s+/);
      const value = rest.join(' ');
      switch (name.toUpperCase()) {
        case 'UTF8':
        case 'UTF-8':
          if (value === '' || value.toUpperCase() === 'ON') s.reply(200, 'Always in UTF8 mode');
          else s.reply(504, 'UTF8 cannot be turned off: file names are always UTF-8');
          return;
        case 'MLST': {
          s.mlstFacts = parseMlstOptions(value);
          // RFC 3659 §7.9: no facts selected is `200 MLST OPTS`, without a trailing space
          const facts = s.mlstFacts.map((f) => `${f};`).join('');
          s.reply(200, facts ? `MLST OPTS ${facts}` : 'MLST OPTS');
          return;
        }
        default:
          s.reply(501, `OPTS ${name} not understood`);
      }
    },
  },

  HELP: {
    auth: false,
    help: 'HELP [command]',
    run(s, arg) {
      const verb = arg.trim().toUpperCase();
      if (verb) {
        const help = s.commandHelp(verb);
        if (help) s.reply(214, `Syntax: ${help}`);
        else s.reply(501, `Unknown command ${verb}`);
        return;
      }
      const verbs = s.commandVerbs();
      const rows: string[] = [];
      for (let i = 0; i < verbs.length; i += 8) {
        const row = verbs.slice(i, i + 8).map((v) => v.padEnd(5));
        rows.push(` ${row.join(' ')}`.trimEnd());
      }
      s.reply(214, ['The following commands are recognized:', ...rows, 'Help OK']);
    },
  },

  STAT: {
    auth: false,
    help: 'STAT [path]',
    async run(s, arg) {
      const during = s.transferStatus();
      if (during) {
        s.reply(213, during);
        return;
      }
      const target = splitListArgs(arg);
      if (target.path !== '' || target.options !== '') {
        if (!s.identity) {
          s.reply(530, 'Please log in with USER and PASS first');
          return;
        }
        const vpath = s.resolve(target.path);
        if (!s.allowed('l', vpath)) return;
        const lines = await buildListing(s, vpath, 'list');
        // the control connection is no place for a huge listing (its output is bounded, and the
        // whole reply is built at once): the first STAT_MAX_ENTRIES, then a pointer to LIST
        const shown = lines.length > STAT_MAX_ENTRIES ? lines.slice(0, STAT_MAX_ENTRIES) : lines;
        const more = lines.length - shown.length;
        s.reply(213, [
          `Status of ${vpath}:`,
          ...shown.map((l) => ` ${l}`),
          ...(more > 0 ? [` ... and ${more} more entries: use LIST for all of them`] : []),
          'End of status',
        ]);
        return;
      }
      const who = s.identity ? `Logged in as ${s.identity.user} (${s.identity.class})` : 'Not logged in';
      s.reply(211, [
        'netkit FTP server status:',
        `Connected from ${formatHostPort(s.ip, s.conn.remotePort)}`,
        who,
        `Control connection ${s.implicitTls ? 'secured with TLS (implicit FTPS)' : s.secure ? 'secured with TLS' : 'in clear'}; data protection ${s.prot}`,
        `TYPE: ${s.type === 'A' ? 'ASCII' : 'BINARY'}; STRUcture: File; MODE: Stream`,
        `Data connection: ${s.data.mode === 'none' ? 'none' : s.data.mode}`,
        'End of status',
      ]);
    },
  },

  ALLO: {
    help: 'ALLO <size>',
    async run(s, arg) {
      // RFC 959 ALLO: nothing to reserve here, but a size that cannot fit is refused now (as
      // pure-ftpd does), not after the client has sent most of it. The upload will go to the
      // working directory, whose mount may be on another file system than the root.
      const announced = /^\s*(\d{1,15})/.exec(arg)?.[1];
      if (!announced) {
        s.reply(202, 'No storage allocation necessary');
        return;
      }
      const dir = await s
        .identity!.vfs.realPath(s.cwd)
        .then((r) => r.real)
        .catch(() => s.ctx.policy.root);
      const refused = checkUpload(s.uploadLimits(), dir, 0, Number(announced));
      if (refused) s.reply(refused.code, refused.text);
      else s.reply(202, 'No storage allocation necessary');
    },
  },
};
