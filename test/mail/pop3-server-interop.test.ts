/**
 * Independent peers against our POP3 server: Python's poplib (STLS, USER/PASS, UIDL, TOP, RETR,
 * DELE/RSET, QUIT, POP3_SSL), curl (pop3:// LIST and RETR, STLS, pop3s://), and Dovecot serving
 * the very same Maildir — sizes, UIDs and message bytes must match what Dovecot says.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import { Maildir } from '../../src/mail/maildir.js';
import { createPop3Server, type Pop3ServerHandle } from '../../src/mail/pop3-server.js';
import { startDovecot } from '../helpers/dovecot.js';
import { run, tempDir } from '../helpers/net.js';

const PY = '/usr/bin/python3';
let dataDir: string;
let cleanup: () => Promise<void>;
let material: TlsMaterial;
let server: Pop3ServerHandle;

/** What a client must receive for a stored message: CRLF line ends, a final line end. */
const canonical = (s: string) => {
  const c = s.replace(/(?<!\r)\n/g, '\r\n');
  return c === '' || c.endsWith('\r\n') ? c : `${c}\r\n`;
};

const MESSAGES = [
  'From: alice@example.org\r\nTo: bob@lab\r\nSubject: first\r\n\r\nHello Bob,\r\n.a line with a leading dot\r\n.\r\nbye\r\n',
  'From: carol@example.org\nSubject: bare LF\n\nline one\nline two\n..two dots\n',
  'From: dave@example.org\r\nSubject: =?UTF-8?B?w6TDtsO8?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa4\xc3\xb6\xc3\xbc 8-bit body\r\n',
];

async function fill(mailbox: string): Promise<Maildir> {
  const md = Maildir.open(dataDir, mailbox);
  for (const m of MESSAGES) await md.deliver(Buffer.from(m, 'latin1'));
  return md;
}

beforeAll(async () => {
  ({ dir: dataDir, cleanup } = await tempDir());
  material = await loadTls(dataDir);
  await new AccountStore(dataDir).add('bob', 's3cret');
  await new AccountStore(dataDir).add('carl', 'pw');
  server = await createPop3Server({ dataDir, port: 0, tlsPort: 0, tls: material, failedLoginDelayMs: 0 });
});
afterAll(async () => {
  await server.close(500);
  await cleanup();
});

const POPLIB_SCRIPT = String.raw`
import json, poplib, ssl, sys
cfg = json.loads(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}
p = poplib.POP3('127.0.0.1', cfg['port'], timeout=10)
out['welcome'] = p.getwelcome().decode()
out['capa_plain'] = sorted(p.capa().keys())
out['stls'] = p.stls(context=ctx).decode()
out['capa_tls'] = sorted(p.capa().keys())
p.user(cfg['user'])
out['pass'] = p.pass_(cfg['password']).decode()
out['stat'] = list(p.stat())
resp, lines, octets = p.list()
out['list'] = [l.decode() for l in lines]
resp, lines, octets = p.uidl()
out['uidl'] = [l.decode() for l in lines]
out['uidl2'] = p.uidl(2).decode()
resp, lines, octets = p.top(1, 1)
out['top'] = [l.decode('latin1') for l in lines]
out['retr'] = []
for i in range(1, out['stat'][0] + 1):
    resp, lines, octets = p.retr(i)
    out['retr'].append({'resp': resp.decode(), 'octets': octets, 'text': b''.join(l + b'\r\n' for l in lines).decode('latin1')})
out['dele1'] = p.dele(1).decode()
out['dele2'] = p.dele(2).decode()
try:
    p.retr(1)
except poplib.error_proto as e:
    out['retr_deleted'] = e.args[0].decode()
out['stat_after_dele'] = list(p.stat())
out['rset'] = p.rset().decode()
out['stat_after_rset'] = list(p.stat())
out['dele1_again'] = p.dele(1).decode()
out['noop'] = p.noop().decode()
out['quit'] = p.quit().decode()
s = poplib.POP3_SSL('127.0.0.1', cfg['tlsPort'], context=ctx, timeout=10)
out['ssl_capa'] = sorted(s.capa().keys())
s.user(cfg['user'])
s.pass_(cfg['password'])
out['ssl_stat'] = list(s.stat())
resp, lines, octets = s.uidl()
out['ssl_uidl'] = [l.decode() for l in lines]
out['ssl_quit'] = s.quit().decode()
try:
    bad = poplib.POP3('127.0.0.1', cfg['port'], timeout=10)
    bad.user(cfg['user'])
    bad.pass_('wrong')
except poplib.error_proto as e:
    out['bad_login'] = e.args[0].decode()
print(json.dumps(out))
`;

