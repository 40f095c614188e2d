// `npm run fuzz [-- --seconds 60 --seed N]`: a soak test with hostile input. Random sessions
// built from each protocol's grammar — real commands with absurd arguments (traversal paths, huge
// numbers, NUL, 3,000-byte words), every line ending, binary junk, DATA bodies with dot tricks,
// FTP data connections that upload junk, reset or are never read, resets and half-closes
// mid-command — from 24 concurrent clients against the SMTP, POP3, FTP, chat and HTTP servers, in
// one process. It then reports any uncaught exception or unhandled rejection, checks that each
// server still serves a well-behaved client, that every connection was let go, that files were
// written only where an account may write, and that no password or AUTH payload was traced.
// The seed is printed, so a failing run can be repeated. Exit 1 on any problem. Not part of
// `npm test`: it runs for a minute and is random by design.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  AccountStore,
  createChatServer,
  createFileServer,
  createFtpServer,
  createPop3Server,
  createSmtpServer,
  formatTrace,
  Maildir,
} from '../dist/index.js';

const problems = [];
process.on('uncaughtException', (e) => problems.push(`uncaught: ${e.stack}`));
process.on('unhandledRejection', (e) => problems.push(`unhandled: ${e?.stack ?? e}`));

const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
let seed = flag('seed', Date.now() % 100000);
console.log(`seed ${seed} (repeat with --seed ${seed})`);
const rnd = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const pick = (a) => a[Math.floor(rnd() * a.length)];
const int = (n) => Math.floor(rnd() * n);

const weird = () =>
  pick([
    '',
    ' ',
    '..',
    '../../etc/passwd',
    '/',
    '//x',
    '%2e%2e',
    'a'.repeat(int(3000)),
    'é',
    '\u0000',
    '\t',
    '-1',
    '0',
    '1',
    '2',
    '999999999999999999999',
    'NaN',
    '1e3',
    '0x10',
    '*',
    '?',
    '<>',
    '<a@b>',
    '<@x:a@b>',
    '<"q p"@b>',
    'SIZE=99999999999',
    'BODY=8BITMIME',
    'SMTPUTF8',
    '=?utf-8?b?AA==?=',
    'AHVzZXIAcGFzcw==',
    '=',
    '\\',
    'C:\\x',
    '~',
    '.hidden',
    'pub',
    'incoming',
    'bob',
    'file.txt',
    'dir/sub',
    '127,0,0,1,0,21',
    '|1|127.0.0.1|21|',
    '|2|::1|80|',
    'I',
    'A',
    'E',
    'P',
    'C',
    'TLS',
    String.fromCharCode(...Array.from({ length: int(20) }, () => int(256))),
  ]);

const GRAMMAR = {
  smtp: [
    'EHLO',
    'HELO',
    'MAIL FROM:',
    'RCPT TO:',
    'DATA',
    'RSET',
    'NOOP',
    'QUIT',
    'VRFY',
    'EXPN',
    'AUTH PLAIN',
    'AUTH LOGIN',
    'AUTH',
    'STARTTLS',
    'BDAT',
    'HELP',
    'XCLIENT',
    'LHLO',
    'mail from:',
    '',
  ],
  pop3: [
    'USER',
    'PASS',
    'APOP',
    'STAT',
    'LIST',
    'RETR',
    'DELE',
    'TOP',
    'UIDL',
    'RSET',
    'NOOP',
    'QUIT',
    'CAPA',
    'STLS',
    'AUTH',
    'AUTH PLAIN',
    'user',
    '',
  ],
  ftp: [
    'USER',
    'PASS',
    'ACCT',
    'CWD',
    'CDUP',
    'PWD',
    'MKD',
    'RMD',
    'DELE',
    'RNFR',
    'RNTO',
    'LIST',
    'NLST',
    'MLSD',
    'MLST',
    'RETR',
    'STOR',
    'STOU',
    'APPE',
    'REST',
    'SIZE',
    'MDTM',
    'PASV',
    'EPSV',
    'PORT',
    'EPRT',
    'TYPE',
    'MODE',
    'STRU',
    'ABOR',
    'FEAT',
    'OPTS',
    'OPTS UTF8',
    'HELP',
    'STAT',
    'ALLO',
    'SITE CHMOD',
    'SITE',
    'AUTH TLS',
    'AUTH',
    'PBSZ',
    'PROT',
    'NOOP',
    'SYST',
    'QUIT',
    'REIN',
    'CCC',
    'LPRT',
    'XPWD',
    '',
  ],
  chat: [
    '/nick',
    '/join',
    '/who',
    '/msg',
    '/me',
    '/rooms',
    '/quit',
    '/help',
    '/part',
    '/topic',
    '/away',
    'hello',
    '',
    '/',
  ],
  http: ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS', 'DELETE', 'TRACE', 'CONNECT', 'PRI', 'get', 'G ET'],
};

