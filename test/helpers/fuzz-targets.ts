/**
 * The servers the mutation fuzzer (fuzz.ts) plays against, each with valid session transcripts to
 * mutate, a probe (a fresh well-formed session that must still be served correctly) and, for those
 * that store what clients send, the storage invariants: SMTP — every file in a Maildir's new/ or
 * cur/ is a message the server announced as stored, byte for byte its size, and tmp/ is empty once
 * sessions are over (nothing half-written is ever visible); FTP — uploads land only where an account
 * may write, the public files stay intact, and an upload answered 226 reads back exactly as sent.
 * Every server is traced, as under `--trace` and in the lab, so hostile bytes go through that path.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { AccountStore } from '../../src/core/accounts.js';
import { formatTrace, type TraceEvent } from '../../src/core/trace.js';
import { createFtpServer } from '../../src/ftp/server.js';
import { createFileServer } from '../../src/http/file-server.js';
import { resolveLabConfig } from '../../src/lab/config.js';
import { startLab } from '../../src/lab/lab.js';
import { Maildir } from '../../src/mail/maildir.js';
import { createPop3Server } from '../../src/mail/pop3-server.js';
import { createSmtpServer, type SmtpMessageEvent } from '../../src/mail/smtp-server.js';
import { createChatServer } from '../../src/sockets/chat-server.js';
import { type ClassicServiceName, startService } from '../../src/sockets/classic.js';
import { RawFtp } from '../ftp/raw-client.js';
import type { FuzzTarget, PlayContext, Transcript } from './fuzz.js';
import { LAB_ANY_PORTS } from './lab.js';

export interface RunningTarget {
  target: FuzzTarget;
  close(): Promise<void>;
}

/**
 * What a JavaScript programming error says (V8's TypeError / RangeError messages, Node's argument
 * checks): a server turns an exception in a command handler into an error trace line and a closed
 * connection (core/connection.ts), so the process survives — but no input may cause one.
 */
const PROGRAMMING_ERROR =
  /Cannot (read|set) propert|is not a function|is not defined|is not iterable|is not a constructor|Cannot destructure|Maximum call stack|Invalid (array|string) length|argument must be|Received (type|an instance)|ERR_[A-Z_]+|Assertion/;

/**
 * Trace every event and format it, as the CLI and the dashboard do (formatTrace must take anything),
 * and return the error lines that are programming errors, taken since the last call.
 */
function traced(server: { on(event: 'trace', listener: (ev: TraceEvent) => void): unknown }): () => string[] {
  const internal: string[] = [];
  server.on('trace', (ev) => {
    formatTrace(ev);
    if (ev.kind === 'error' && PROGRAMMING_ERROR.test(ev.text)) internal.push(`${ev.service}: ${ev.text}`);
  });
  return () => internal.splice(0);
}

/**
 * One well-formed exchange: connect, wait for `greeting` (if any), send `send`, read until the
 * text matches `until` (latin1) — or fail, naming what came, when the server closes or is silent.
 */
export function converse(
  port: number,
  opts: { greeting?: RegExp; send: string | Buffer; until: RegExp; timeoutMs?: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    const fail = (why: string) => {
      clearTimeout(timer);
      s.destroy();
      reject(new Error(`${why}; got ${JSON.stringify(text.slice(-400))}`));
    };
    const timer = setTimeout(() => fail('no complete answer within the time limit'), opts.timeoutMs ?? 5000);
    const write = () => {
      sent = true;
      s.write(opts.send);
    };
    s.on('connect', () => {
      if (!opts.greeting) write();
    });
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (!sent && opts.greeting?.test(text)) write();
      if (sent && opts.until.test(text)) {
        clearTimeout(timer);
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', (err) => fail(`error ${err.message}`));
    s.on('close', () => fail('closed by the server'));
  });
}

/** Record each reply in a case's output that reports an internal error (`pattern`: global). */
function internalReplies(into: string[], pattern: RegExp): (ctx: PlayContext, data: Buffer) => void {
  return (_ctx, data) => {
    for (const m of data.toString('latin1').matchAll(pattern)) into.push(JSON.stringify(m[0]));
  };
}

/** an HTTP status line 500 and what follows it (the error's text) */
const HTTP_500 = /HTTP\/1\.[01] 500 [\s\S]{0,300}/g;

