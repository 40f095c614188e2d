import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { copyFile, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { TraceEvent } from '../../src/core/trace.js';
import { STAT_MAX_ENTRIES } from '../../src/ftp/commands/info.js';
import type { FtpSessionEvent, FtpWarning } from '../../src/ftp/session.js';
import { tempDir } from '../helpers/net.js';
import { CANARY, type Fixture, loginAlice, nextSessionEvent, PASSWORDS, startFixture } from './fixture.js';
import { connect, RawFtp } from './raw-client.js';

let fx: Fixture;
const traces: TraceEvent[] = [];
const sessionEvents: FtpSessionEvent[] = [];

beforeAll(async () => {
  fx = await startFixture({ limits: { dataConnectTimeoutMs: 300 } });
  fx.server.on('trace', (e: TraceEvent) => traces.push(e));
  fx.server.on('session', (e: FtpSessionEvent) => sessionEvents.push(e));
});
afterAll(() => fx.cleanup());

const alice = () => loginAlice(fx);

const nextSession = (match: (e: FtpSessionEvent) => boolean) => nextSessionEvent(fx, match);

describe('login and account classes', () => {
  it('greets, and refuses every command before login with 530', async () => {
    const c = await RawFtp.connect(fx.port);
    expect(c.greeting.code).toBe(220);
    for (const cmd of [
      'PWD',
      'LIST',
      'RETR x',
      'STOR x',
      'CWD /',
      'MKD x',
      'DELE x',
      'PASV',
      'EPSV',
      'SIZE x',
      'TYPE I',
    ]) {
      expect((await c.cmd(cmd)).code, cmd).toBe(530);
    }
    // allowed before login
    expect((await c.cmd('SYST')).code).toBe(215);
    expect((await c.cmd('FEAT')).lines).toContain(' MLST type*;size*;modify*;perm*;unique*;unix.mode;');
    c.close();
  });

  it('logs in a real user into home/NAME with full rights', async () => {
    const c = await RawFtp.connect(fx.port);
    expect((await c.login('alice', PASSWORDS.alice)).text).toMatch(/alice logged in \(real account\)/);
    expect((await c.cmd('PWD')).text).toBe('"/" is the current directory');
    expect((await c.cmd('MKD new dir')).code).toBe(257);
    expect((await stat(path.join(fx.root, 'home/alice/new dir'))).isDirectory()).toBe(true);
    expect((await c.cmd('RMD new dir')).code).toBe(250);
    c.close();
  });

  it('logs in guests into the shared guest/ area, refuses expired ones and wrong passwords', async () => {
    const g = await RawFtp.connect(fx.port);
    expect((await g.login('gus', PASSWORDS.gus)).text).toMatch(/guest account/);
    await g.cmd('TYPE I');
    expect((await g.store('STOR shared.txt', 'from gus')).last.code).toBe(226);
    expect(await readFile(path.join(fx.root, 'guest/shared.txt'), 'utf8')).toBe('from gus');
    const overwrite = await g.store('STOR shared.txt', 'again');
    expect(overwrite.first.code).toBe(553);
    expect(overwrite.first.text).toMatch(/may not be overwritten/);
    expect((await g.cmd('DELE shared.txt')).code).toBe(550);
    expect((await g.cmd('RNFR shared.txt')).code).toBe(550);
    expect((await g.cmd('MKD sub')).code).toBe(550);
    expect((await g.cmd('REST 3')).code).toBe(350);
    expect((await g.store('STOR shared.txt', 'x')).first.code).toBe(553);
    expect((await g.store('APPE shared.txt', 'x')).first.code).toBe(550);
    expect((await g.retrieve('RETR shared.txt')).data.toString()).toBe('from gus');
    g.close();

    const o = await RawFtp.connect(fx.port);
    expect((await o.cmd('USER old')).code).toBe(331);
    const expired = await o.cmd(`PASS ${PASSWORDS.old}`);
    expect(expired.code).toBe(530);
    expect(expired.text).toMatch(/expired/);
    expect((await o.cmd('USER alice')).code).toBe(331);
    const started = Date.now();
    const wrong = await o.cmd('PASS nope');
    expect(wrong.code).toBe(530);
    expect(wrong.text).toBe('Login incorrect');
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    o.close();
  });

  it('lets anonymous (and ftp) read pub/ and drop files into incoming/ only', async () => {
    for (const name of ['anonymous', 'ftp']) {
      const a = await RawFtp.connect(fx.port);
      expect((await a.login(name, 'someone@example.com')).code).toBe(230);
      const root = await a.retrieve('NLST');
      expect(root.data.toString().split('\r\n').filter(Boolean)).toEqual(['incoming', 'pub']);
      const readme = await a.retrieve('RETR /pub/readme.txt');
      expect(readme.last.code).toBe(226);
      const pubStore = await a.store('STOR /pub/x.txt', 'x');
      expect(pubStore.first.code).toBe(532);
      expect((await a.cmd('DELE /pub/readme.txt')).code).toBe(550);
      expect((await a.cmd('MKD /pub/d')).code).toBe(550);
      expect((await a.cmd('CWD /incoming')).code).toBe(250);
      expect((await a.store(`STOR drop-${name}.txt`, 'dropped')).last.code).toBe(226);
      expect((await a.store(`STOR drop-${name}.txt`, 'again')).first.code).toBe(553);
      expect((await a.retrieve('LIST')).first.code).toBe(550);
      expect((await a.retrieve(`RETR drop-${name}.txt`)).first.code).toBe(550);
      expect((await a.cmd(`SIZE drop-${name}.txt`)).code).toBe(550);
      expect(await readFile(path.join(fx.root, `incoming/drop-${name}.txt`), 'utf8')).toBe('dropped');
      a.close();
    }
  });

  it('never traces a password', () => {
    const all = traces.map((t) => t.text).join('\n');
    for (const pw of Object.values(PASSWORDS)) expect(all).not.toContain(pw);
    expect(all).toContain('PASS ****');
    const cmds = sessionEvents.map((e) => e.command ?? '').join('\n');
    for (const pw of Object.values(PASSWORDS)) expect(cmds).not.toContain(pw);
  });
});

describe('commands', () => {
  it('lists in LIST, NLST, MLSD and MLST forms with UTF-8 names', async () => {
    const c = await alice();
    await c.cmd('CWD /');
    const a = await RawFtp.connect(fx.port);
    await a.login('anonymous', 'x@y');
    const list = await a.retrieve('LIST /pub');
    expect(list.data.toString()).toMatch(/^drwx.* docs\r\n-rw.* 18 .* readme\.txt\r\n$/);
    const mlsd = await a.retrieve('MLSD /pub/docs');
    expect(mlsd.data.toString('utf8')).toMatch(
      /^type=file;size=11;modify=\d{14};perm=r;unique=\w+; naïve 日本\.txt\r\n$/,
    );
    const mlst = await a.cmd('MLST /pub/readme.txt');
    expect(mlst.lines[1]).toMatch(/^ type=file;size=18;modify=\d{14};perm=r;unique=\w+; \/pub\/readme\.txt$/);
    expect((await a.cmd('OPTS MLST size;type;')).text).toBe('MLST OPTS type;size;');
    expect((await a.retrieve('MLSD /pub')).data.toString()).toBe(
      'type=dir; docs\r\ntype=file;size=18; readme.txt\r\n',
    );
    expect((await a.retrieve('MLSD /pub/readme.txt')).first.code).toBe(501);
    // RFC 3659 §4: SIZE is the size in the current TYPE; refused in TYPE A as pyftpdlib does
    expect((await a.cmd('SIZE /pub/readme.txt')).lines).toEqual(['550 SIZE not allowed in ASCII mode']);
    await a.cmd('TYPE I');
    expect((await a.cmd('SIZE /pub/readme.txt')).text).toBe('18');
    expect((await a.cmd('MDTM /pub/readme.txt')).text).toMatch(/^\d{14}$/);
    const statDir = await a.cmd('STAT /pub');
    expect(statDir.code).toBe(213);
    expect(statDir.lines.join('\n')).toMatch(/readme\.txt/);
    a.close();
    c.close();
  });

  it('a big directory: LIST sends every entry (in pieces), STAT shows the first STAT_MAX_ENTRIES', async () => {
    const c = await alice();
    const dir = path.join(fx.root, 'home/alice/many');
    await mkdir(dir);
    const count = STAT_MAX_ENTRIES + 5;
    // names long enough that the listing spans several 64 KiB pieces
    const names = Array.from(
      { length: count },
      (_, i) => `entry-${String(i).padStart(5, '0')}-${'x'.repeat(70)}`,
    );
    await Promise.all(names.map((n) => writeFile(path.join(dir, n), '')));
    const nlst = await c.retrieve('NLST many');
    expect(nlst.last.code).toBe(226);
    expect(nlst.data.length).toBeGreaterThan(2 * 64 * 1024);
    expect(nlst.data.toString().split('\r\n').filter(Boolean).sort()).toEqual([...names].sort());
    const list = await c.retrieve('LIST many');
    expect(list.data.toString().split('\r\n').filter(Boolean)).toHaveLength(count);
    const st = await c.cmd('STAT many');
    expect(st.code).toBe(213);
    expect(st.lines.filter((l) => l.includes('entry-'))).toHaveLength(STAT_MAX_ENTRIES);
    expect(st.lines.at(-2)).toBe(' ... and 5 more entries: use LIST for all of them');
    c.close();
  });

  it('converts line endings in TYPE A, keeps bytes in TYPE I', async () => {
    const c = await alice();
    await c.cmd('TYPE A');
    expect((await c.store('STOR text.txt', 'a\r\nb\r\n')).last.code).toBe(226);
    expect(await readFile(path.join(fx.root, 'home/alice/text.txt'), 'utf8')).toBe('a\nb\n');
    expect((await c.retrieve('RETR text.txt')).data.toString()).toBe('a\r\nb\r\n');
    await c.cmd('TYPE I');
    expect((await c.retrieve('RETR text.txt')).data.toString()).toBe('a\nb\n');
    expect((await c.store('STOR empty.txt', '')).last.code).toBe(226);
    const empty = await c.retrieve('RETR empty.txt');
    expect([empty.last.code, empty.data.length]).toEqual([226, 0]);
    expect((await c.cmd('TYPE E')).code).toBe(504);
    expect((await c.cmd('MODE B')).code).toBe(504);
    expect((await c.cmd('STRU R')).code).toBe(504);
    expect((await c.cmd('MODE S')).code).toBe(200);
    expect((await c.cmd('STRU F')).code).toBe(200);
    c.close();
  });

  it('renames, deletes, STOU, APPE, MFMT, SITE CHMOD', async () => {
    const c = await alice();
    expect((await c.store('STOR r1.txt', 'one')).last.code).toBe(226);
    expect((await c.cmd('RNFR r1.txt')).code).toBe(350);
    expect((await c.cmd('NOOP')).code).toBe(200);
    expect((await c.cmd('RNTO r2.txt')).code).toBe(503);
    expect((await c.cmd('RNFR r1.txt')).code).toBe(350);
    expect((await c.cmd('RNTO r2.txt')).code).toBe(250);
    expect((await c.store('APPE r2.txt', '+two')).last.code).toBe(226);
    expect(await readFile(path.join(fx.root, 'home/alice/r2.txt'), 'utf8')).toBe('one+two');
    const u1 = await c.store('STOU r2.txt', 'unique');
    expect(u1.first.text).toBe('FILE: r2.txt.1');
    expect(u1.last.text).toMatch(/stored as \/r2\.txt\.1/);
    expect((await c.cmd('MFMT 20200102030405 r2.txt')).text).toBe('Modify=20200102030405; /r2.txt');
    expect((await c.cmd('MDTM r2.txt')).text).toBe('20200102030405');
    expect((await c.cmd('SITE CHMOD 4755 r2.txt')).code).toBe(200);
    expect((await stat(path.join(fx.root, 'home/alice/r2.txt'))).mode & 0o7777).toBe(0o755);
    expect((await c.cmd('SITE EXEC ls')).code).toBe(504);
    expect((await c.cmd('DELE r2.txt')).code).toBe(250);
    expect((await c.cmd('DELE r2.txt')).code).toBe(550);
    expect((await c.cmd('DELE /')).code).toBe(550);
    expect((await c.cmd('RMD /')).code).toBe(550);
    c.close();
  });

  it('a name with CR/LF in it lists as one entry with ? in their place (NLST, LIST, MLSD)', async () => {
    await writeFile(path.join(fx.root, 'home/alice', 'evil\r\n226 fake'), 'x');
    const c = await alice();
    const nlst = (await c.retrieve('NLST')).data.toString().split('\r\n');
    expect(nlst).toContain('evil??226 fake');
    expect(nlst).not.toContain('226 fake');
    const list = (await c.retrieve('LIST')).data.toString().split('\r\n');
    expect(list.filter((l) => l.includes('226 fake'))).toEqual([expect.stringMatching(/ evil\?\?226 fake$/)]);
    const mlsd = (await c.retrieve('MLSD')).data.toString().split('\r\n');
    expect(mlsd.filter((l) => l.includes('226 fake'))).toEqual([
      expect.stringMatching(/; evil\?\?226 fake$/),
    ]);
    c.close();
    await rm(path.join(fx.root, 'home/alice', 'evil\r\n226 fake'));
  });

  it('a directory renamed into itself: 553 with a plain reason, no real path in the reply', async () => {
    const c = await alice();
    expect((await c.cmd('MKD loop')).code).toBe(257);
    expect((await c.cmd('MKD loop/sub')).code).toBe(257);
    expect((await c.cmd('RNFR loop')).code).toBe(350);
    const r = await c.cmd('RNTO loop/sub/x');
    expect([r.code, r.text]).toEqual([553, 'Cannot move a directory into itself']);
    expect((await c.cmd('RNFR loop')).code).toBe(350);
    expect((await c.cmd('RNTO loop')).code).toBe(250); // onto itself: a no-op, as rename(2) has it
    expect((await stat(path.join(fx.root, 'home/alice/loop/sub'))).isDirectory()).toBe(true);
    c.close();
  });

  it('answers HELP, STAT, ALLO, NOOP and unknown commands', async () => {
    const c = await alice();
    expect((await c.cmd('HELP')).lines.join('\n')).toMatch(/MLSD/);
    expect((await c.cmd('HELP RETR')).text).toBe('Syntax: RETR <file>');
    expect((await c.cmd('STAT')).lines.join('\n')).toMatch(/Logged in as alice \(real\)/);
    expect((await c.cmd('ALLO 100')).code).toBe(202);
    expect((await c.cmd('XPWD')).code).toBe(257);
    // RFC 959 §4.2: 500 for an unknown verb, 502 for a known one this server does not implement
    expect((await c.cmd('XYZZ')).lines).toEqual(['500 Unknown command XYZZ']);
    expect((await c.cmd('REIN')).lines).toEqual(['502 Command REIN not implemented']);
    expect((await c.cmd('OPTS UTF8 ON')).code).toBe(200);
    expect((await c.cmd('RETR')).code).toBe(501);
    c.close();
  });

  it('reports session info and events for the dashboard', async () => {
    const c = await alice();
    const big = randomBytes(3 * 1024 * 1024);
    await writeFile(path.join(fx.root, 'home/alice/big.bin'), big);
    const done = nextSession(
      (e) => e.event === 'transfer' && e.transfer?.state === 'done' && e.transfer.file === '/big.bin',
    );
    const r = await c.retrieve('RETR big.bin');
    expect(r.data.equals(big)).toBe(true);
    const ev = await done;
    expect(ev).toMatchObject({ user: 'alice', class: 'real', ip: '127.0.0.1' });
    expect(ev.transfer).toMatchObject({ direction: 'download', bytes: big.length, total: big.length });
    const live = fx.server.sessions().find((s) => s.id === ev.id);
    expect(live).toMatchObject({ user: 'alice', class: 'real', cwd: '/' });
    const closed = nextSession((e) => e.event === 'close' && e.id === ev.id);
    c.send('QUIT');
    await closed;
    expect(fx.server.sessions().find((s) => s.id === ev.id)).toBeUndefined();
  });
});

describe('data connections', () => {
  it('answers 425 when no data connection was prepared, or it never arrives', async () => {
    const c = await alice();
    await writeFile(path.join(fx.root, 'home/alice/wait.txt'), 'x');
    expect((await c.cmd('RETR wait.txt')).code).toBe(425);
    expect((await c.cmd('EPSV')).code).toBe(229);
    const started = Date.now();
    const r = await c.cmd('RETR wait.txt');
    expect(r.code).toBe(425);
    expect(r.text).toMatch(/no data connection arrived within 300 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    // an unused listener closes by itself
    const timedOut = new Promise<void>((resolve) => {
      const on = (e: TraceEvent) => {
        if (/no data connection within 300 ms/.test(e.text)) {
          fx.server.off('trace', on);
          resolve();
        }
      };
      fx.server.on('trace', on);
    });
    const p = await c.cmd('PASV');
    const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(p.text)!;
    await timedOut;
    await expect(connect(Number(m[5]) * 256 + Number(m[6]))).rejects.toThrow(/ECONNREFUSED/);
    expect((await c.cmd('RETR wait.txt')).code).toBe(425);
    c.close();
  });

  it('refuses PORT/EPRT bounces to other hosts and privileged ports, allows the client itself', async () => {
    const c = await alice();
    expect((await c.cmd('PORT 10,0,0,1,195,80')).code).toBe(504);
    expect((await c.cmd('PORT 127,0,0,2,195,80')).code).toBe(504);
    expect((await c.cmd('PORT 127,0,0,1,0,25')).code).toBe(504);
    expect((await c.cmd('EPRT |1|192.168.1.1|40000|')).code).toBe(504);
    expect((await c.cmd('EPRT |1|127.0.0.1|22|')).code).toBe(504);
    expect((await c.cmd('EPRT |3|127.0.0.1|40000|')).code).toBe(522);
    expect((await c.cmd('PORT garbage')).code).toBe(501);
    // active mode to our own listener works
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
    const lport = (listener.address() as net.AddressInfo).port;
    const got = new Promise<Buffer>((resolve) => {
      listener.once('connection', (s) => {
        const chunks: Buffer[] = [];
        s.on('data', (d) => chunks.push(d));
        s.on('end', () => resolve(Buffer.concat(chunks)));
      });
    });
    await writeFile(path.join(fx.root, 'home/alice/active.txt'), 'active mode');
    expect((await c.cmd(`PORT 127,0,0,1,${lport >> 8},${lport & 255}`)).code).toBe(200);
    expect((await c.cmd('RETR active.txt')).code).toBe(150);
    expect((await got).toString()).toBe('active mode');
    expect((await c.reply()).code).toBe(226);
    listener.close();
    expect((await c.cmd('EPSV ALL')).code).toBe(200);
    expect((await c.cmd('PASV')).code).toBe(503);
    expect((await c.cmd(`PORT 127,0,0,1,${lport >> 8},${lport & 255}`)).code).toBe(503);
    c.close();
  });

  it('ABOR stops a running transfer: 426 then 226', async () => {
    const c = await alice();
    await writeFile(path.join(fx.root, 'home/alice/huge.bin'), Buffer.alloc(64 * 1024 * 1024));
    const sock = await c.epsv();
    sock.pause(); // never read: the transfer stalls on backpressure
    expect((await c.cmd('RETR huge.bin')).code).toBe(150);
    expect((await c.cmd('STAT')).text).toMatch(/Transfer in progress: download \/huge\.bin/);
    c.send('ABOR');
    expect((await c.reply()).code).toBe(426);
    expect((await c.reply()).code).toBe(226);
    sock.destroy();
    expect((await c.cmd('NOOP')).code).toBe(200);
    expect((await c.cmd('ABOR')).code).toBe(225);
    c.close();
  });

  it('STOR replaces a longer file entirely, and stores a new empty file', async () => {
    const c = await alice();
    await writeFile(path.join(fx.root, 'home/alice/replaced.txt'), 'a much longer previous content');
    expect((await c.store('STOR replaced.txt', 'short')).last.code).toBe(226);
    expect(await readFile(path.join(fx.root, 'home/alice/replaced.txt'), 'utf8')).toBe('short');
    expect((await c.store('STOR empty.txt', '')).last.code).toBe(226);
    expect(await readFile(path.join(fx.root, 'home/alice/empty.txt'), 'utf8')).toBe('');
    c.close();
  });

  it('a broken data connection yields 426, and the partial upload resumes with REST+STOR', async () => {
    const c = await alice();
    const payload = randomBytes(4 * 1024 * 1024);
    const sock = await c.epsv();
    expect((await c.cmd('STOR partial.bin')).code).toBe(150);
    await new Promise<void>((r) => sock.write(payload.subarray(0, 1024 * 1024), () => r()));
    const progressed = nextSession(
      (e) => e.transfer?.file === '/partial.bin' && (e.transfer?.bytes ?? 0) > 0,
    );
    await progressed;
    sock.resetAndDestroy();
    const broken = await c.reply();
    expect(broken.code).toBe(426);
    const size = Number((await c.cmd('SIZE partial.bin')).text);
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(1024 * 1024);
    expect((await c.cmd(`REST ${size}`)).code).toBe(350);
    expect((await c.store('STOR partial.bin', payload.subarray(size))).last.code).toBe(226);
    expect((await readFile(path.join(fx.root, 'home/alice/partial.bin'))).equals(payload)).toBe(true);
    c.close();
  });

  it('a client that vanishes mid-upload is cleaned up; APPE resumes the partial file', async () => {
    const payload = randomBytes(2 * 1024 * 1024);
    const c = await alice();
    const sock = await c.epsv();
    expect((await c.cmd('STOR vanish.bin')).code).toBe(150);
    await new Promise<void>((r) => sock.write(payload.subarray(0, 512 * 1024), () => r()));
    const id = fx.server.sessions().find((s) => s.transfer?.file === '/vanish.bin')!.id;
    const gone = nextSession((e) => e.event === 'close' && e.id === id);
    const finished = nextSession(
      (e) => e.event === 'transfer' && e.id === id && e.transfer?.state !== 'running',
    );
    c.lc.socket.resetAndDestroy();
    sock.resetAndDestroy();
    await gone;
    await finished;
    expect(fx.server.sessions().some((s) => s.id === id)).toBe(false);
    const again = await alice();
    const size = Number((await again.cmd('SIZE vanish.bin')).text);
    expect(size).toBeLessThanOrEqual(512 * 1024);
    expect((await again.store('APPE vanish.bin', payload.subarray(size))).last.code).toBe(226);
    expect((await readFile(path.join(fx.root, 'home/alice/vanish.bin'))).equals(payload)).toBe(true);
    again.close();
  });

  it('a guest (no overwrite, so no resume) who vanishes mid-upload leaves no partial file holding the name', async () => {
    const payload = randomBytes(2 * 1024 * 1024);
    const guest = async () => {
      const g = await RawFtp.connect(fx.port);
      await g.login('gus', PASSWORDS.gus);
      await g.cmd('TYPE I');
      return g;
    };
    const g = await guest();
    const sock = await g.epsv();
    expect((await g.cmd('STOR gvanish.bin')).code).toBe(150);
    await new Promise<void>((r) => sock.write(payload.subarray(0, 512 * 1024), () => r()));
    const id = fx.server.sessions().find((s) => s.transfer?.file === '/gvanish.bin')!.id;
    const finished = nextSession(
      (e) => e.event === 'transfer' && e.id === id && e.transfer?.state !== 'running',
    );
    g.lc.socket.resetAndDestroy();
    sock.resetAndDestroy();
    await finished;
    const again = await guest();
    expect((await again.cmd('SIZE gvanish.bin')).code).toBe(550);
    expect((await again.store('STOR gvanish.bin', payload)).last.code).toBe(226);
    expect((await readFile(path.join(fx.root, 'guest/gvanish.bin'))).equals(payload)).toBe(true);
    again.close();
  });
});

describe('path jail over the wire', () => {
  const forms = [
    '../../canary.txt',
    '../../../canary.txt',
    '/../canary.txt',
    '/../../../../../../etc/passwd',
    '..\\..\\canary.txt',
    'canary-link',
    'base-link/canary.txt',
    'up-link/canary.txt',
    'up-link',
    'x\u0000/../../canary.txt',
    'C:/canary.txt',
  ];

  it.each(forms)('refuses %j with 550 for every command', async (form) => {
    const c = await alice();
    for (const cmd of [
      'RETR',
      'SIZE',
      'MDTM',
      'DELE',
      'RNFR',
      'MKD',
      'RMD',
      'CWD',
      'MLST',
      'SITE CHMOD 777',
    ]) {
      const r = await c.cmd(`${cmd} ${form}`);
      expect(r.code, `${cmd} ${form}: ${r.text}`).toBe(550);
    }
    const store = await c.store(`STOR ${form}`, 'overwrite!');
    expect(store.first.code, `STOR ${form}`).toBe(550);
    const list = await c.retrieve(`LIST ${form}`);
    expect(list.first.code, `LIST ${form}`).toBe(550);
    c.close();
  });

  it('read and touched nothing outside the root', async () => {
    expect(await readFile(fx.canary, 'utf8')).toBe(CANARY);
    const outside = (await fx.snapshotOutside()).map((p) => path.relative(fx.base, p));
    expect(outside.filter((p) => !p.startsWith('data'))).toEqual(['canary.txt']);
    const reads = traces.filter((t) => t.kind === 'out' && t.text.includes('canary:'));
    expect(reads).toEqual([]);
  });

  it('hides links that lead outside from listings', async () => {
    const c = await alice();
    const names = (await c.retrieve('NLST')).data.toString().split('\r\n');
    expect(names).not.toContain('canary-link');
    expect(names).not.toContain('base-link');
    c.close();
  });
});

describe('bad input and limits', () => {
  it('answers garbage with 500 and closes after 10 unknown commands in a row', async () => {
    const c = await RawFtp.connect(fx.port);
    expect((await c.cmd('!!!')).code).toBe(500);
    expect((await c.cmd('\u0001\u0002\u0003')).code).toBe(500);
    expect((await c.cmd('FOOBAR')).code).toBe(500);
    expect((await c.cmd('XYZZ')).code).toBe(500);
    // a recognised command ends the run: ten more unknown ones are needed now
    expect((await c.cmd('SYST')).code).toBe(215);
    for (let i = 0; i < 9; i++) expect((await c.cmd('QQQQ')).code).toBe(500);
    expect((await c.cmd('QQQQ')).code).toBe(500);
    const last = await c.reply();
    expect(last.code).toBe(421);
    expect(last.text).toMatch(/Too many unrecognized commands/);
    await c.lc.closed;
  });

  it('closes an HTTP request at once', async () => {
    const c = await RawFtp.connect(fx.port);
    expect((await c.cmd('GET / HTTP/1.1')).code).toBe(421);
    await c.lc.closed;
  });

  it('bounds input before login: line length and number of commands', async () => {
    const long = await RawFtp.connect(fx.port);
    expect((await long.cmd(`USER ${'a'.repeat(600)}`)).code).toBe(421);
    await long.lc.closed;
    const huge = await RawFtp.connect(fx.port);
    huge.send(`NOOP ${'b'.repeat(20_000)}`);
    expect((await huge.reply()).code).toBe(500);
    expect((await huge.reply()).code).toBe(421);
    await huge.lc.closed;
    const chatty = await RawFtp.connect(fx.port);
    for (let i = 0; i < 16; i++) expect((await chatty.cmd('NOOP')).code).toBe(200);
    expect((await chatty.cmd('NOOP')).code).toBe(421);
    await chatty.lc.closed;
  });

  it('accepts long lines after login up to the limit', async () => {
    const c = await alice();
    expect((await c.cmd(`SIZE ${'n'.repeat(3000)}`)).code).toBe(553);
    expect((await c.cmd(`SIZE ${'n'.repeat(9000)}`)).code).toBe(500);
    expect((await c.cmd('NOOP')).code).toBe(200);
    c.close();
  });

  it('500 concurrent connections: each gets a greeting or a clean 421; the server stays responsive', async () => {
    const limited = await startFixture({ maxClients: 300, maxClientsPerIp: 300 }, { base: fx.base });
    try {
      const sockets: net.Socket[] = [];
      const results = await Promise.all(
        Array.from(
          { length: 500 },
          () =>
            new Promise<string>((resolve) => {
              const s = net.connect({ port: limited.port, host: '127.0.0.1' });
              sockets.push(s);
              let buf = '';
              s.on('data', (d) => {
                buf += d.toString();
                if (buf.includes('\r\n')) resolve(buf.slice(0, 3));
              });
              s.on('error', () => resolve('error'));
              s.on('close', () => resolve(buf.slice(0, 3) || 'closed'));
            }),
        ),
      );
      const counts = results.reduce<Record<string, number>>((acc, r) => {
        acc[r] = (acc[r] ?? 0) + 1;
        return acc;
      }, {});
      expect(counts).toEqual({ '220': 300, '421': 200 });
      expect(limited.server.connections).toBe(300);
      // still responsive: a greeted client is served, a newcomer gets a clean 421
      const greeted = sockets[results.indexOf('220')]!;
      const answer = new Promise<string>((resolve) => greeted.once('data', (d) => resolve(d.toString())));
      greeted.write('USER anonymous\r\n');
      expect(await answer).toMatch(/^331 /);
      const late = await RawFtp.connect(limited.port);
      expect(late.greeting.code).toBe(421);
      for (const s of sockets) s.destroy();
    } finally {
      await limited.server.close(200);
    }
  });

  it('limits connections per IP with a clean 421', async () => {
    const perIp = await startFixture({ maxClientsPerIp: 2 }, { base: fx.base });
    try {
      const a = await RawFtp.connect(perIp.port);
      const b = await RawFtp.connect(perIp.port);
      const c = await RawFtp.connect(perIp.port);
      expect([a.greeting.code, b.greeting.code, c.greeting.code]).toEqual([220, 220, 421]);
      expect(c.greeting.text).toMatch(/from your address/);
      await c.lc.closed;
      a.close();
      b.close();
    } finally {
      await perIp.server.close(200);
    }
  });

  it('closes a client that hangs up after AUTH TLS instead of the handshake, and frees its slot', async () => {
    const perIp = await startFixture({ maxClientsPerIp: 1 }, { base: fx.base });
    try {
      const a = await RawFtp.connect(perIp.port);
      expect((await a.cmd('AUTH TLS')).code).toBe(234);
      const closed = new Promise<void>((resolve) =>
        perIp.server.on('session', (e: FtpSessionEvent) => {
          if (e.event === 'close') resolve();
        }),
      );
      a.lc.socket.end();
      // before the fix the socket stayed in CLOSE-WAIT and held the per-IP slot until the idle timeout
      await closed;
      await a.lc.closed;
      const b = await RawFtp.connect(perIp.port);
      expect(b.greeting.code).toBe(220);
      b.close();
    } finally {
      await perIp.server.close(200);
    }
  });

  it('locks out an IP after repeated failed logins', async () => {
    const locked = await startFixture({ maxLoginFailures: 3, lockoutMs: 60_000 }, { base: fx.base });
    try {
      const c = await RawFtp.connect(locked.port);
      for (let i = 0; i < 2; i++) {
        await c.cmd('USER alice');
        expect((await c.cmd('PASS wrong')).code).toBe(530);
      }
      await c.cmd('USER alice');
      const r = await c.cmd('PASS wrong');
      expect(r.code).toBe(421);
      expect(r.text).toMatch(/locked out/);
      await c.lc.closed;
      const again = await RawFtp.connect(locked.port);
      expect(again.greeting.code).toBe(421);
    } finally {
      await locked.server.close(200);
    }
  });

  it('a corrupt or unreadable accounts file is a 421 naming nothing, a warning naming file and line, no lockout', async () => {
    const data = path.join(fx.base, 'broken-data');
    await mkdir(data, { recursive: true });
    const file = path.join(data, 'accounts.json');
    await writeFile(file, '{\n  "version": 1,\n  "accounts": {\n    "alice": {"name": "alice",}\n  }\n}\n');
    // one failure would lock the IP out: a server-side error must not count as one
    const broken = await startFixture(
      { accounts: new AccountStore(data), maxLoginFailures: 1, lockoutMs: 60_000 },
      { base: fx.base },
    );
    const errors: string[] = [];
    broken.server.on('trace', (e: TraceEvent) => {
      if (e.kind === 'error') errors.push(e.text);
    });
    try {
      for (const [make, reason] of [
        [async () => {}, `${file}:4: not valid JSON`],
        [
          async () => {
            await rm(file);
            await mkdir(file); // EISDIR: the file exists but cannot be read
          },
          `cannot read ${file}: is a directory`,
        ],
      ] as const) {
        await make();
        const c = await RawFtp.connect(broken.port);
        expect((await c.cmd('USER alice')).code).toBe(331);
        const warned = once(broken.server, 'warning') as Promise<[FtpWarning]>;
        const r = await c.cmd(`PASS ${PASSWORDS.alice}`);
        expect(r.code).toBe(421);
        expect(r.text).toMatch(/try again later/);
        expect(r.text).not.toContain('accounts.json');
        await c.lc.closed;
        const [w] = await warned;
        expect(w.text).toContain(reason);
        expect(errors.at(-1)).toBe(w.text);
      }
      // other sessions go on: anonymous needs no accounts file, and the IP is not locked out
      const a = await RawFtp.connect(broken.port);
      expect(a.greeting.code).toBe(220);
      expect((await a.login('anonymous', 'me@example.com')).code).toBe(230);
      a.close();
      // once the file is repaired, the same server logs alice in
      await rm(file, { recursive: true });
      await copyFile(path.join(fx.data, 'accounts.json'), file);
      const c = await RawFtp.connect(broken.port);
      expect((await c.login('alice', PASSWORDS.alice)).code).toBe(230);
      c.close();
    } finally {
      await broken.server.close(200);
    }
  });

  it('closes idle connections with 421, refuses anonymous when disabled', async () => {
    const strict = await startFixture(
      { anonymous: false, limits: { idleTimeoutMs: 200 } },
      { base: fx.base },
    );
    try {
      const c = await RawFtp.connect(strict.port);
      expect((await c.cmd('USER anonymous')).code).toBe(530);
      const idle = await c.reply(3000);
      expect(idle.code).toBe(421);
      expect(idle.text).toMatch(/Idle timeout/);
    } finally {
      await strict.server.close(200);
    }
  });

  it('requireTls refuses clear-text logins (530) and PROT C (534)', async () => {
    const secure = await startFixture({ requireTls: true }, { base: fx.base });
    try {
      const c = await RawFtp.connect(secure.port);
      expect((await c.cmd('FEAT')).lines).toContain(' AUTH TLS');
      const r = await c.cmd('USER alice');
      expect(r.code).toBe(530);
      expect(r.text).toMatch(/TLS required/);
      expect((await c.cmd('PBSZ 0')).code).toBe(503);
      c.close();
    } finally {
      await secure.server.close(200);
    }
  });

  it('close() says goodbye to connected sessions', async () => {
    const closing = await startFixture({}, { base: fx.base });
    const c = await RawFtp.connect(closing.port);
    await closing.server.close(1000);
    const bye = await c.reply();
    expect(bye.code).toBe(421);
    expect(bye.text).toMatch(/shutting down/);
    await expect(connect(closing.port)).rejects.toThrow();
  });
});

describe('hidden paths: the rule http serve follows too', () => {
  const MISSING = '550 No such file or directory';
  const reply = (r: { code: number; text: string }) => `${r.code} ${r.text}`;

  let base: string;
  beforeAll(async () => {
    const t = await tempDir('netkit-ftp-hidden-');
    base = t.dir;
    return t.cleanup;
  });

  /** A server whose `--root` is `root`, with its data directory at `data` (accounts copied in). */
  async function serveAt(root: string, data: string): Promise<Fixture> {
    await mkdir(data, { recursive: true });
    await copyFile(path.join(fx.data, 'accounts.json'), path.join(data, 'accounts.json'));
    return startFixture({ root, dataDir: data }, { base });
  }

  it('a root strictly inside DATA/tls/ serves nothing: 550 as for a missing file, nothing changed', async () => {
    const data = path.join(base, 'data');
    const root = path.join(data, 'tls', 'ftp');
    await mkdir(path.join(root, 'pub'), { recursive: true });
    await mkdir(path.join(root, 'home/alice'), { recursive: true });
    await writeFile(path.join(root, 'pub/readme.txt'), 'readme');
    await writeFile(path.join(root, 'home/alice/mine.txt'), 'mine');
    const inTls = await serveAt(root, data);
    try {
      // the server made its development key beside the root as it started
      const key = await readFile(path.join(data, 'tls', 'dev-key.pem'));
      const a = await RawFtp.connect(inTls.port);
      await a.login('anonymous', 'me@example.com');
      await a.cmd('TYPE I');
      for (const cmd of ['CWD /pub', 'SIZE /pub/readme.txt', 'MDTM /pub/readme.txt', 'MLST /pub'])
        expect([cmd, reply(await a.cmd(cmd))]).toEqual([cmd, MISSING]);
      for (const cmd of ['RETR /pub/readme.txt', 'LIST /pub', 'NLST /pub'])
        expect([cmd, reply((await a.retrieve(cmd)).first)]).toEqual([cmd, MISSING]);
      a.close();
      const c = await RawFtp.connect(inTls.port);
      await c.login('alice', PASSWORDS.alice);
      await c.cmd('TYPE I');
      for (const cmd of [
        'SIZE mine.txt',
        'DELE mine.txt',
        'RNFR mine.txt',
        'MKD new',
        'RMD /',
        'SITE CHMOD 777 mine.txt',
      ])
        expect([cmd, reply(await c.cmd(cmd))]).toEqual([cmd, MISSING]);
      for (const cmd of ['RETR mine.txt', 'LIST', 'MLSD'])
        expect([cmd, reply((await c.retrieve(cmd)).first)]).toEqual([cmd, MISSING]);
      expect(reply((await c.store('STOR new.txt', 'x')).first)).toBe(MISSING);
      c.close();
      expect(await readFile(path.join(root, 'home/alice/mine.txt'), 'utf8')).toBe('mine');
      await expect(stat(path.join(root, 'home/alice/new.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await readFile(path.join(data, 'tls', 'dev-key.pem'))).toEqual(key);
    } finally {
      await inTls.server.close(200);
    }
  });

  it('an area linked into the data directory from a root outside it serves nothing of it', async () => {
    const data = path.join(base, 'linked-data');
    const root = path.join(base, 'linked-ftp');
    await mkdir(path.join(data, 'mail/bob/new'), { recursive: true });
    await writeFile(path.join(data, 'mail/bob/new/1.eml'), 'Subject: private');
    await mkdir(root, { recursive: true });
    await symlink(path.join(data, 'mail'), path.join(root, 'pub'));
    const linked = await serveAt(root, data);
    try {
      const a = await RawFtp.connect(linked.port);
      await a.login('anonymous', 'me@example.com');
      await a.cmd('TYPE I');
      expect(reply(await a.cmd('CWD /pub'))).toBe(MISSING);
      expect(reply(await a.cmd('SIZE /pub/bob/new/1.eml'))).toBe(MISSING);
      expect(reply((await a.retrieve('RETR /pub/bob/new/1.eml')).first)).toBe(MISSING);
      a.close();
    } finally {
      await linked.server.close(200);
    }
  });
});