function line(proto) {
  if (proto === 'http') {
    const hdrs = [];
    for (let i = 0; i < int(6); i++)
      hdrs.push(
        pick([
          `Host: ${weird()}`,
          `Range: bytes=${pick(['0-', '-5', '5-1', '0-0,2-3', `${int(1e9)}-`, weird()])}`,
          `If-None-Match: ${weird()}`,
          `If-Range: ${weird()}`,
          `If-Modified-Since: ${weird()}`,
          `Content-Length: ${pick(['0', '5', '-1', weird()])}`,
          'Transfer-Encoding: chunked',
          'Connection: close',
          'Connection: keep-alive',
          'Expect: 100-continue',
          `Accept-Encoding: ${weird()}`,
          `${weird()}: ${weird()}`,
          weird(),
        ]),
      );
    const target = pick([
      '/',
      '/a.txt',
      '/sub/',
      '/sub',
      `/${weird()}`,
      '*',
      'http://x/',
      `/%${weird()}`,
      '/big.bin',
    ]);
    return `${pick(GRAMMAR.http)} ${target} ${pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', ''])}\r\n${hdrs.join('\r\n')}\r\n\r\n`;
  }
  const cmd = pick(GRAMMAR[proto]);
  const args = Array.from({ length: int(3) }, weird).join(' ');
  return `${cmd}${args ? ` ${args}` : ''}`;
}

const EOLS = ['\r\n', '\r\n', '\r\n', '\r\n', '\n', '\r', ''];

/**
 * FTP: open the data connection every 227/229 reply announces, then upload junk, read what comes,
 * half-close or reset it at random — the data path's side of hostile input. Returns the unparsed
 * rest of `text`.
 */
/** The data connections a control connection opened: they go when it goes (one listener each). */
const dataSockets = new WeakMap();
function dataSocketsOf(control) {
  let set = dataSockets.get(control);
  if (!set) {
    set = new Set();
    dataSockets.set(control, set);
    control.once('close', () => {
      for (const d of set) d.destroy();
    });
  }
  return set;
}

function dataConnections(text, control) {
  const lines = text.split('\n');
  const rest = lines.pop();
  for (const l of lines) {
    const pasv = /^227 .*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(l);
    const epsv = /^229 .*\(\|\|\|(\d+)\|\)/.exec(l);
    const port = pasv ? Number(pasv[5]) * 256 + Number(pasv[6]) : epsv ? Number(epsv[1]) : 0;
    if (!port) continue;
    const d = net.connect(port, '127.0.0.1');
    d.on('error', () => {});
    d.on('data', () => {});
    dataSocketsOf(control).add(d);
    d.once('close', () => dataSocketsOf(control).delete(d));
    d.on('connect', () => {
      const r = rnd();
      if (r < 0.15) d.resetAndDestroy();
      else if (r < 0.55) d.end(Buffer.from(Array.from({ length: int(200_000) }, () => int(256))));
      else if (r < 0.7) d.write(Buffer.alloc(int(100_000), 0x61));
      else if (r < 0.85) setTimeout(() => d.resetAndDestroy(), int(50));
      // else: read whatever a RETR or LIST sends, and leave the close to the server
    });
  }
  return rest;
}

/**
 * Secrets that only ever travel inside a SASL exchange (never in the random arguments), so any
 * trace line that shows one is a leak: the AUTH LOGIN / AUTH PLAIN continuation lines must be
 * redacted as well as the AUTH line itself.
 */
const SASL_SECRET = 'fuzz-Secret-77';
const SASL_SECRETS = [
  SASL_SECRET,
  Buffer.from(SASL_SECRET).toString('base64'),
  Buffer.from(`\0bob\0${SASL_SECRET}`).toString('base64'),
];

/**
 * A whole SASL login, pipelined, as the first thing a session says: the server expects it, so
 * every continuation line is a secret it must keep out of the trace. (Later in a session the
 * server may refuse the AUTH, and then the next line is just a command to it.)
 */
function saslExchange(proto) {
  const [, b64, plain] = SASL_SECRETS;
  const eol = pick(['\r\n', '\n']);
  const steps =
    proto === 'smtp'
      ? pick([
          ['EHLO x', 'AUTH LOGIN', Buffer.from('bob').toString('base64'), b64],
          ['EHLO x', `AUTH LOGIN ${Buffer.from('bob').toString('base64')}`, b64],
          ['EHLO x', 'AUTH PLAIN', plain],
          ['EHLO x', `AUTH PLAIN ${plain}`],
          ['EHLO x', 'AUTH LOGIN', b64, '*'],
        ])
      : pick([['AUTH PLAIN', plain], [`AUTH PLAIN ${plain}`]]);
  return steps.map((l) => l + eol).join('');
}