const b64 = (s: string) => Buffer.from(s).toString('base64');

// ---------------------------------------------------------------- SMTP

const SMTP_TRANSCRIPTS: Transcript[] = [
  [
    'EHLO client.example\r\n',
    'MAIL FROM:<alice@example.org>\r\n',
    'RCPT TO:<bob@lab>\r\n',
    'DATA\r\n',
    'From: alice@example.org\r\n',
    'To: bob@lab\r\n',
    'Subject: hello\r\n',
    '\r\n',
    'first line\r\n',
    '..a line that began with a dot\r\n',
    '.\r\n',
    'QUIT\r\n',
  ],
  [
    'HELO client\r\n',
    'MAIL FROM:<>\r\n',
    'RCPT TO:<postmaster>\r\n',
    'RCPT TO:<carol@lab>\r\n',
    'DATA\r\n',
    'Subject: two\r\n\r\nbody\r\n',
    '.\r\n',
    'RSET\r\n',
    'NOOP\r\n',
    'MAIL FROM:<a@b> SIZE=120 BODY=8BITMIME\r\n',
    'RCPT TO:<bob@lab>\r\n',
    'DATA\r\n',
    'Subject: caf\u00c3\u00a9\r\n\r\n8bit body \u00c3\u00a9\r\n',
    '.\r\n',
    'QUIT\r\n',
  ],
  [
    'EHLO x\r\n',
    `AUTH PLAIN ${b64('\0bob\0secret')}\r\n`,
    'MAIL FROM:<bob@lab>\r\n',
    'RCPT TO:<dave@lab>\r\n',
    'VRFY bob\r\n',
    'DATA\r\n',
    'Subject: auth\r\n\r\n',
    '.\r\n',
    'QUIT\r\n',
  ],
  [
    'EHLO x\r\n',
    'AUTH LOGIN\r\n',
    `${b64('bob')}\r\n`,
    `${b64('secret')}\r\n`,
    'HELP\r\n',
    'EXPN list\r\n',
    'QUIT\r\n',
  ],
  [
    'EHLO x\r\n',
    'MAIL FROM:<\u00c3\u00a9l\u00c3\u00a8ve@example.org> SMTPUTF8\r\n',
    'RCPT TO:<bob@lab>\r\n',
    'DATA\r\n',
    'Subject: utf8\r\n\r\n.\r\n',
    'QUIT\r\n',
  ],
  ['EHLO x\r\n', 'STARTTLS\r\n', '\x16\x03\x01\x00\x05hello', 'QUIT\r\n'],
];

export async function startSmtpTarget(
  dir: string,
): Promise<RunningTarget & { messages: SmtpMessageEvent[] }> {
  const messages: SmtpMessageEvent[] = [];
  const server = await createSmtpServer({
    dataDir: dir,
    port: 0,
    authAcceptAny: true,
    authFailureDelay: 0,
    socketTimeout: 10_000,
    maxClients: 1000,
    maxClientsPerIp: 1000,
    minFreeBytes: 0,
  });
  const internalErrors = traced(server);
  const internal: string[] = [];
  server.on('message', (m) => messages.push(m));
  let probes = 0;
  const target: FuzzTarget = {
    name: 'smtp',
    internalErrors: () => [...internalErrors(), ...internal.splice(0)],
    // smtp-server answers an exception in a command handler with this
    onData: internalReplies(
      internal,
      /451 Error: internal server error|451 4\.3\.0 Error: internal server error/g,
    ),
    port: () => server.port,
    transcripts: SMTP_TRANSCRIPTS,
    connections: () => server.connections,
    async probe() {
      probes++;
      const text = await converse(server.port, {
        greeting: /^220 /m,
        send: `EHLO probe\r\nMAIL FROM:<probe@example.org>\r\nRCPT TO:<probe@lab>\r\nDATA\r\nSubject: probe ${probes}\r\n\r\nprobe body\r\n.\r\nQUIT\r\n`,
        until: /^221 /m,
      });
      const replies = text.split('\r\n').filter(Boolean);
      const data = replies.findIndex((l) => l.startsWith('354'));
      if (data === -1 || !/^250 /.test(replies[data + 1] ?? ''))
        throw new Error(`probe message not accepted: ${JSON.stringify(replies)}`);
    },
    async checkStorage() {
      const announced = new Map(messages.map((m) => [`${m.mailbox}/${m.id}`, m.size]));
      const root = path.join(dir, 'mail');
      for (const box of await readdir(root)) {
        const tmp = await readdir(path.join(root, box, 'tmp'));
        if (tmp.length) throw new Error(`${box}/tmp/ holds ${tmp.join(', ')} after every session ended`);
        for (const sub of ['new', 'cur']) {
          for (const name of await readdir(path.join(root, box, sub))) {
            const id = name.replace(/:2,.*$/, '');
            const size = announced.get(`${box}/${id}`);
            const actual = (await stat(path.join(root, box, sub, name))).size;
            if (size === undefined) throw new Error(`${box}/${sub}/${name}: a message no 250 announced`);
            if (size !== actual) throw new Error(`${box}/${sub}/${name}: ${actual} bytes, announced ${size}`);
          }
        }
      }
    },
  };
  return { target, messages, close: () => server.close(100) };
}

