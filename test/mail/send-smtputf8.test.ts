/**
 * Non-ASCII local parts (`bøb@lab`) and SMTPUTF8 (RFC 6531), against real servers: aiosmtpd with and
 * without `enable_SMTPUTF8` (aiosmtpd-smtputf8.py records every command it dispatches and every
 * message it stores), and Postfix's smtp-sink, which does not offer SMTPUTF8 but accepts 8-bit
 * commands anyway — the server where an unchecked send would go through.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMail } from '../../src/mail/send.js';
import { netkit, tempDir } from '../helpers/net.js';
import { type SmtpSinkHandle, startSmtpSink } from '../helpers/smtp-sink.js';
import { DEBIAN_PYTHON } from './aiosmtpd-peer.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'aiosmtpd-smtputf8.py');

interface Stored {
  mail_from: string;
  mail_options: string[];
  rcpt_tos: string[];
  smtp_utf8: boolean;
  content: string;
}
type PeerRecord = { command?: string; arg?: string | null; strict_ascii?: boolean; message?: Stored };

interface Peer {
  port: number;
  /** everything the server printed since the last `clear()` */
  records: PeerRecord[];
  /** resolves with the first record (already seen or still to come) that matches */
  waitFor(match: (r: PeerRecord) => boolean, what: string): Promise<PeerRecord>;
  clear(): void;
  stop(): Promise<void>;
}

async function startPeer(smtputf8: boolean): Promise<Peer> {
  const child: ChildProcess = spawn(DEBIAN_PYTHON, [SCRIPT, smtputf8 ? 'on' : 'off'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d.toString();
  });
  const records: PeerRecord[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`aiosmtpd exited ${code}: ${stderr}`)));
    child.stdout!.on('data', (d) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
        const rec = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (typeof rec.port === 'number') resolve(rec.port);
        else records.push(rec);
      }
      for (const w of waiters.splice(0)) w();
    });
  });
  const peer: Peer = {
    port,
    records,
    waitFor(match, what) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`aiosmtpd: no ${what}; saw ${JSON.stringify(records)}`)),
          10_000,
        );
        const check = () => {
          const hit = records.find(match);
          if (hit) {
            clearTimeout(t);
            resolve(hit);
          } else waiters.push(check);
        };
        check();
      });
    },
    clear() {
      records.length = 0;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await done;
    },
  };
  return peer;
}

let tmp: { dir: string; cleanup: () => Promise<void> };
let withUtf8: Peer;
let withoutUtf8: Peer;
let sink: SmtpSinkHandle;
let dump: string;

beforeAll(async () => {
  tmp = await tempDir('netkit-smtputf8-');
  await chmod(tmp.dir, 0o755); // smtp-sink runs as nobody when we are root
  dump = path.join(tmp.dir, 'dump');
  await mkdir(dump);
  [withUtf8, withoutUtf8, sink] = await Promise.all([startPeer(true), startPeer(false), startSmtpSink(dump)]);
});

afterAll(async () => {
  await Promise.all([withUtf8?.stop(), withoutUtf8?.stop(), sink?.stop()]);
  await tmp.cleanup();
});

const commands = (p: Peer) => p.records.filter((r) => r.command).map((r) => r.command);
const sendArgs = (port: number, extra: string[]) => [
  'mail',
  'send',
  '--server',
  `127.0.0.1:${port}`,
  '--no-tls',
  '--data',
  path.join(tmp.dir, 'no-data'),
  '--text',
  'hej',
  ...extra,
];

