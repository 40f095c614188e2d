/**
 * Data connection and transfer parameter commands: PASV, EPSV (RFC 2428, with EPSV ALL), PORT,
 * EPRT (bounce-checked: only the client's own address, never a privileged port), TYPE, MODE,
 * STRU, REST (RFC 3659 REST STREAM) and ABOR.
 */
import net from 'node:net';
import {
  checkActiveTarget,
  formatEpsvReply,
  formatPasvReply,
  normalizeIp,
  parseEprtArgument,
  parsePortArgument,
} from '../data-address.js';
import type { CommandSpec, FtpSession } from '../session.js';

function localFamily(s: FtpSession): 1 | 2 {
  const local = normalizeIp(s.conn.socket.localAddress ?? '127.0.0.1');
  return net.isIPv4(local) ? 1 : 2;
}

/**
 * RFC 2428's 522 for PASV and PORT on an IPv6 control connection: they carry IPv4 addresses only,
 * so they get the reply EPRT gets for a protocol it cannot use, naming the protocol (2) and the
 * command that speaks it — not a 425, nor a bounce refusal naming 127.0.0.1.
 */
function ipv4Only(s: FtpSession, verb: string, instead: string): boolean {
  if (localFamily(s) === 1) return false;
  s.reply(
    522,
    `Network protocol not supported, use (2): ${verb} carries IPv4 addresses only, use ${instead}`,
  );
  return true;
}

async function openPassive(s: FtpSession): Promise<number | undefined> {
  try {
    return await s.data.passive();
  } catch (err) {
    s.reply(425, `Can't open passive connection: ${(err as Error).message}`);
    return undefined;
  }
}

export const dataCommands: Record<string, CommandSpec> = {
  PASV: {
    help: 'PASV',
    async run(s) {
      if (s.epsvAll) {
        s.reply(503, 'PASV not allowed after EPSV ALL');
        return;
      }
      if (ipv4Only(s, 'PASV', 'EPSV')) return;
      const host = s.ctx.publicHost ?? normalizeIp(s.conn.socket.localAddress ?? '127.0.0.1');
      const port = await openPassive(s);
      if (port !== undefined) s.reply(227, formatPasvReply(host, port));
    },
  },

  EPSV: {
    help: 'EPSV [1|2|ALL]',
    async run(s, arg) {
      const a = arg.trim().toUpperCase();
      if (a === 'ALL') {
        s.epsvAll = true;
        s.reply(200, 'EPSV ALL ok: only EPSV from now on');
        return;
      }
      const family = localFamily(s);
      if (a !== '' && a !== String(family)) {
        s.reply(522, `Network protocol not supported, use (${family})`);
        return;
      }
      const port = await openPassive(s);
      if (port !== undefined) s.reply(229, formatEpsvReply(port));
    },
  },

  PORT: {
    needsArg: true,
    help: 'PORT h1,h2,h3,h4,p1,p2',
    run(s, arg) {
      if (s.epsvAll) {
        s.reply(503, 'PORT not allowed after EPSV ALL');
        return;
      }
      const r = parsePortArgument(arg);
      if (!r.ok) {
        s.reply(501, r.error);
        return;
      }
      if (ipv4Only(s, 'PORT', 'EPRT')) return;
      const refused = checkActiveTarget(r.value, s.ip);
      if (refused) {
        s.conn.trace('error', `PORT bounce refused: ${arg}`);
        s.reply(504, refused);
        return;
      }
      s.data.active(r.value);
      s.reply(200, 'PORT command successful');
    },
  },

  EPRT: {
    needsArg: true,
    help: 'EPRT |proto|address|port|',
    run(s, arg) {
      if (s.epsvAll) {
        s.reply(503, 'EPRT not allowed after EPSV ALL');
        return;
      }
      const r = parseEprtArgument(arg);
      if (!r.ok) {
        s.reply(r.error.includes('network protocol') ? 522 : 501, r.error);
        return;
      }
      // the client's own address is in the family of the control connection (RFC 2428: 522 names it)
      const family = localFamily(s);
      if ((net.isIPv4(normalizeIp(r.value.host)) ? 1 : 2) !== family) {
        s.reply(522, `Network protocol not supported, use (${family})`);
        return;
      }
      const refused = checkActiveTarget(r.value, s.ip);
      if (refused) {
        s.conn.trace('error', `EPRT bounce refused: ${arg}`);
        s.reply(504, refused);
        return;
      }
      s.data.active({ host: r.value.host, port: r.value.port });
      s.reply(200, 'EPRT command successful');
    },
  },

  TYPE: {
    needsArg: true,
    help: 'TYPE A|I',
    run(s, arg) {
      const t = arg.trim().toUpperCase().replace(/\s+/g, ' ');
      if (t === 'A' || t === 'A N') {
        s.type = 'A';
        s.reply(200, 'Type set to A (ASCII: line endings converted)');
      } else if (t === 'I' || t === 'L 8') {
        s.type = 'I';
        s.reply(200, 'Type set to I (binary)');
      } else {
        s.reply(504, `TYPE ${t} not supported: use A or I`);
      }
    },
  },

  MODE: {
    needsArg: true,
    help: 'MODE S',
    run(s, arg) {
      const m = arg.trim().toUpperCase();
      if (m === 'S') s.reply(200, 'Mode set to S (stream)');
      else if (m === 'B' || m === 'C') s.reply(504, `MODE ${m} not supported: use S`);
      else s.reply(501, `Unknown mode ${m}`);
    },
  },

  STRU: {
    needsArg: true,
    help: 'STRU F',
    run(s, arg) {
      const m = arg.trim().toUpperCase();
      if (m === 'F') s.reply(200, 'Structure set to F (file)');
      else if (m === 'R' || m === 'P') s.reply(504, `STRU ${m} not supported: use F`);
      else s.reply(501, `Unknown structure ${m}`);
    },
  },

  REST: {
    needsArg: true,
    help: 'REST <offset>',
    run(s, arg) {
      const t = arg.trim();
      if (!/^\d{1,15}$/.test(t)) {
        s.reply(501, 'REST needs a byte offset');
        return;
      }
      s.restOffset = Number(t);
      s.reply(350, `Restarting at ${s.restOffset}. Send STOR, APPE or RETR to continue`);
    },
  },

  ABOR: {
    auth: false,
    help: 'ABOR',
    async run(s) {
      await s.abortTransfer();
    },
  },
};