// ---------------------------------------------------------------- POP3

const POP3_TRANSCRIPTS: Transcript[] = [
  [
    'CAPA\r\n',
    'USER bob\r\n',
    'PASS secret\r\n',
    'STAT\r\n',
    'LIST\r\n',
    'UIDL\r\n',
    'RETR 1\r\n',
    'TOP 2 0\r\n',
    'DELE 1\r\n',
    'RSET\r\n',
    'NOOP\r\n',
    'QUIT\r\n',
  ],
  [
    `AUTH PLAIN ${b64('\0bob\0secret')}\r\n`,
    'STAT\r\n',
    'LIST 2\r\n',
    'UIDL 1\r\n',
    'RETR 2\r\n',
    'QUIT\r\n',
  ],
  ['AUTH PLAIN\r\n', `${b64('\0bob\0secret')}\r\n`, 'TOP 1 2\r\n', 'DELE 3\r\n', 'LIST 3\r\n', 'QUIT\r\n'],
  ['USER bob\r\n', 'PASS secret\r\n', 'RETR 1\r\n', 'RETR 2\r\n', 'RETR 3\r\n', 'RETR 4\r\n', 'QUIT\r\n'],
  ['APOP bob 0123456789abcdef0123456789abcdef\r\n', 'AUTH\r\n', 'STLS\r\n', '\x16\x03\x01\x00\x05hello'],
];

export async function startPop3Target(dir: string): Promise<RunningTarget> {
  const message = (i: number) =>
    Buffer.from(
      `Subject: message ${i}\r\nFrom: a@b\r\n\r\nbody ${i}\r\n.a line with a dot\r\n${'x'.repeat(i * 300)}\r\n`,
    );
  const refill = async () => {
    const bob = Maildir.open(dir, 'bob');
    const have = (await bob.list()).length;
    for (let i = have; i < 8; i++) await bob.deliver(message(i));
  };
  await refill();
  await Maildir.open(dir, 'probe').deliver(Buffer.from('Subject: probe\r\n\r\nprobe body\r\n'));
  const server = await createPop3Server({
    dataDir: dir,
    port: 0,
    authAcceptAny: true,
    allowPlaintext: true,
    failedLoginDelayMs: 0,
    idleTimeoutMs: 10_000,
    maxConnections: 1000,
    maxConnectionsPerIp: 1000,
  });
  const internalErrors = traced(server);
  const target: FuzzTarget = {
    name: 'pop3',
    internalErrors,
    port: () => server.port,
    transcripts: POP3_TRANSCRIPTS,
    connections: () => server.connections,
    async probe() {
      const text = await converse(server.port, {
        greeting: /^\+OK/,
        send: 'USER probe\r\nPASS x\r\nSTAT\r\nRETR 1\r\nQUIT\r\n',
        until: /\r\n\.\r\n\+OK[^\r\n]*\r\n/,
      });
      if (!/\+OK 1 \d+\r\n/.test(text) || !text.includes('probe body\r\n.\r\n'))
        throw new Error(`wrong answer: ${JSON.stringify(text)}`);
    },
    // not an invariant: the fuzzed sessions delete bob's messages, so give him more to read
    checkStorage: refill,
  };
  return { target, close: () => server.close(100) };
}