describe('a server that offers SMTPUTF8 (aiosmtpd enable_SMTPUTF8=True)', () => {
  it('gets MAIL FROM:<…> SMTPUTF8, UTF-8 envelope addresses and RFC 6532 headers', async () => {
    withUtf8.clear();
    const r = await sendMail({
      port: withUtf8.port,
      from: 'Zoë <zoë@lab>',
      to: ['bøb@bücher.de'],
      cc: ['carol@lab'],
      bcc: ['x@bücher.de'],
      subject: 'Grüße',
      text: 'hej',
    });
    expect(r.smtpUtf8).toEqual({ field: 'from', address: 'zoë@lab' });
    expect(r.envelope).toEqual({ from: 'zoë@lab', to: ['bøb@bücher.de', 'carol@lab', 'x@xn--bcher-kva.de'] });
    const { message } = await withUtf8.waitFor((x) => x.message !== undefined, 'message');
    expect(message!.mail_options).toEqual(['SMTPUTF8']);
    expect(message!.smtp_utf8).toBe(true);
    expect(message!.mail_from).toBe('zoë@lab');
    // an ASCII local part keeps its A-label domain even in an SMTPUTF8 transaction
    expect(message!.rcpt_tos).toEqual(['bøb@bücher.de', 'carol@lab', 'x@xn--bcher-kva.de']);
    expect(Buffer.from(message!.content, 'utf8').equals(r.message)).toBe(true);
    expect(message!.content).toMatch(/^From: =\?UTF-8\?Q\?Zo=C3=AB\?= <zoë@lab>\r$/m);
    expect(message!.content).toMatch(/^To: bøb@bücher\.de\r$/m);
    expect(message!.content).toMatch(/^Subject: =\?UTF-8\?Q\?Gr=C3=BC=C3=9Fe\?=\r$/m);
    expect(message!.content).not.toMatch(/x@/);
    expect(withUtf8.records.find((x) => x.command === 'MAIL')?.arg).toBe('FROM:<zoë@lab> SMTPUTF8');
  });

  it('adds the SMTPUTF8 parameter when only Reply-To is UTF-8 (the envelope is ASCII)', async () => {
    withUtf8.clear();
    const r = await netkit(
      sendArgs(withUtf8.port, ['--from', 'a@lab', '--to', 'b@lab', '--reply-to', 'rø@lab', '--trace']),
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/C: MAIL FROM:<a@lab> SMTPUTF8$/m);
    const { message } = await withUtf8.waitFor((x) => x.message !== undefined, 'message');
    expect(message!.mail_options).toEqual(['SMTPUTF8']);
    expect(message!.rcpt_tos).toEqual(['b@lab']);
    expect(message!.content).toMatch(/^Reply-To: rø@lab\r$/m);
  });
});

describe('a server that does not offer SMTPUTF8', () => {
  it('aiosmtpd: one-line 5.6.7 error, exit 1, nothing but EHLO and QUIT reached the server', async () => {
    withoutUtf8.clear();
    const r = await netkit(
      sendArgs(withoutUtf8.port, ['--from', 'a@lab', '--to', 'bøb@lab', '--cc', 'c@lab']),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `netkit: 553 5.6.7 <bøb@lab> (to) has a non-ASCII local part: SMTPUTF8 is required, but was not offered by host 127.0.0.1:${withoutUtf8.port}; nothing was sent\n`,
    );
    // the client waits for the server's reply to QUIT before it exits, so the record is there
    await withoutUtf8.waitFor((x) => x.command === 'QUIT', 'QUIT');
    expect(commands(withoutUtf8)).toEqual(['EHLO', 'QUIT']);
    expect(withoutUtf8.records.some((x) => x.strict_ascii || x.message)).toBe(false);
  });

  it('aiosmtpd, library: NETKIT_PROTOCOL naming a UTF-8 sender; ASCII mail and IDN domains still go', async () => {
    withoutUtf8.clear();
    const err = await sendMail({ port: withoutUtf8.port, from: 'zoë@lab', to: ['b@lab'], text: 'x' }).catch(
      (e) => e,
    );
    expect(err.code).toBe('NETKIT_PROTOCOL');
    expect(err.message).toMatch(
      /^553 5\.6\.7 <zoë@lab> \(from\) has a non-ASCII local part: SMTPUTF8 is required/,
    );
    await withoutUtf8.waitFor((x) => x.command === 'QUIT', 'QUIT');
    expect(commands(withoutUtf8)).toEqual(['EHLO', 'QUIT']);

    withoutUtf8.clear();
    const ok = await sendMail({ port: withoutUtf8.port, from: 'a@lab', to: ['b@bücher.de'], text: 'x' });
    expect(ok.smtpUtf8).toBeUndefined();
    const { message } = await withoutUtf8.waitFor((x) => x.message !== undefined, 'message');
    expect(message).toMatchObject({ mail_from: 'a@lab', mail_options: [], rcpt_tos: ['b@xn--bcher-kva.de'] });
  });

  it('smtp-sink (accepts 8-bit commands): refused before MAIL FROM, nothing stored; Reply-To named', async () => {
    const r = await netkit(
      sendArgs(sink.port, ['--from', 'a@lab', '--to', 'b@lab', '--reply-to', 'rø@lab', '--trace']),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^netkit: 553 5\\.6\\.7 <rø@lab> \\(reply-to\\) has a non-ASCII local part: SMTPUTF8 is required, but was not offered by host 127\\.0\\.0\\.1:${sink.port}; nothing was sent$`,
        'm',
      ),
    );
    expect(r.stderr).not.toMatch(/C: (MAIL|RCPT|DATA)/);
    expect(r.stderr).toMatch(/C: QUIT/);
    expect(await readdir(dump)).toEqual([]);
  });
});
