/**
 * `netkit lab`: every service on one data directory, wired into the dashboard.
 *
 * Services start in parallel (start-up target ≤ 1.5 s); a port that is taken fails the whole start
 * with one line naming the service and the flag that moves it, and whatever had started is closed.
 * `close()` stops accepting everywhere, lets SMTP DATA and FTP transfers in flight finish up to
 * the deadline, and then closes: nothing is left half-written (deliveries are tmp → fsync → rename).
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { AccountStore } from '../core/accounts.js';
import { reachableHost } from '../core/address.js';
import { resolveDataDir } from '../core/datadir.js';
import { NetkitError } from '../core/errors.js';
import { formatHostPort } from '../core/server.js';
import { loadTls } from '../core/tls.js';
import { DEV_CERT_FILE } from '../core/tls-trust.js';
import { parsePortRange } from '../ftp/data-address.js';
import { DEFAULT_PERMISSIONS } from '../ftp/permissions.js';
import { createFtpServer, type FtpServerHandle } from '../ftp/server.js';
import type { FtpSessionEvent } from '../ftp/session.js';
import { createFileServer, type FileServerHandle } from '../http/file-server.js';
import { createPop3Server, type Pop3ServerHandle } from '../mail/pop3-server.js';
import { createSmtpServer, type SmtpMessageEvent, type SmtpServerHandle } from '../mail/smtp-server.js';
import { type ChatServer, createChatServer } from '../sockets/chat-server.js';
import { CLASSIC_SERVICES, type ClassicServiceHandle, startService } from '../sockets/classic.js';
import { bootstrapLab, ftpRoot, type LabCredentials } from './bootstrap.js';
import type { LabConfig, LabPortName } from './config.js';
import { checkDashboardAuth, PORT_FLAGS } from './config.js';
import type { ChatMessageView, ChatView, FtpView, LabContext, ServiceStatus } from './context.js';
import { type DashboardHandle, startDashboard } from './dashboard.js';
import { MailIndex } from './mail-index.js';
import { ftpServiceOptions } from './service-options.js';
import { WireLog } from './wire.js';

/** A word as a POSIX shell reads it back (for the hints printed to copy and paste). */
const shellQuote = (word: string): string =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
export interface LabHandle {
  config: LabConfig;
  dataDir: string;
  credentials: LabCredentials;
  dashboard: DashboardHandle;
  context: LabContext;
  services(): ServiceStatus[];
  close(deadlineMs?: number): Promise<void>;
}

/**
 * Turn "port in use" into one line that says which flag moves the service. A service with two
 * listeners (plain and implicit TLS) names the flag of the port that was taken.
 */
async function named<T>(
  service: string,
  ports: LabPortName[],
  host: string,
  cfg: LabConfig,
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number; cause?: { port?: number } };
    if (e.code === 'NETKIT_ADDRESS_IN_USE' || e.code === 'EADDRINUSE') {
      const taken = e.port ?? e.cause?.port;
      const key =
        ports.find((k) => cfg.ports[k] === taken) ??
        ports.find((k) => cfg.ports[k] !== 0 && e.message.includes(`port ${cfg.ports[k]} `)) ??
        ports[0]!;
      throw new NetkitError(
        'NETKIT_ADDRESS_IN_USE',
        `${service}: port ${taken ?? cfg.ports[key]} on ${host} is already in use; move it with ${PORT_FLAGS[key]} N, or every port with --port-offset N`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Bounded memory of SMTP transcripts, for the dashboard's "SMTP" tab. */
class TranscriptStore {
  private readonly map = new Map<string, string>();
  constructor(readonly capacity = 10_000) {}
  add(ev: SmtpMessageEvent): void {
    this.map.set(`${ev.mailbox}/${ev.id}`, ev.transcript.join('\n'));
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
  get(mailbox: string, id: string): string | undefined {
    return this.map.get(`${mailbox}/${id}`);
  }
}

function chatView(chat: ChatServer): ChatView {
  const view = Object.assign(new EventEmitter(), {
    rooms: () => chat.rooms(),
    history: (room: string): ChatMessageView[] => chat.history(room).map((m) => ({ ...m })),
    post: (room: string, nick: string, text: string) => {
      chat.post(room, nick, text);
    },
  });
  chat.on('message', (m) => view.emit('message', m));
  const rooms = () => view.emit('rooms', chat.rooms());
  for (const ev of ['join', 'leave', 'nick']) chat.on(ev, rooms);
  chat.on('join', (e) =>
    view.emit('message', {
      ts: Date.now(),
      room: e.room,
      nick: e.nick,
      text: `${e.nick} joined`,
      kind: 'join',
    }),
  );
  chat.on('leave', (e) =>
    view.emit('message', {
      ts: Date.now(),
      room: e.room,
      nick: e.nick,
      text: `${e.nick} left (${e.reason})`,
      kind: 'leave',
    }),
  );
  return view;
}

function ftpView(ftp: FtpServerHandle, permissions: Record<string, string>): FtpView {
  const view = Object.assign(new EventEmitter(), {
    root: ftp.root,
    sessions: () =>
      ftp.sessions().map((s) => ({
        id: s.id,
        user: s.user,
        class: s.class,
        ip: s.ip,
        command: s.command,
        transfer: s.transfer
          ? {
              file: s.transfer.file,
              direction: s.transfer.direction,
              bytes: s.transfer.bytes,
              total: s.transfer.total,
            }
          : undefined,
      })),
    permissions: () => permissions,
  });
  // transfers report progress often: coalesce to at most ~5 updates a second
  let pending: NodeJS.Timeout | undefined;
  ftp.on('session', () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      view.emit('session');
    }, 200);
  });
  return view;
}