// ---------------------------------------------------------------- FTP

const FTP_TRANSCRIPTS: Transcript[] = [
  [
    'USER anonymous\r\n',
    'PASS guest@example.org\r\n',
    'SYST\r\n',
    'FEAT\r\n',
    'PWD\r\n',
    'CWD pub\r\n',
    'TYPE I\r\n',
    'SIZE readme.txt\r\n',
    'EPSV\r\n',
    'RETR readme.txt\r\n',
    'QUIT\r\n',
  ],
  [
    'USER anonymous\r\n',
    'PASS a@b\r\n',
    'CWD incoming\r\n',
    'TYPE I\r\n',
    'PASV\r\n',
    'STOR upload.bin\r\n',
    'NOOP\r\n',
    'QUIT\r\n',
  ],
  [
    'USER bob\r\n',
    'PASS secret\r\n',
    'MKD dir\r\n',
    'CWD dir\r\n',
    'EPSV\r\n',
    'STOR x.txt\r\n',
    'RNFR x.txt\r\n',
    'RNTO y.txt\r\n',
    'MDTM y.txt\r\n',
    'EPSV\r\n',
    'LIST\r\n',
    'DELE y.txt\r\n',
    'CDUP\r\n',
    'RMD dir\r\n',
    'QUIT\r\n',
  ],
  [
    'USER bob\r\n',
    'PASS secret\r\n',
    'TYPE A\r\n',
    'EPSV\r\n',
    'APPE notes.txt\r\n',
    'REST 3\r\n',
    'EPSV\r\n',
    'RETR notes.txt\r\n',
    'ABOR\r\n',
    'STAT notes.txt\r\n',
    'QUIT\r\n',
  ],
  [
    'USER anonymous\r\n',
    'PASS a@b\r\n',
    'OPTS UTF8 ON\r\n',
    'EPSV\r\n',
    'MLSD /pub\r\n',
    'MLST /pub/readme.txt\r\n',
    'PASV\r\n',
    'NLST\r\n',
    'EPRT |1|127.0.0.1|9|\r\n',
    'PORT 127,0,0,1,0,9\r\n',
    'HELP\r\n',
    'STAT\r\n',
    'QUIT\r\n',
  ],
  ['AUTH TLS\r\n', '\x16\x03\x01\x00\x05hello', 'USER bob\r\n', 'PBSZ 0\r\n', 'PROT P\r\n'],
];

/** Bytes an upload in a fuzz case sends: recognisable, and different per data connection. */
function uploadPayload(ctx: PlayContext): Buffer {
  const n = ctx.rng.pick([0, 1, 100, 5000, 70_000, 300_000]);
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + n) % 251));
}

/** The data port a 227 (PASV) or 229 (EPSV) reply announces; 0 for any other line. */
function passivePort(line: string): number {
  const m = /^(?:227 .*\(\d+,\d+,\d+,\d+,(\d+),(\d+)\)|229 .*\(\|\|\|(\d+)\|\))/.exec(line);
  if (!m) return 0;
  return m[3] ? Number(m[3]) : Number(m[1]) * 256 + Number(m[2]);
}

/** FTP's side of a case: open each data connection the server offers, then upload, read, reset or leave it. */
function ftpDataConnections(): (ctx: PlayContext, data: Buffer) => void {
  const pending = new WeakMap<net.Socket, string>();
  return (ctx, data) => {
    const text = (pending.get(ctx.socket) ?? '') + data.toString('latin1');
    const lines = text.split('\n');
    pending.set(ctx.socket, lines.pop()!);
    for (const port of lines.map(passivePort)) {
      if (!port) continue;
      const d = net.connect(port, '127.0.0.1');
      ctx.track(d);
      d.on('data', () => {});
      d.on('connect', () => {
        const r = ctx.rng.next();
        if (r < 0.5) d.end(uploadPayload(ctx));
        else if (r < 0.6) d.resetAndDestroy();
        else if (r < 0.7) d.write(uploadPayload(ctx), () => d.resetAndDestroy());
        // else: read what a RETR or LIST sends and leave the close to the server
      });
    }
  };
}