describe("Python's poplib", () => {
  it('STLS, USER/PASS, STAT, LIST, UIDL, TOP, RETR, DELE/RSET, QUIT, then POP3_SSL', async () => {
    const md = await fill('bob');
    const ids = (await md.list()).map((e) => e.id);
    const cfg = { port: server.port, tlsPort: server.tlsPort, user: 'bob', password: 's3cret' };
    const r = await run(PY, ['-c', POPLIB_SCRIPT, JSON.stringify(cfg)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const sizes = MESSAGES.map((m) => Buffer.byteLength(canonical(m), 'latin1'));
    expect(out.welcome).toBe('+OK netkit POP3 server ready');
    expect(out.capa_plain).toEqual(
      [
        'AUTH-RESP-CODE',
        'IMPLEMENTATION',
        'PIPELINING',
        'RESP-CODES',
        'SASL',
        'STLS',
        'TOP',
        'UIDL',
        'USER',
      ].sort(),
    );
    expect(out.stls).toBe('+OK begin TLS negotiation');
    expect(out.capa_tls).not.toContain('STLS');
    expect(out.capa_tls).toContain('USER');
    expect(out.pass).toBe('+OK logged in: mailbox bob has 3 messages');
    expect(out.stat).toEqual([3, sizes.reduce((a, b) => a + b)]);
    expect(out.list).toEqual(sizes.map((s, i) => `${i + 1} ${s}`));
    expect(out.uidl).toEqual(ids.map((id, i) => `${i + 1} ${id}`));
    expect(out.uidl2).toBe(`+OK 2 ${ids[1]}`);
    expect(out.top).toEqual(['From: alice@example.org', 'To: bob@lab', 'Subject: first', '', 'Hello Bob,']);
    out.retr.forEach((m: { resp: string; octets: number; text: string }, i: number) => {
      expect(m.resp).toBe(`+OK ${sizes[i]} octets`);
      expect(m.octets).toBe(sizes[i]);
      expect(m.text).toBe(canonical(MESSAGES[i]!));
    });
    expect(out.dele1).toBe('+OK message 1 deleted');
    expect(out.retr_deleted).toBe('-ERR message 1 already deleted');
    expect(out.stat_after_dele).toEqual([1, sizes[2]]);
    expect(out.rset).toMatch(/^\+OK maildrop has 3 messages/);
    expect(out.stat_after_rset).toEqual(out.stat);
    expect(out.quit).toBe('+OK netkit POP3 server signing off (1 message deleted)');
    expect(out.ssl_capa).not.toContain('STLS');
    expect(out.ssl_stat).toEqual([2, sizes[1]! + sizes[2]!]);
    expect(out.ssl_uidl).toEqual([`1 ${ids[1]}`, `2 ${ids[2]}`]);
    expect(out.ssl_quit).toMatch(/^\+OK/);
    expect(out.bad_login).toBe('-ERR [AUTH] authentication failed');
    // UPDATE: message 1 gone, the retrieved ones flagged seen in cur/
    const after = await md.list();
    expect(after.map((e) => e.id)).toEqual(ids.slice(1));
    expect(after.every((e) => e.folder === 'cur' && e.flags === 'S')).toBe(true);
  });
});

describe('curl', () => {
  const url = (p: string, port = server.port, scheme = 'pop3') => `${scheme}://carl:pw@127.0.0.1:${port}${p}`;

  it('lists and retrieves (SASL PLAIN), over plain, STLS and pop3s', async () => {
    const md = await fill('carl');
    const list = await run('curl', ['-sS', '--max-time', '10', url('/')]);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const sizes = MESSAGES.map((m) => Buffer.byteLength(canonical(m), 'latin1'));
    expect(list.stdout).toBe(sizes.map((s, i) => `${i + 1} ${s}\r\n`).join(''));

    const first = await run('curl', ['-sS', '--max-time', '10', url('/1')]);
    expect(first.code).toBe(0);
    expect(first.stdoutBuf.toString('latin1')).toBe(canonical(MESSAGES[0]!));

    const stls = await run('curl', ['-sS', '--max-time', '10', '--ssl-reqd', '-k', url('/2')]);
    expect(stls.code).toBe(0);
    expect(stls.stdoutBuf.toString('latin1')).toBe(canonical(MESSAGES[1]!));

    const pop3s = await run('curl', ['-sS', '--max-time', '10', '-k', url('/3', server.tlsPort, 'pop3s')]);
    expect(pop3s.code).toBe(0);
    expect(pop3s.stdoutBuf.toString('latin1')).toBe(canonical(MESSAGES[2]!));

    // --sasl-ir: the initial-response form of AUTH PLAIN; a custom single-line command (DELE, -I), then QUIT
    const dele = await run('curl', ['-sS', '--max-time', '10', '--sasl-ir', '-X', 'DELE', '-I', url('/1')]);
    expect(dele.code).toBe(0);
    expect((await md.list()).map((e) => e.id)).toHaveLength(2);

    const wrong = await run('curl', [
      '-sS',
      '--max-time',
      '10',
      `pop3://carl:nope@127.0.0.1:${server.port}/`,
    ]);
    expect(wrong.code).not.toBe(0);
  });

  it('picks SASL PLAIN from CAPA and answers the "+ " continuation', async () => {
    const r = await run('curl', ['-sS', '-v', '--max-time', '10', url('/')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/> AUTH PLAIN\r?\n/);
    expect(r.stderr).toMatch(/< \+ \r?\n/);
    expect(r.stderr).toMatch(/< \+OK logged in: mailbox carl/);
  });
});

describe('Dovecot on the same Maildir', () => {
  it('agrees on STAT, LIST sizes, UIDLs, RETR and TOP bytes', async () => {
    const md = await fill('parity-box');
    const dovecot = await startDovecot({ maildir: md.dir });
    const lab = await createPop3Server({
      dataDir,
      port: 0,
      tls: false,
      authAcceptAny: true,
      markSeen: false,
    });
    try {
      const n = MESSAGES.length;
      const cmds = ['STAT', 'LIST', 'UIDL'];
      for (let i = 1; i <= n; i++) cmds.push(`RETR ${i}`, `TOP ${i} 1`, `LIST ${i}`, `UIDL ${i}`);
      const ours = await converse(lab.port, 'parity-box', 'any', cmds);
      const theirs = await converse(dovecot.port, 'parity-box', dovecot.password, cmds);
      expect(ours.stat).toEqual(theirs.stat);
      expect(ours.bodies).toEqual(theirs.bodies);
      expect(ours.singles).toEqual(theirs.singles);
      expect(ours.bodies.length).toBe(2 + 2 * n);
    } finally {
      await lab.close(500);
      await dovecot.stop();
    }
  });
});

/**
 * Log in, send the commands pipelined, QUIT, and split the answer into: the STAT figures, the
 * multi-line bodies (un-stuffed) and the single-line answers to `LIST n` / `UIDL n` — everything
 * except status-line wording, which legitimately differs between servers.
 */
async function converse(
  port: number,
  user: string,
  password: string,
  cmds: string[],
): Promise<{ stat: string; bodies: string[][]; singles: string[] }> {
  const text = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      data += d;
    });
    s.on('error', reject);
    s.on('close', () => resolve(data));
    s.write(`USER ${user}\r\nPASS ${password}\r\n${cmds.join('\r\n')}\r\nQUIT\r\n`);
  });
  const lines = text.split('\r\n');
  lines.splice(0, 3); // greeting, USER, PASS
  let stat = '';
  const bodies: string[][] = [];
  const singles: string[] = [];
  for (const cmd of cmds) {
    const status = lines.shift()!;
    expect(status, `${cmd} → ${status}`).toMatch(/^\+OK/);
    const multi = cmd === 'LIST' || cmd === 'UIDL' || cmd.startsWith('RETR') || cmd.startsWith('TOP');
    if (cmd === 'STAT') stat = status;
    else if (!multi) singles.push(status);
    else {
      const body: string[] = [];
      for (let l = lines.shift()!; l !== '.'; l = lines.shift()!)
        body.push(l.startsWith('.') ? l.slice(1) : l);
      bodies.push(body);
    }
  }
  return { stat, bodies, singles };
}