/**
 * Start the whole lab from a configuration ({@link resolveLabConfig}): every service on its port,
 * the dashboard, the shared data directory with its accounts and certificate. `close()` stops all.
 */
export async function startLab(cfg: LabConfig): Promise<LabHandle> {
  // before the data directory is made and any service binds (resolveLabConfig checks it too)
  checkDashboardAuth(cfg.host, cfg.uiAuth);
  const dataDir = path.resolve(cfg.dataDir);
  const host = cfg.host;
  const credentials = await bootstrapLab(dataDir);
  const tlsMaterial = await loadTls(dataDir);
  const accounts = new AccountStore(dataDir);
  const wire = new WireLog();
  const mail = new MailIndex(dataDir);
  const transcripts = new TranscriptStore();
  const ftpOptions = ftpServiceOptions(cfg.services?.ftp);
  /** since start: SMTP messages and bytes stored, FTP bytes moved by finished transfers, chat lines */
  const totals = { messages: 0, smtpBytes: 0, ftpBytes: 0, ftpTransfers: 0, chatMessages: 0 };

  const closers: Array<(deadline: number) => Promise<void>> = [];
  const track = <T extends { close(deadlineMs?: number): Promise<void> }>(h: T): T => {
    closers.push((d) => h.close(d));
    return h;
  };

  try {
    const [smtp, pop3, ftp, chat, http, classic] = await Promise.all([
      named('smtp', ['smtp', 'smtpTls'], host, cfg, async () =>
        track(
          await createSmtpServer({
            dataDir,
            host,
            port: cfg.ports.smtp,
            tlsPort: cfg.ports.smtpTls,
            authAcceptAny: cfg.acceptAnyAuth,
            maxMessages: cfg.maxMessages,
            accounts,
            ...cfg.services?.smtp,
          }),
        ),
      ) as Promise<SmtpServerHandle>,
      named('pop3', ['pop3', 'pop3Tls'], host, cfg, async () =>
        track(
          await createPop3Server({
            dataDir,
            host,
            port: cfg.ports.pop3,
            tlsPort: cfg.ports.pop3Tls,
            tls: tlsMaterial,
            authAcceptAny: cfg.acceptAnyAuth,
            accounts,
            ...cfg.services?.pop3,
          }),
        ),
      ) as Promise<Pop3ServerHandle>,
      named('ftp', ['ftp', 'ftpTls'], host, cfg, async () =>
        track(
          await createFtpServer({
            root: ftpRoot(dataDir),
            dataDir,
            accounts,
            host,
            port: cfg.ports.ftp,
            tlsPort: cfg.ports.ftpTls,
            tls: tlsMaterial.context,
            anonymousUpload: true,
            passivePorts: cfg.passivePorts ? passiveRange(cfg.passivePorts) : undefined,
            ...ftpOptions.server,
            limits: ftpOptions.limits,
          }),
        ),
      ) as Promise<FtpServerHandle>,
      named('chat', ['chat', 'chatTls'], host, cfg, async () =>
        track(
          await createChatServer({
            host,
            port: cfg.ports.chat,
            tlsPort: cfg.ports.chatTls,
            tls: tlsMaterial,
            dataDir,
            ...cfg.services?.chat,
          }),
        ),
      ) as Promise<ChatServer>,
      named('http', ['http', 'https'], host, cfg, async () =>
        track(
          await createFileServer({
            root: path.join(ftpRoot(dataDir), 'pub'),
            dataDir,
            host,
            port: cfg.ports.http,
            tlsPort: cfg.ports.https,
            tls: tlsMaterial,
            ...cfg.services?.http,
          }),
        ),
      ) as Promise<FileServerHandle>,
      named('classic services', ['classicBase'], host, cfg, async () =>
        Promise.all(
          CLASSIC_SERVICES.map(async (name) =>
            track(
              await startService(name, {
                host,
                ...(cfg.ports.classicBase === 0 ? { port: 0 } : { portBase: cfg.ports.classicBase }),
              }),
            ),
          ),
        ),
      ) as Promise<ClassicServiceHandle[]>,
    ]);

    for (const s of [smtp, pop3, ftp, chat, http, ...classic]) wire.attach(s);
    smtp.on('message', (ev: SmtpMessageEvent) => {
      totals.messages++;
      totals.smtpBytes += ev.size;
      transcripts.add(ev);
      void mail.refresh();
    });
    pop3.on('quit', () => void mail.refresh());
    ftp.on('session', (ev: FtpSessionEvent) => {
      const t = ev.event === 'transfer' ? ev.transfer : undefined;
      // the last event of a transfer says how it ended: count each transfer's bytes once
      if (t && t.state !== 'running' && t.direction !== 'list') {
        totals.ftpTransfers++;
        totals.ftpBytes += t.bytes;
      }
    });
    chat.on('message', () => {
      totals.chatMessages++;
    });

    // netkit clients trust the dev certificate of their own --data directory: name ours when it is
    // not the one they would pick by themselves; other clients are given the certificate file
    const dataFlag = dataDir === resolveDataDir() ? '' : ` --data ${shellQuote(dataDir)}`;
    const devCert = shellQuote(shownPath(path.join(dataDir, DEV_CERT_FILE)));
    // the demo password when it still opens the account; else curl asks for the one set since
    const { user: demoUser, password: demoPassword } = credentials.real;
    const pop3Login =
      demoPassword === undefined
        ? `--user ${shellQuote(demoUser)} pop3://`
        : `pop3://${demoUser}:${demoPassword}@`;
    const services = (): ServiceStatus[] => {
      // what a client connects to: the loopback address for a wildcard bind (`::`, 0.0.0.0)
      const to = reachableHost(host);
      const hp = (p: number) => formatHostPort(to, p);
      const list: ServiceStatus[] = [
        {
          name: 'dashboard',
          host,
          port: dashboard.port,
          transport: 'tcp',
          tls: false,
          hint: `open ${dashboard.url}`,
        },
        {
          name: 'smtp',
          host,
          port: smtp.port,
          transport: 'tcp',
          tls: false,
          connections: smtp.connections,
          totals: { messages: totals.messages, bytes: totals.smtpBytes },
          hint: `netkit mail send --server ${hp(smtp.port)}${dataFlag} --to ${credentials.real.user}@lab --subject hi --text hello`,
        },
      ];
      if (smtp.tlsPort) {
        list.push({
          name: 'smtps',
          host,
          port: smtp.tlsPort,
          transport: 'tcp',
          tls: true,
          hint: `swaks --tlsc --server ${hp(smtp.tlsPort)} --to ${credentials.real.user}@lab`,
        });
      }
      list.push({
        name: 'pop3',
        host,
        port: pop3.port,
        transport: 'tcp',
        tls: false,
        connections: pop3.connections,
        hint: `curl ${pop3Login}${hp(pop3.port)}/`,
      });
      if (pop3.tlsPort) {
        list.push({
          name: 'pop3s',
          host,
          port: pop3.tlsPort,
          transport: 'tcp',
          tls: true,
          hint: `curl --cacert ${devCert} ${pop3Login.replace('pop3://', 'pop3s://')}${hp(pop3.tlsPort)}/`,
        });
      }
      list.push({
        name: 'ftp',
        host,
        port: ftp.port,
        transport: 'tcp',
        tls: false,
        connections: ftp.connections,
        totals: { transfers: totals.ftpTransfers, bytes: totals.ftpBytes },
        hint: `curl ftp://${hp(ftp.port)}/pub/`,
      });
      if (ftp.tlsPort) {
        list.push({
          name: 'ftps',
          host,
          port: ftp.tlsPort,
          transport: 'tcp',
          tls: true,
          hint: `curl --cacert ${devCert} ftps://${hp(ftp.tlsPort)}/pub/`,
        });
      }
      list.push({
        name: 'chat',
        host,
        port: chat.port,
        transport: 'tcp',
        tls: false,
        connections: chat.clients,
        totals: { messages: totals.chatMessages },
        hint: `nc ${to} ${chat.port}`,
      });
      if (chat.tlsPort) {
        list.push({
          name: 'chat-tls',
          host,
          port: chat.tlsPort,
          transport: 'tcp',
          tls: true,
          hint: `netkit chat join --tls ${hp(chat.tlsPort)}${dataFlag}`,
        });
      }
      list.push({
        name: 'http',
        host,
        port: http.port,
        transport: 'tcp',
        tls: false,
        connections: http.connections,
        hint: `curl ${http.url}`,
      });
      if (http.tlsPort) {
        list.push({
          name: 'https',
          host,
          port: http.tlsPort,
          transport: 'tcp',
          tls: true,
          hint: `curl --cacert ${devCert} https://${hp(http.tlsPort)}/`,
        });
      }
      for (const c of classic) {
        if (c.tcp) {
          list.push({
            name: c.service,
            host,
            port: c.tcp.port,
            transport: 'tcp',
            tls: false,
            connections: c.connections,
            hint: `nc ${to} ${c.tcp.port}`,
          });
        }
        if (c.udp) {
          list.push({
            name: c.service,
            host,
            port: c.udp.port,
            transport: 'udp',
            tls: false,
            hint: `nc -u ${to} ${c.udp.port}`,
          });
        }
      }
      return list;
    };

    const perms = ftpPermissions();
    const context: LabContext = {
      dataDir,
      mail,
      wire,
      accounts,
      chat: chatView(chat),
      ftp: ftpView(ftp, perms),
      status: () => services(),
      transcript: async (mb, id) => transcripts.get(mb, id),
    };
    const dashboard = await named('dashboard', ['ui'], host, cfg, () =>
      startDashboard(context, {
        host,
        port: cfg.ports.ui,
        uiAuth: cfg.uiAuth,
        maxConnections: cfg.uiMaxConnections,
        maxConnectionsPerIp: cfg.uiMaxConnectionsPerIp,
      }),
    );
    closers.unshift(() => dashboard.close());
    void mail.refresh();

    let closing: Promise<void> | undefined;
    return {
      config: cfg,
      dataDir,
      credentials,
      dashboard,
      context,
      services,
      close(deadlineMs = 10_000) {
        closing ??= Promise.all(closers.map((c) => c(deadlineMs))).then(() => undefined);
        return closing;
      },
    };
  } catch (err) {
    await Promise.allSettled(closers.map((c) => c(500)));
    throw err;
  }
}

/** A path as a user at the current directory would type it: relative below it, else absolute. */
function shownPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/** The passive range as `ftp serve --passive-ports` reads it, with the same words on an error. */
function passiveRange(spec: string): readonly [number, number] {
  const r = parsePortRange(spec);
  if (!r.ok) throw new NetkitError('NETKIT_USAGE', `passive ports ${r.error}`);
  return r.value;
}

function ftpPermissions(): Record<string, string> {
  return { ...DEFAULT_PERMISSIONS };
}