export async function startFtpTarget(dir: string): Promise<RunningTarget> {
  const root = path.join(dir, 'ftp');
  const data = path.join(dir, 'data');
  const readme = 'line one\r\nline two\r\n';
  await mkdir(path.join(root, 'pub'), { recursive: true });
  await mkdir(path.join(root, 'incoming'), { recursive: true });
  await mkdir(path.join(root, 'home/bob'), { recursive: true });
  await writeFile(path.join(root, 'pub/readme.txt'), readme);
  await new AccountStore(data).add('bob', 'secret');
  const server = await createFtpServer({
    root,
    dataDir: data,
    port: 0,
    anonymousUpload: true,
    loginFailureDelayMs: 0,
    maxLoginFailures: 1_000_000,
    maxClients: 1000,
    maxClientsPerIp: 1000,
    limits: { idleTimeoutMs: 10_000, dataConnectTimeoutMs: 2000, dataIdleTimeoutMs: 5000 },
  });
  const internalErrors = traced(server);
  let probes = 0;
  const target: FuzzTarget = {
    name: 'ftp',
    internalErrors,
    port: () => server.port,
    transcripts: FTP_TRANSCRIPTS,
    connections: () => server.connections,
    onData: ftpDataConnections(),
    async probe() {
      probes++;
      const ftp = await RawFtp.connect(server.port);
      try {
        await ftp.login('anonymous', 'probe@example.org');
        await ftp.cmd('TYPE I');
        const name = `probe-${probes}.bin`;
        const sent = Buffer.from(Array.from({ length: 3000 + probes }, (_, i) => (i * 13 + probes) % 256));
        const up = await ftp.store(`STOR incoming/${name}`, sent);
        if (up.last.code !== 226) throw new Error(`STOR: ${up.last.lines.join(' | ')}`);
        const down = await ftp.retrieve('RETR pub/readme.txt');
        if (down.last.code !== 226 || down.data.toString() !== readme)
          throw new Error(`RETR: ${down.last.lines.join(' | ')}, ${JSON.stringify(down.data.toString())}`);
        if (!(await readFile(path.join(root, 'incoming', name))).equals(sent))
          throw new Error(`incoming/${name} is not what was uploaded and answered 226`);
      } finally {
        ftp.close();
      }
    },
    async checkStorage() {
      if ((await readFile(path.join(root, 'pub/readme.txt'), 'utf8')) !== readme)
        throw new Error('pub/readme.txt changed');
      for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
        const rel = path.relative(root, path.join(entry.parentPath, entry.name));
        if (entry.isFile() && !/^(home\/bob|incoming)\//.test(rel) && rel !== 'pub/readme.txt')
          throw new Error(`a file where no account may write: ${rel}`);
      }
      const outside = (await readdir(dir)).filter((n) => n !== 'ftp' && n !== 'data');
      if (outside.length) throw new Error(`files outside the FTP root: ${outside.join(', ')}`);
    },
  };
  return { target, close: () => server.close(100) };
}

// ---------------------------------------------------------------- HTTP file server

const HTTP_TRANSCRIPTS: Transcript[] = [
  ['GET / HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n', 'User-Agent: fuzz\r\n', '\r\n'],
  [
    'GET /a.txt HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    'Range: bytes=0-0,1-\r\n',
    '\r\n',
    'HEAD /sub/ HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    'If-None-Match: "x", *\r\n',
    '\r\n',
    'GET /big.bin HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    'Range: bytes=-100\r\n',
    'Connection: close\r\n',
    '\r\n',
  ],
  [
    'POST /upload HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    'Content-Length: 11\r\n',
    'Expect: 100-continue\r\n',
    '\r\n',
    'hello world',
    'PUT /a.txt HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    'Transfer-Encoding: chunked\r\n',
    '\r\n',
    '5\r\nhello\r\n',
    '0\r\n\r\n',
  ],
  [
    'GET /sub/%C3%A9t%C3%A9.txt?x=1 HTTP/1.0\r\n',
    'Accept-Encoding: gzip, br\r\n',
    'If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n',
    '\r\n',
  ],
  [
    'OPTIONS * HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    '\r\n',
    'GET http://127.0.0.1/a.txt HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    '\r\n',
  ],
];