async function session(port, proto, ms) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    let replies = '';
    s.on('data', (d) => {
      if (proto === 'ftp') replies = dataConnections(replies + d, s);
    });
    const end = setTimeout(() => {
      s.destroy();
      resolve();
    }, ms);
    s.on('close', () => {
      clearTimeout(end);
      resolve();
    });
    s.on('connect', async () => {
      if ((proto === 'pop3' || proto === 'smtp') && rnd() < 0.25) s.write(saslExchange(proto));
      const steps = 1 + int(40);
      for (let i = 0; i < steps && !s.destroyed; i++) {
        const r = rnd();
        if (r < 0.02) return s.resetAndDestroy();
        if (r < 0.04) return s.end();
        if (r < 0.07) s.write(Buffer.from(Array.from({ length: int(5000) }, () => int(256))));
        else if (proto === 'smtp' && r < 0.15) {
          s.write('EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob@lab>\r\nDATA\r\n');
          for (let k = 0; k < int(20); k++)
            s.write(`${pick(['.', '..', '', 'x', '.\n', '\n.\n', '\r.\r', weird()])}${pick(EOLS)}`);
          s.write(pick(['.\r\n', '\r\n.\r\n', '']));
        } else if (proto === 'ftp' && r < 0.12)
          s.write(`USER ${pick(['anonymous', 'bob', 'ftp'])}\r\nPASS ${pick(['x@y', 'pw', weird()])}\r\n`);
        else if (proto === 'ftp' && r < 0.3)
          s.write(
            `${pick(['PASV', 'EPSV'])}\r\n${pick(['TYPE I\r\n', 'TYPE A\r\n', `REST ${int(300)}\r\n`, ''])}${pick(['STOR', 'APPE', 'RETR', 'LIST', 'MLSD', 'NLST', 'STOU'])} ${pick(['up.bin', 'file.txt', 'incoming/x', 'dir/sub/y', weird()])}\r\n${rnd() < 0.2 ? 'ABOR\r\n' : ''}`,
          );
        else if (proto === 'pop3' && r < 0.12) s.write(`USER bob\r\nPASS pw\r\n`);
        else s.write(line(proto) + (proto === 'http' ? '' : pick(EOLS)));
        if (rnd() < 0.3) await new Promise((r2) => setTimeout(r2, int(20)));
      }
      if (rnd() < 0.5) s.end();
    });
  });
}

async function probe(port, greeting, send, expect) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(`no answer; got ${JSON.stringify(buf.slice(0, 200))}`);
    }, 5000);
    s.on('error', (e) => {
      clearTimeout(t);
      resolve(`error ${e.message}`);
    });
    s.on('data', (d) => {
      buf += d;
      if (greeting && buf.match(greeting) && send) {
        s.write(send);
        send = undefined;
      }
      if (buf.match(expect)) {
        clearTimeout(t);
        s.destroy();
        resolve(undefined);
      }
    });
    s.on('connect', () => {
      if (!greeting && send) s.write(send);
    });
  });
}

