/**
 * A scriptable fake FTP server for client tests that need a misbehaving peer: a PASV reply that
 * announces another address, no EPSV, AUTH TLS refused or accepted with PROT P refused, a failed
 * login, a download cut off with the control connection, a download that stalls half-way, a listing
 * cut short (pure-ftpd's `-L`). Just enough RFC 959 for basic-ftp. `greet` and `on` script anything
 * else: a greeting that never ends, a reply that is junk, a listing of any size.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface FakeFtpOptions {
  /** listen address (default 127.0.0.1) */
  host?: string;
  /** answer EPSV (default true; false = 500, so PASV is used) */
  epsv?: boolean;
  /** answer PASV (default true; false = 502: a server that only does active mode) */
  pasv?: boolean;
  /** the address announced in PASV replies (default the listen address) */
  pasvHost?: string;
  /** accept AUTH TLS with this certificate; without it AUTH is answered 530, like vsftpd */
  tls?: { cert: string; key: string };
  /** the reply to PROT (default 200) */
  prot?: string;
  /** users whose login fails with 530 */
  badUsers?: string[];
  /** files for SIZE, MDTM and RETR */
  files?: Record<string, Buffer>;
  /** SIZE replies that differ from the file's real length (a server whose SIZE lies); -1 = 550 */
  sizes?: Record<string, number>;
  /** RETR of this file sends `cutAt` bytes, then closes the data and the control connection */
  cut?: { name: string; cutAt: number };
  /** RETR of this file sends `at` bytes, then neither ends nor closes anything (a stalled transfer) */
  stall?: { name: string; at: number };
  /** the reply that closes a LIST (default `226 Done`) */
  listDone?: string;
  /** the reply after a RETR whose data went out whole (default `226 Transfer complete.`) */
  retrDone?: string;
  /** the reply to PORT and EPRT when they are refused (default: accepted, connected after RETR/LIST) */
  portReply?: string;
  /** active mode: an intruder connects from this local address first and sends junk */
  intruderFrom?: string;
  /** instead of `220 fake ready`: whatever this does with the control connection */
  greet?: (ctl: net.Socket) => void;
  /** handlers for verbs (upper case) that replace the built-in ones */
  on?: Record<string, (ctx: FakeCommand) => void>;
}

/** What a scripted handler (`FakeFtpOptions.on`) gets: the command, the control connection, the data connection. */
export interface FakeCommand {
  arg: string;
  ctl: net.Socket;
  reply: (line: string) => void;
  /** the data connection of the last EPSV/PASV/PORT */
  data: () => Promise<net.Socket>;
}

export interface FakeFtp {
  port: number;
  /** every command line received */
  commands: string[];
  /** the address each data connection came from, and the local address it reached */
  dataConnections: string[];
  /** whether the intruder (`intruderFrom`) was cut off before the real data connection */
  intruderRefused: boolean[];
  /** the SNI name of each TLS handshake, control and data connections in order ('' for none) */
  servernames: string[];
  close: () => Promise<void>;
}