export async function startHttpTarget(dir: string): Promise<RunningTarget> {
  const site = path.join(dir, 'site');
  await mkdir(path.join(site, 'sub'), { recursive: true });
  await writeFile(path.join(site, 'a.txt'), 'a\n');
  await writeFile(path.join(site, 'sub/été.txt'), 'summer\n');
  await writeFile(path.join(site, 'big.bin'), Buffer.alloc(300_000, 7));
  const server = await createFileServer({
    root: site,
    port: 0,
    maxConnections: 1000,
    maxConnectionsPerIp: 1000,
  });
  const internalErrors = traced(server);
  const internal: string[] = [];
  const target: FuzzTarget = {
    name: 'http',
    internalErrors: () => [...internalErrors(), ...internal.splice(0)],
    onData: internalReplies(internal, HTTP_500),
    port: () => server.port,
    transcripts: HTTP_TRANSCRIPTS,
    connections: () => server.connections,
    async probe() {
      const text = await converse(server.port, {
        send: 'GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
        until: /\r\n\r\na\n$/,
      });
      if (!text.startsWith('HTTP/1.1 200 ')) throw new Error(`wrong answer: ${JSON.stringify(text)}`);
    },
    async checkStorage() {
      const files = (await readdir(site, { recursive: true })).sort();
      if (files.join() !== ['a.txt', 'big.bin', 'sub', 'sub/été.txt'].join())
        throw new Error(`the site changed: ${files}`);
    },
  };
  return { target, close: () => server.close(100) };
}

// ---------------------------------------------------------------- chat

const CHAT_TRANSCRIPTS: Transcript[] = [
  ['/nick alice\r\n', 'hello everyone\r\n', '/me waves\r\n', '/who\r\n', '/quit bye\r\n'],
  ['/join room2\n', '/rooms\n', '/msg guest1 hi there\n', '//slash text\n', '/who lobby\n', '/help\n'],
  [
    '/nick b\u00c3\u00b6b\n',
    'caf\u00c3\u00a9 \u00e9 \x1b[31mred\x1b[0m\n',
    '/join \u00c3\u00a9t\u00c3\u00a9\n',
    '/part\n',
    '/quit\n',
  ],
];

export async function startChatTarget(dir: string): Promise<RunningTarget> {
  const server = await createChatServer({
    dataDir: dir,
    port: 0,
    maxClients: 1000,
    maxClientsPerIp: 1000,
    rateLimit: { perSecond: 0 },
  });
  const internalErrors = traced(server);
  const target: FuzzTarget = {
    name: 'chat',
    internalErrors,
    port: () => server.port,
    transcripts: CHAT_TRANSCRIPTS,
    connections: () => server.clients,
    async probe() {
      await converse(server.port, {
        greeting: /\n/,
        send: '/nick prober\n/who\n',
        until: /prober[\s\S]*lobby|lobby[\s\S]*prober/i,
      });
    },
  };
  return { target, close: () => server.close(100) };
}

// ---------------------------------------------------------------- classic services

const CLASSIC_TRANSCRIPTS: Transcript[] = [
  ['hello\r\n', 'second line\r\n', '\r\n'],
  ['\xff\xf4\xff\xfd\x06', 'binary \0 junk\n'],
  ['x'.repeat(2000), '\n'],
];

/** What a fresh client of each service must get. */
const CLASSIC_PROBES: Record<
  ClassicServiceName,
  { send: string; until: RegExp; check?: (t: string) => boolean }
> = {
  echo: { send: 'probe line\r\n', until: /probe line\r\n/ },
  discard: { send: 'probe line\r\n', until: /^$/ },
  daytime: { send: '', until: /\n/ },
  qotd: { send: '', until: /\n/ },
  chargen: { send: '', until: /[\s\S]{74}\r\n/ },
  time: { send: '', until: /^[\s\S]{4}$/ },
};