const base = await mkdtemp(path.join(os.tmpdir(), 'netkit-fuzz-'));
const data = path.join(base, 'data');
const root = path.join(base, 'ftp');
await mkdir(path.join(root, 'home/bob'), { recursive: true });
await mkdir(path.join(root, 'pub'), { recursive: true });
await mkdir(path.join(root, 'incoming'), { recursive: true });
await writeFile(path.join(root, 'home/bob/file.txt'), 'hello\n');
await writeFile(path.join(root, 'pub/file.txt'), 'pub\n');
const site = path.join(base, 'site');
await mkdir(path.join(site, 'sub'), { recursive: true });
await writeFile(path.join(site, 'a.txt'), 'a\n');
await writeFile(path.join(site, 'big.bin'), Buffer.alloc(300_000, 7));
await new AccountStore(data).add('bob', 'pw');
const md = Maildir.open(data, 'bob');
for (let i = 0; i < 5; i++) await md.deliver(Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n.dot\r\n`));

const smtp = await createSmtpServer({
  dataDir: data,
  port: 0,
  tlsPort: 0,
  authAcceptAny: true,
  socketTimeout: 3000,
  maxClientsPerIp: 1000,
  authFailureDelay: 0,
});
const pop3 = await createPop3Server({
  dataDir: data,
  port: 0,
  tlsPort: 0,
  failedLoginDelayMs: 0,
  allowPlaintext: true,
  idleTimeoutMs: 3000,
  maxConnectionsPerIp: 1000,
});
const ftp = await createFtpServer({
  root,
  dataDir: data,
  port: 0,
  loginFailureDelayMs: 0,
  anonymousUpload: true,
  maxLoginFailures: 100000,
  maxClientsPerIp: 1000,
  limits: { idleTimeoutMs: 3000, dataConnectTimeoutMs: 1000, dataIdleTimeoutMs: 2000 },
});
const chat = await createChatServer({ dataDir: data, port: 0 });
const http = await createFileServer({ root: site, port: 0 });
// every server is traced, as under --trace and in the lab: hostile bytes go through the trace
// path too, and no password or AUTH payload may reach it unredacted
let traced = 0;
for (const server of [smtp, pop3, ftp, chat, http])
  server.on('trace', (ev) => {
    const text = formatTrace(ev);
    traced++;
    if (ev.kind === 'in' && ev.service !== 'chat' && /^(?:PASS|AUTH\s+\S+)\s+(?!\*{4}$)\S/i.test(ev.text))
      problems.push(`secret traced: ${text}`);
    if (SASL_SECRETS.some((secret) => text.includes(secret))) problems.push(`SASL secret traced: ${text}`);
  });
const targets = [
  ['smtp', smtp.port],
  ['pop3', pop3.port],
  ['ftp', ftp.port],
  ['chat', chat.port],
  ['http', http.port],
];
console.log(targets);
const until = Date.now() + flag('seconds', 60) * 1000;
let sessions = 0;
const workers = Array.from({ length: 24 }, async () => {
  while (Date.now() < until) {
    const [proto, port] = pick(targets);
    await session(port, proto, 2000 + int(2000));
    sessions++;
  }
});
await Promise.all(workers);
console.log(
  'sessions',
  sessions,
  'trace events',
  traced,
  'rss MiB',
  (process.memoryUsage().rss / 2 ** 20).toFixed(0),
);
const checks = {
  smtp: await probe(
    smtp.port,
    /^220 /m,
    'EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<bob@lab>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n',
    /250 [^\r\n]*(queued|Ok|OK|ok|accepted|stored)[^\n]*\n[\s\S]*221/,
  ),
  pop3: await probe(pop3.port, /^\+OK/, 'CAPA\r\nQUIT\r\n', /\r\n\.\r\n\+OK/),
  ftp: await probe(ftp.port, /^220 /m, 'USER anonymous\r\nPASS a@b\r\nPWD\r\nQUIT\r\n', /257[\s\S]*221/),
  chat: await probe(targets[3][1], /./, '/who\n', /lobby/i),
  http: await probe(
    http.port,
    undefined,
    'GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    /200 OK[\s\S]*\r\n\r\na\n/,
  ),
};
console.log('probes', checks);
const connected = () => smtp.connections + pop3.connections + ftp.connections + http.connections;
for (const giveUp = Date.now() + 10_000; connected() > 0 && Date.now() < giveUp; )
  await new Promise((r) => setTimeout(r, 100));
for (const [name, failure] of Object.entries(checks)) if (failure) problems.push(`${name} probe: ${failure}`);
// uploads land only where an account may write: bob's home and the anonymous drop box
const stray = (await readdir(base)).filter((n) => !['data', 'ftp', 'site'].includes(n));
for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
  const rel = path.relative(root, path.join(entry.parentPath ?? entry.path, entry.name));
  if (entry.isFile() && !/^(home\/bob|incoming)\//.test(rel) && rel !== 'pub/file.txt')
    stray.push(`ftp/${rel}`);
}
if ((await readFile(path.join(root, 'pub/file.txt'), 'utf8')) !== 'pub\n')
  stray.push('ftp/pub/file.txt changed');
if ((await readdir(site, { recursive: true })).length !== 3) stray.push('the HTTP root changed');
for (const p of stray) problems.push(`written outside the permitted places: ${p}`);
console.log(
  'uploads stored',
  (await readdir(path.join(root, 'incoming'))).length +
    (await readdir(path.join(root, 'home/bob'))).length -
    1,
);
// every fuzz session is over; within the servers' idle timeouts (3 s) they let go of the rest
const left = { smtp: smtp.connections, pop3: pop3.connections, ftp: ftp.connections, http: http.connections };
console.log('connections left', left);
for (const [name, n] of Object.entries(left)) if (n > 0) problems.push(`${name}: ${n} connections left`);
console.log(`${problems.length} problem(s)`);
for (const p of problems.slice(0, 10)) console.log(p);
await Promise.allSettled([
  smtp.close(100),
  pop3.close(100),
  ftp.close(100),
  chat.close(100),
  http.close(100),
]);
await rm(base, { recursive: true, force: true });
process.exit(problems.length ? 1 : 0);