export async function fakeFtp(opts: FakeFtpOptions = {}): Promise<FakeFtp> {
  const host = opts.host ?? '127.0.0.1';
  const commands: string[] = [];
  const dataConnections: string[] = [];
  const intruderRefused: boolean[] = [];
  const servernames: string[] = [];
  const sockets = new Set<net.Socket>();
  const listeners = new Set<net.Server>();
  const files = opts.files ?? {};

  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    let ctl: net.Socket = raw;
    let openData: (() => Promise<net.Socket>) | undefined;
    let user = '';
    /** after AUTH TLS and PROT P: passive data connections are TLS too */
    let protectData = false;
    const secure = (plain: net.Socket): tls.TLSSocket => {
      const s = new tls.TLSSocket(plain, { isServer: true, cert: opts.tls!.cert, key: opts.tls!.key });
      s.on('error', () => {});
      s.once('secure', () =>
        servernames.push((s as tls.TLSSocket & { servername?: string | false }).servername || ''),
      );
      return s;
    };
    const reply = (s: string) => ctl.write(`${s}\r\n`);
    const passive = (announce: (port: number) => string) => {
      const l = net.createServer();
      listeners.add(l);
      const data = new Promise<net.Socket>((resolve) => {
        l.once('connection', (s) => {
          s.on('error', () => {});
          sockets.add(s);
          dataConnections.push(`${s.localAddress}`);
          l.close();
          listeners.delete(l);
          if (!protectData) return resolve(s);
          const t = secure(s);
          t.once('secure', () => resolve(t));
        });
      });
      openData = () => data;
      l.listen(0, host, () => reply(announce((l.address() as net.AddressInfo).port)));
    };
    // active mode, as a real server does it: connect once the transfer command came
    const active = (target: { host: string; port: number }) => {
      openData = async () => {
        if (opts.intruderFrom) {
          const evil = net.connect({ ...target, localAddress: opts.intruderFrom });
          evil.on('error', () => {});
          let gotData = false;
          evil.on('data', () => {
            gotData = true;
          });
          evil.on('connect', () => evil.write('INTRUDER DATA\r\n'));
          await new Promise((r) => evil.once('close', r));
          intruderRefused.push(!gotData);
        }
        const s = net.connect({ ...target, localAddress: host });
        s.on('error', () => {});
        sockets.add(s);
        await new Promise((r) => s.once('connect', r));
        dataConnections.push(`${s.remoteAddress}`);
        return s;
      };
      reply('200 PORT command successful.');
    };
    const onLine = (line: string) => {
      commands.push(line);
      const sp = line.indexOf(' ');
      const verb = (sp === -1 ? line : line.slice(0, sp)).toUpperCase();
      const arg = sp === -1 ? '' : line.slice(sp + 1);
      const scripted = opts.on?.[verb];
      if (scripted) return scripted({ arg, ctl, reply, data: () => openData!() });
      switch (verb) {
        case 'AUTH':
          if (!opts.tls) return reply('530 Please login with USER and PASS.');
          reply('234 Proceed with negotiation.');
          ctl.removeAllListeners('data');
          ctl = secure(raw);
          listen(ctl);
          return;
        case 'USER':
          user = arg;
          return reply('331 Password please');
        case 'PASS':
          return reply(opts.badUsers?.includes(user) ? '530 Login incorrect.' : '230 Logged in');
        case 'FEAT':
          return reply('211-Features:\r\n SIZE\r\n MDTM\r\n211 End');
        case 'PWD':
          return reply('257 "/" is the current directory');
        case 'PBSZ':
          return reply('200 PBSZ=0');
        case 'PROT':
          protectData = opts.prot === undefined && arg.toUpperCase() === 'P';
          return reply(opts.prot ?? '200 PROT now Private.');
        case 'EPSV':
          if (opts.epsv === false) return reply('500 EPSV not understood');
          return passive((port) => `229 Entering Extended Passive Mode (|||${port}|)`);
        case 'PASV':
          if (opts.pasv === false) return reply('502 PASV not implemented');
          return passive((port) => {
            const h = (opts.pasvHost ?? host).split('.').join(',');
            return `227 Entering Passive Mode (${h},${port >> 8},${port & 255}).`;
          });
        case 'PORT': {
          if (opts.portReply) return reply(opts.portReply);
          const n = arg.split(',').map(Number);
          return active({ host: n.slice(0, 4).join('.'), port: n[4]! * 256 + n[5]! });
        }
        case 'EPRT': {
          if (opts.portReply) return reply(opts.portReply);
          const [, , h, p] = arg.split(arg[0]!);
          return active({ host: h!, port: Number(p) });
        }
        case 'SIZE':
          if (!files[arg] || opts.sizes?.[arg] === -1) return reply('550 Could not get file size.');
          return reply(`213 ${opts.sizes?.[arg] ?? files[arg].length}`);
        case 'MDTM':
          return reply(files[arg] ? '213 20200102030405' : '550 Could not get file modification time.');
        case 'LIST':
          reply('150 Here comes the directory listing.');
          void openData!().then((s) =>
            s.end('-rw-r--r--   1 u g        5 Jan 01  2024 x.txt\r\n', () =>
              reply(opts.listDone ?? '226 Done'),
            ),
          );
          return;
        case 'RETR': {
          const body = files[arg];
          if (!body) return reply('550 Failed to open file.');
          reply('150 Opening BINARY mode data connection.');
          void openData!().then((s) => {
            if (opts.stall?.name === arg) s.write(body.subarray(0, opts.stall.at));
            else if (opts.cut?.name === arg) {
              // all sent bytes reach the client before the control connection goes, without a 226
              s.once('close', () => raw.destroy());
              s.end(body.subarray(0, opts.cut.cutAt));
            } else s.end(body, () => reply(opts.retrDone ?? '226 Transfer complete.'));
          });
          return;
        }
        case 'QUIT':
          reply('221 Bye');
          ctl.end();
          return;
        case 'TYPE':
        case 'OPTS':
        case 'STRU':
        case 'CWD':
          return reply('200 OK');
        default:
          return reply('502 Not implemented');
      }
    };
    const listen = (sock: net.Socket) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        for (let i = buf.indexOf('\r\n'); i !== -1; i = buf.indexOf('\r\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          onLine(line);
        }
      });
    };
    listen(raw);
    if (opts.greet) opts.greet(raw);
    else reply('220 fake ready');
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    commands,
    dataConnections,
    intruderRefused,
    servernames,
    close: async () => {
      for (const s of sockets) s.destroy();
      for (const l of listeners) l.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
