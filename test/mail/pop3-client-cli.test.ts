/**
 * `netkit pop3 list|retr|dele|fetch` against Dovecot (independent POP3 server) with STLS offered:
 * the CLI upgrades by default and trusts the lab certificate found in --data DIR.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { composeMail } from '../../src/mail/compose.js';
import { Maildir } from '../../src/mail/maildir.js';
import { FETCH_STATE_FILE } from '../../src/mail/pop3-client-fetch.js';
import { type DovecotHandle, startDovecot } from '../helpers/dovecot.js';
import { CLI, netkit, run, tempDir } from '../helpers/net.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let dovecot: DovecotHandle;
let maildir: Maildir;
let dataDir: string;
const originals: Buffer[] = [];

async function deliver(i: number): Promise<Buffer> {
  const m = await composeMail({
    from: `Sender ${i} <s${i}@lab>`,
    to: 'bob@lab',
    subject: `Nachricht ${i} — Grüße`,
    text: `body ${i}\n.dot line\n`,
    attachments: i % 2 ? [{ filename: `file-${i}.bin`, content: Buffer.alloc(1000 + i, i) }] : [],
    date: new Date(Date.UTC(2026, 0, i + 1)),
  });
  await maildir.deliver(m.message);
  await dovecot?.sync();
  return m.message;
}

const cli = (args: string[], extra: string[] = []) =>
  netkit(
    ['pop3', ...args, '--server', `127.0.0.1:${dovecot.port}`, '--user', 'bob', '--data', dataDir, ...extra],
    {
      env: { NETKIT_PASSWORD: 'pw-secret' },
    },
  );

beforeAll(async () => {
  tmp = await tempDir();
  dataDir = path.join(tmp.dir, 'netkit-data');
  await mkdir(path.join(dataDir, 'tls'), { recursive: true });
  const pem = await generateDevCertificate();
  await writeFile(path.join(dataDir, 'tls', 'dev-cert.pem'), pem.cert);
  await writeFile(path.join(dataDir, 'tls', 'dev-key.pem'), pem.key, { mode: 0o600 });
  maildir = new Maildir(path.join(tmp.dir, 'server-Maildir'));
  for (let i = 1; i <= 3; i++) originals.push(await deliver(i));
  dovecot = await startDovecot({ maildir: maildir.dir, password: 'pw-secret', tls: pem });
});

afterAll(async () => {
  await dovecot?.stop();
  await tmp?.cleanup();
});

describe('netkit pop3 (client) against Dovecot', () => {
  it('list: table and JSON with headers, over STLS by default; the trace shows STLS and hides PASS', async () => {
    const r = await cli(['list', '--trace']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^#\s+SIZE\s+UID$/);
    expect(r.stdout.trim().split('\n')).toHaveLength(4);
    expect(r.stderr).toMatch(/C: STLS/);
    expect(r.stderr).toMatch(/C: PASS \*\*\*\*/);
    expect(r.stderr).not.toContain('pw-secret');
    const j = await cli(['list', '--headers', '--json']);
    const rec = JSON.parse(j.stdout);
    expect(rec.count).toBe(3);
    expect(rec.messages[0]).toMatchObject({
      n: 1,
      size: originals[0]!.length,
      subject: 'Nachricht 1 — Grüße',
    });
    expect(rec.messages[0].from).toBe('Sender 1 <s1@lab>');
    expect(rec.messages[0].uid).toMatch(/^\d+\./);
  });

  it('retr: raw bytes, --out, --json', async () => {
    const r = await cli(['retr', '2']);
    expect(r.code).toBe(0);
    expect(r.stdoutBuf.equals(originals[1]!)).toBe(true);
    const file = path.join(tmp.dir, 'two.eml');
    await cli(['retr', '2', '--out', file]);
    expect((await readFile(file)).equals(originals[1]!)).toBe(true);
    const j = JSON.parse((await cli(['retr', '3', '--json'])).stdout);
    expect(j.subject).toBe('Nachricht 3 — Grüße');
    expect(j.attachments).toEqual([
      { filename: 'file-3.bin', mimeType: 'application/octet-stream', disposition: 'attachment', size: 1003 },
    ]);
  });

  it('fetch into .eml files, then into a Maildir with --new-only', async () => {
    const out = path.join(tmp.dir, 'eml');
    const r = await cli(['fetch', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^#\s+FROM\s+SUBJECT\s+DATE\s+SIZE\s+ATTACHMENTS$/m);
    expect(r.stdout).toMatch(/Sender 1 <s1@lab>\s+Nachricht 1 — Grüße\s+2026-01-02 00:00:00Z/);
    expect(r.stdout).toMatch(/1: file-1\.bin/);
    expect(r.stdout).toMatch(/fetched 3 of 3 message\(s\)/);
    const files = (await readdir(out)).filter((f) => f.endsWith('.eml')).sort();
    expect(files).toHaveLength(3);
    const contents = await Promise.all(files.map((f) => readFile(path.join(out, f))));
    for (const o of originals) expect(contents.some((c) => c.equals(o))).toBe(true);

    const md = path.join(tmp.dir, 'local-Maildir');
    const first = JSON.parse((await cli(['fetch', '--out', md, '--maildir', '--new-only', '--json'])).stdout);
    expect(first.messages).toHaveLength(3);
    expect(first.messages.every((m: { verified: boolean }) => m.verified)).toBe(true);
    const again = JSON.parse((await cli(['fetch', '--out', md, '--maildir', '--new-only', '--json'])).stdout);
    expect(again).toMatchObject({ total: 3, skipped: 3, messages: [] });
    originals.push(await deliver(4));
    const fourth = JSON.parse(
      (await cli(['fetch', '--out', md, '--maildir', '--new-only', '--json'])).stdout,
    );
    expect(fourth.messages.map((m: { subject: string }) => m.subject)).toEqual(['Nachricht 4 — Grüße']);
    const local = await new Maildir(md).list();
    expect(local).toHaveLength(4);
    const state = JSON.parse(await readFile(path.join(md, FETCH_STATE_FILE), 'utf8'));
    expect(state.accounts[`bob@127.0.0.1:${dovecot.port}`].uids).toHaveLength(4);
  });

  it('dele N removes a message at QUIT', async () => {
    const before = JSON.parse((await cli(['list', '--json'])).stdout).count;
    const r = await cli(['dele', String(before)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`deleted #${before}\n`);
    expect(JSON.parse((await cli(['list', '--json'])).stdout).count).toBe(before - 1);
  });

  it('dele with a number Dovecot refuses: its -ERR on one line, and that nothing was deleted (no QUIT)', async () => {
    const before = JSON.parse((await cli(['list', '--json'])).stdout).count;
    const r = await cli(['dele', '1', '99']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("netkit: DELE 99: -ERR There's no message 99.; nothing was deleted\n");
    expect(JSON.parse((await cli(['list', '--json'])).stdout).count).toBe(before);
  });

  it('fetch --delete empties the mailbox only after verified saves', async () => {
    const out = path.join(tmp.dir, 'drain');
    const r = await cli(['fetch', '--out', out, '--delete']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fetched 3 of 3 message\(s\) into .*, 3 deleted on the server/);
    expect(JSON.parse((await cli(['list', '--json'])).stdout).count).toBe(0);
    expect((await readdir(out)).filter((f) => f.endsWith('.eml'))).toHaveLength(3);
    expect((await cli(['list'])).stdout).toBe('no messages\n');
  });

  it('errors: no --user, untrusted certificate, wrong password; --no-stls and --tls work', async () => {
    const noUser = await netkit(['pop3', 'list', '--server', `127.0.0.1:${dovecot.port}`]);
    expect(noUser.code).toBe(2);
    const otherData = ['--data', path.join(tmp.dir, 'no-such-data')];
    const untrusted = await netkit(
      ['pop3', 'list', '--server', `127.0.0.1:${dovecot.port}`, '--user', 'bob', ...otherData],
      {
        env: { NETKIT_PASSWORD: 'pw-secret' },
      },
    );
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(
      /^netkit: TLS certificate of 127\.0\.0\.1:\d+ not trusted \(.+\); trust it with --ca FILE, or skip verification with --insecure\n$/,
    );
    const plain = await netkit(
      [
        'pop3',
        'list',
        '--server',
        `127.0.0.1:${dovecot.port}`,
        '--user',
        'bob',
        '--no-stls',
        '--trace',
        ...otherData,
      ],
      {
        env: { NETKIT_PASSWORD: 'pw-secret' },
      },
    );
    expect(plain.code).toBe(0);
    expect(plain.stderr).not.toMatch(/C: STLS/);
    const tls = await netkit(
      [
        'pop3',
        'list',
        '--server',
        `127.0.0.1:${dovecot.tlsPort}`,
        '--tls',
        '--user',
        'bob',
        '--insecure',
        ...otherData,
      ],
      {
        env: { NETKIT_PASSWORD: 'pw-secret' },
      },
    );
    expect(tls.code).toBe(0);
    // implicit TLS asked of Dovecot's plain port: said in words, not as OpenSSL's error string
    const notTls = await netkit(
      ['pop3', 'list', '--server', `127.0.0.1:${dovecot.port}`, '--tls', '--user', 'bob', '--insecure'],
      { env: { NETKIT_PASSWORD: 'pw-secret' } },
    );
    expect(notTls.code).toBe(1);
    expect(notTls.stderr).toBe(
      `netkit: TLS with 127.0.0.1:${dovecot.port} failed: the server does not speak TLS there (wrong version number); a plain port?\n`,
    );
    // last: Dovecot delays later logins from this address after a failure (auth penalty)
    const wrong = await netkit([
      'pop3',
      'list',
      '--server',
      `127.0.0.1:${dovecot.port}`,
      '--user',
      'bob',
      '--password',
      'nope',
      '--data',
      dataDir,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^netkit: PASS \*\*\*\*: -ERR \[AUTH\]/);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('netkit pop3 fetch and the octet counts of Dovecot', () => {
  let quirks: DovecotHandle;
  let box: Maildir;
  const fetch = (out: string) =>
    netkit(
      ['pop3', 'fetch', '--out', out, '--delete', '--server', `127.0.0.1:${quirks.port}`, '--user', 'bob'],
      { env: { NETKIT_PASSWORD: 'pw-secret' } },
    );

  beforeAll(async () => {
    box = new Maildir(path.join(tmp.dir, 'quirks-Maildir'));
    await box.deliver(Buffer.from('Subject: no trailing\r\n\r\nlast line no eol'));
    quirks = await startDovecot({ maildir: box.dir, password: 'pw-secret' });
  });
  afterAll(async () => {
    await quirks?.stop();
  });

  it('accepts the CRLF Dovecot adds, uncounted, to a message without a final line end', async () => {
    const out = path.join(tmp.dir, 'quirk-noeol');
    const r = await fetch(out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fetched 1 of 1 message\(s\) into .*, 1 deleted on the server/);
    const [file] = (await readdir(out)).filter((f) => f.endsWith('.eml'));
    expect(await readFile(path.join(out, file!), 'latin1')).toBe(
      'Subject: no trailing\r\n\r\nlast line no eol\r\n',
    );
    expect(await box.list()).toEqual([]);
  });

  it('still refuses a real mismatch: a leading dot Dovecot does not stuff (kept on the server, exit 1)', async () => {
    await box.deliver(Buffer.from('.Subject: dot first\r\n\r\nbody\r\n'));
    await quirks.sync();
    const r = await fetch(path.join(tmp.dir, 'quirk-dot'));
    expect(r.code).toBe(1);
    // 29 octets on disk and in LIST, 28 after the client removes the dot it takes for stuffing
    expect(r.stderr).toMatch(/kept on the server: size mismatch: server listed 29 octets, received 28\n/);
    expect(r.stdout).toMatch(/, 0 deleted on the server/);
    const left = await box.list();
    expect(left).toHaveLength(1);
    expect((await box.read(left[0]!.id)).toString()).toMatch(/^\.Subject: dot first/);
  });
});

describe('netkit pop3 retr to a terminal', () => {
  it("shows the sender's control characters escaped on a TTY, the exact bytes through a pipe", async () => {
    const box = new Maildir(path.join(tmp.dir, 'tty-Maildir'));
    const hostile = Buffer.from('Subject: hi \x1b]0;PWNED\x07\x1b[2J\r\n\r\nbody \x1b[31mred\r\n', 'latin1');
    await box.deliver(hostile);
    const server = await startDovecot({ maildir: box.dir, password: 'pw-secret' });
    try {
      const args = [
        'pop3',
        'retr',
        '1',
        '--server',
        `127.0.0.1:${server.port}`,
        '--user',
        'bob',
        '--no-stls',
      ];
      const piped = await netkit(args, { env: { NETKIT_PASSWORD: 'pw-secret' } });
      expect(piped.stdoutBuf.equals(hostile)).toBe(true);
      // script(1) gives the command a pseudo-terminal as its stdout
      const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
      const tty = await run('script', ['-qec', command, '/dev/null'], {
        env: { NETKIT_PASSWORD: 'pw-secret' },
      });
      expect(tty.code, tty.stderr).toBe(0);
      expect(tty.stdout).not.toContain('\x1b');
      expect(tty.stdout).toContain('Subject: hi \\x1b]0;PWNED\\x07\\x1b[2J');
      expect(tty.stdout).toContain('body \\x1b[31mred');
    } finally {
      await server.stop();
    }
  });
});