export async function startClassicTarget(service: ClassicServiceName): Promise<RunningTarget> {
  const server = await startService(service, {
    port: 0,
    udp: false,
    maxConnections: 1000,
    maxConnectionsPerIp: 1000,
  });
  const internalErrors = traced(server);
  const port = server.tcp!.port;
  const probe = CLASSIC_PROBES[service];
  const target: FuzzTarget = {
    name: service,
    internalErrors,
    port: () => port,
    transcripts: CLASSIC_TRANSCRIPTS,
    connections: () => server.connections,
    async probe() {
      if (service === 'discard') {
        // discard says nothing: it must take the bytes and close when we do
        await new Promise<void>((resolve, reject) => {
          const s = net.connect(port, '127.0.0.1', () => s.end(probe.send));
          s.on('data', () => reject(new Error('discard answered')));
          s.on('error', reject);
          s.on('close', () => resolve());
        });
        return;
      }
      await converse(port, { send: probe.send, until: probe.until });
    },
  };
  return { target, close: () => server.close(100) };
}

// ---------------------------------------------------------------- lab dashboard

/** A masked client WebSocket frame. */
export function wsFrame(opcode: number, payload: string | Buffer, fin = true): Buffer {
  const body = Buffer.from(payload);
  const mask = Buffer.from([0x11, 0x22, 0x33, 0x44]);
  const len = body.length;
  const head =
    len < 126
      ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len])
      : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  const masked = Buffer.from(body.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, mask, masked]);
}

const UPGRADE =
  'GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

const DASHBOARD_TRANSCRIPTS: Transcript[] = [
  [
    'GET /api/v1/status HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    '\r\n',
    'GET /api/v1/mailboxes HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    '\r\n',
  ],
  [
    'GET /api/v1/messages?mailbox=bob&q=x&limit=5 HTTP/1.1\r\n',
    'Host: localhost\r\n',
    '\r\n',
    'GET /api/v1/ftp/tree?path=/pub HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    '\r\n',
  ],
  [
    'POST /api/v1/chat/rooms/lobby/messages HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    'Content-Type: application/json\r\n',
    'Content-Length: 28\r\n',
    '\r\n',
    '{"nick":"web","text":"hello"}',
  ],
  ['GET /api/v1/events HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n', 'Accept: text/event-stream\r\n', '\r\n'],
  [
    UPGRADE,
    wsFrame(1, '{"type":"chat.post","room":"lobby","nick":"w","text":"hi"}').toString('latin1'),
    wsFrame(9, 'ping').toString('latin1'),
    wsFrame(1, '{"type":"chat.post","room":', false).toString('latin1'),
    wsFrame(0, '"lobby","text":"x"}').toString('latin1'),
    wsFrame(1, 'not json').toString('latin1'),
    wsFrame(8, Buffer.from([0x03, 0xe8])).toString('latin1'),
  ],
  [
    'GET /api/v1/wire?service=smtp HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    '\r\n',
    'DELETE /api/v1/messages?mailbox=nobody HTTP/1.1\r\n',
    'Host: 127.0.0.1\r\n',
    'Origin: http://127.0.0.1\r\n',
    '\r\n',
  ],
];

export async function startDashboardTarget(dir: string): Promise<RunningTarget> {
  const lab = await startLab(resolveLabConfig({ dataDir: path.join(dir, 'data'), ports: LAB_ANY_PORTS }));
  const port = lab.dashboard.port;
  const internal: string[] = [];
  const target: FuzzTarget = {
    name: 'dashboard',
    internalErrors: () => internal.splice(0),
    // the dashboard answers an exception in a handler with 500 and its message: no input may cause one
    onData: internalReplies(internal, HTTP_500),
    port: () => port,
    transcripts: DASHBOARD_TRANSCRIPTS,
    connections: () => lab.dashboard.connections,
    async probe() {
      const api = await converse(port, {
        send: 'GET /api/v1/mailboxes HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
        until: /\r\n\r\n\[[\s\S]*\]$/,
      });
      if (!api.startsWith('HTTP/1.1 200 ')) throw new Error(`API: ${JSON.stringify(api)}`);
      // a WebSocket is still upgraded, and it answers a message it cannot read with an error
      const ws = await converse(port, {
        send: Buffer.concat([Buffer.from(UPGRADE), wsFrame(1, 'junk')]),
        until: /"type":"error"/,
      });
      if (!ws.startsWith('HTTP/1.1 101 ')) throw new Error(`WebSocket: ${JSON.stringify(ws)}`);
      await converse(port, {
        send: 'GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
        until: /^HTTP\/1\.1 200 [\s\S]*: netkit lab events\n\n/,
      });
    },
  };
  return { target, close: () => lab.close(100) };
}
