/**
 * The POP3 state machine through a fake link (no sockets): AUTHORIZATION / TRANSACTION / UPDATE,
 * the plaintext rule on a non-loopback address, STLS, AUTH PLAIN forms, limits and redaction.
 */
import { EventEmitter } from 'node:events';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { Maildir } from '../../src/mail/maildir.js';
import { encodeSaslPlain } from '../../src/mail/pop3-auth.js';
import { Pop3Session, type Pop3SessionConfig, type Pop3SessionIo } from '../../src/mail/pop3-session.js';
import { tempDir } from '../helpers/net.js';

class FakeIo implements Pop3SessionIo {
  secure = false;
  closed = false;
  wire = '';
  traces: string[] = [];
  constructor(
    readonly remoteAddress = '127.0.0.1',
    readonly remotePort = 40000,
  ) {}
  reply(line: string): void {
    this.wire += `${line}\r\n`;
  }
  async send(data: Buffer | Buffer[]): Promise<void> {
    for (const d of Array.isArray(data) ? data : [data]) this.wire += d.toString('latin1');
  }
  trace(kind: string, text: string): void {
    this.traces.push(`${kind} ${text}`);
  }
  end(line?: string): void {
    if (line !== undefined) this.wire += `${line}\r\n`;
    this.closed = true;
  }
  async startTls(): Promise<void> {
    this.secure = true;
  }
  keepAlive(): void {}
  /** Take what was written since the last call. */
  take(): string {
    const w = this.wire;
    this.wire = '';
    return w;
  }
}

let dataDir: string;
let cleanup: () => Promise<void>;
let accounts: AccountStore;

beforeAll(async () => {
  ({ dir: dataDir, cleanup } = await tempDir());
  accounts = new AccountStore(dataDir);
  await accounts.add('bob', 's3cret');
  await accounts.add('carol', 'pässwörd');
});
afterAll(() => cleanup());

function setup(overrides: Partial<Pop3SessionConfig> = {}, address = '127.0.0.1') {
  const events = new EventEmitter();
  const config: Pop3SessionConfig = {
    dataDir,
    accounts,
    authAcceptAny: false,
    allowPlaintext: false,
    tlsAvailable: true,
    failedLoginDelayMs: 0,
    maxBadCommands: 10,
    maxAuthFailures: 3,
    markSeen: true,
    events,
    ...overrides,
  };
  const io = new FakeIo(address);
  const session = new Pop3Session(io, config, 1);
  session.greet();
  io.take();
  const say = async (...lines: string[]) => {
    for (const l of lines) await session.handle(l);
    return io.take();
  };
  return { io, session, say, events };
}

async function fill(mailbox: string, messages: string[]): Promise<Maildir> {
  const md = Maildir.open(dataDir, mailbox);
  for (const m of messages) await md.deliver(Buffer.from(m, 'latin1'));
  return md;
}

describe('AUTHORIZATION', () => {
  it('refuses transaction commands before login, and QUIT ends politely', async () => {
    const { say, io } = setup();
    expect(await say('STAT')).toBe('-ERR STAT is not valid before login\r\n');
    expect(await say('RETR 1')).toBe('-ERR RETR is not valid before login\r\n');
    expect(await say('QUIT')).toBe('+OK netkit POP3 server signing off\r\n');
    expect(io.closed).toBe(true);
  });

  it('PASS without USER, wrong password, then right password', async () => {
    const { say, session } = setup();
    expect(await say('PASS x')).toBe('-ERR no user name given: send USER first\r\n');
    expect(await say('USER bob', 'PASS wrong')).toBe('+OK\r\n-ERR [AUTH] authentication failed\r\n');
    // USER is forgotten after a failed PASS
    expect(await say('PASS s3cret')).toBe('-ERR no user name given: send USER first\r\n');
    expect(await say('USER bob', 'PASS s3cret')).toMatch(
      /^\+OK\r\n\+OK logged in: mailbox bob has \d+ messages?\r\n$/,
    );
    expect(session.state).toBe('TRANSACTION');
    expect(await say('USER bob')).toBe('-ERR USER is not valid after login\r\n');
    await session.closed();
  });

  it('unknown user fails exactly like a wrong password', async () => {
    const { say } = setup();
    expect(await say('USER nobody-here', 'PASS x')).toBe('+OK\r\n-ERR [AUTH] authentication failed\r\n');
  });

  it('takes a UTF-8 password sent as raw bytes (lines arrive as latin1)', async () => {
    const { say, session } = setup();
    const pass = Buffer.from('PASS pässwörd', 'utf8').toString('latin1');
    expect(await say('USER carol', pass)).toContain('+OK logged in');
    await session.closed();
  });

  it('waits before answering a failed login', async () => {
    const { say } = setup({ failedLoginDelayMs: 120 });
    const t0 = performance.now();
    expect(await say('USER bob', 'PASS nope')).toContain('-ERR [AUTH]');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('closes after too many failed logins', async () => {
    const { say, io, events } = setup({ maxAuthFailures: 2 });
    const failed: unknown[] = [];
    events.on('auth-failed', (e) => failed.push(e));
    await say('USER bob', 'PASS 1');
    expect(io.closed).toBe(false);
    expect(await say('USER bob', 'PASS 2')).toContain('-ERR [AUTH] authentication failed, too many attempts');
    expect(io.closed).toBe(true);
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ user: 'bob', mechanism: 'USER', peer: '127.0.0.1:40000' });
  });

  it('authAcceptAny opens any valid mailbox name with any password', async () => {
    const { say, session } = setup({ authAcceptAny: true });
    expect(await say('USER brand-new@lab', 'PASS whatever')).toContain(
      '+OK logged in: mailbox brand-new has 0 messages',
    );
    await session.closed();
    const { say: say2 } = setup({ authAcceptAny: true });
    expect(await say2('USER ../x', 'PASS y')).toContain('-ERR [AUTH]');
  });
});

describe('plaintext only where it is safe', () => {
  it('refuses USER, PASS and AUTH PLAIN on an insecure remote link, and CAPA hides them', async () => {
    const { say } = setup({}, '192.0.2.7');
    const capa = await say('CAPA');
    expect(capa).toContain('STLS\r\n');
    expect(capa).not.toContain('USER\r\n');
    expect(capa).not.toContain('SASL');
    for (const cmd of ['USER bob', 'PASS s3cret', `AUTH PLAIN ${encodeSaslPlain('bob', 's3cret')}`]) {
      expect(await say(cmd)).toBe(
        '-ERR [AUTH] plaintext authentication is disallowed on insecure connections: use STLS first\r\n',
      );
    }
    expect(await say('AUTH')).toBe('+OK\r\n.\r\n');
  });

  it('allows them after STLS, which is then no longer offered', async () => {
    const { say, io, session } = setup({}, '192.0.2.7');
    expect(await say('STLS')).toBe('+OK begin TLS negotiation\r\n');
    expect(io.secure).toBe(true);
    const capa = await say('CAPA');
    expect(capa).not.toContain('STLS');
    expect(capa).toContain('USER\r\n');
    expect(await say('STLS')).toBe('-ERR command not permitted when TLS is active\r\n');
    expect(await say('USER bob', 'PASS s3cret')).toContain('+OK logged in');
    await session.closed();
  });

  it('forgets a USER given before STLS', async () => {
    const { say } = setup();
    await say('USER bob', 'STLS');
    expect(await say('PASS s3cret')).toBe('-ERR no user name given: send USER first\r\n');
  });

  it('allowPlaintext accepts them from anywhere; no TLS means no STLS', async () => {
    const { say, session } = setup({ allowPlaintext: true, tlsAvailable: false }, '192.0.2.7');
    const capa = await say('CAPA');
    expect(capa).not.toContain('STLS');
    expect(capa).toContain('USER\r\n');
    expect(await say('STLS')).toBe('-ERR STLS is not available on this server\r\n');
    expect(await say('USER bob', 'PASS s3cret')).toContain('+OK logged in');
    await session.closed();
  });
});

describe('AUTH PLAIN (RFC 5034)', () => {
  it('initial-response form', async () => {
    const { say, session, events } = setup();
    const logins: unknown[] = [];
    events.on('login', (e) => logins.push(e));
    expect(await say(`AUTH PLAIN ${encodeSaslPlain('bob', 's3cret')}`)).toContain('+OK logged in');
    expect(logins[0]).toMatchObject({ mailbox: 'bob', mechanism: 'PLAIN', secure: false });
    await session.closed();
  });

  it('continuation form, with the response redacted from the trace', async () => {
    const { say, session } = setup();
    expect(await say('auth plain')).toBe('+ \r\n');
    const response = encodeSaslPlain('bob', 's3cret');
    expect(session.redact(response)).toBe('****');
    expect(await say(response)).toContain('+OK logged in');
    expect(session.redact('STAT')).toBe('STAT');
    await session.closed();
  });

  it('"*" cancels, bad base64 and wrong credentials are refused', async () => {
    const { say } = setup({ maxAuthFailures: 10 });
    expect(await say('AUTH PLAIN', '*')).toBe('+ \r\n-ERR authentication cancelled\r\n');
    expect(await say('AUTH PLAIN', '%%%')).toBe(
      '+ \r\n-ERR invalid base64 data in the authentication response\r\n',
    );
    expect(await say(`AUTH PLAIN ${encodeSaslPlain('bob', 'wrong')}`)).toBe(
      '-ERR [AUTH] authentication failed\r\n',
    );
    expect(await say(`AUTH PLAIN ${encodeSaslPlain('bob', 's3cret', 'carol')}`)).toBe(
      '-ERR [AUTH] authentication failed\r\n',
    );
    expect(await say('AUTH PLAIN =')).toBe('-ERR [AUTH] authentication failed\r\n');
  });

  it('other mechanisms are not offered', async () => {
    const { say } = setup();
    expect(await say('AUTH LOGIN')).toBe('-ERR unsupported authentication mechanism\r\n');
    expect(await say('AUTH')).toBe('+OK\r\nPLAIN\r\n.\r\n');
    expect(await say('APOP bob 0123456789abcdef')).toBe(
      '-ERR APOP is not supported: use USER/PASS or AUTH PLAIN\r\n',
    );
  });

  it('PASS and AUTH secrets never reach the trace text', () => {
    const { session } = setup();
    expect(session.redact('PASS hunter2')).toBe('PASS ****');
    expect(session.redact('AUTH PLAIN AGJvYgBz')).toBe('AUTH PLAIN ****');
  });
});

describe('TRANSACTION and UPDATE', () => {
  const messages = [
    'Subject: one\r\n\r\nfirst\r\n',
    'Subject: two\r\n\r\n.dotted\r\nsecond\r\n',
    'Subject: three\n\nbare lf\n',
  ];
  let md: Maildir;
  beforeAll(async () => {
    md = await fill('dave', messages);
    await accounts.add('dave', 'pw');
  });

  it('STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP in one session', async () => {
    const { say, session } = setup();
    await say('USER dave', 'PASS pw');
    // sizes in CRLF form: message 3 is stored with bare LFs and counted as sent
    expect(messages[2]!.replace(/\n/g, '\r\n')).toHaveLength(27);
    expect(await say('STAT')).toBe('+OK 3 83\r\n');
    expect(await say('LIST')).toBe('+OK 3 messages (83 octets)\r\n1 23\r\n2 33\r\n3 27\r\n.\r\n');
    expect(await say('LIST 2')).toBe('+OK 2 33\r\n');
    const ids = (await md.list()).map((e) => e.id);
    expect(await say('UIDL')).toBe(
      `+OK unique-id listing follows\r\n${ids.map((id, i) => `${i + 1} ${id}`).join('\r\n')}\r\n.\r\n`,
    );
    expect(await say('UIDL 3')).toBe(`+OK 3 ${ids[2]}\r\n`);
    expect(await say('RETR 2')).toBe('+OK 33 octets\r\nSubject: two\r\n\r\n..dotted\r\nsecond\r\n.\r\n');
    expect(await say('RETR 3')).toBe('+OK 27 octets\r\nSubject: three\r\n\r\nbare lf\r\n.\r\n');
    expect(await say('TOP 2 0')).toBe('+OK top of message follows\r\nSubject: two\r\n\r\n.\r\n');
    expect(await say('TOP 2 1')).toBe('+OK top of message follows\r\nSubject: two\r\n\r\n..dotted\r\n.\r\n');
    expect(await say('DELE 1')).toBe('+OK message 1 deleted\r\n');
    for (const cmd of ['DELE 1', 'RETR 1', 'LIST 1', 'UIDL 1', 'TOP 1 0']) {
      expect(await say(cmd)).toBe('-ERR message 1 already deleted\r\n');
    }
    expect(await say('STAT')).toBe('+OK 2 60\r\n');
    expect(await say('LIST')).toBe('+OK 2 messages (60 octets)\r\n2 33\r\n3 27\r\n.\r\n');
    expect(await say('RSET')).toBe('+OK maildrop has 3 messages (83 octets)\r\n');
    expect(await say('RETR 1')).toContain('+OK 23 octets');
    expect(await say('NOOP')).toBe('+OK\r\n');
    await session.closed();
    expect(await md.list()).toHaveLength(3);
  });

  it('bad message numbers and arguments', async () => {
    const { say, session } = setup();
    await say('USER dave', 'PASS pw');
    expect(await say('RETR 0')).toBe('-ERR no such message, only 3 messages in maildrop\r\n');
    expect(await say('RETR 4')).toBe('-ERR no such message, only 3 messages in maildrop\r\n');
    expect(await say('RETR x')).toBe('-ERR invalid message number: x\r\n');
    expect(await say('RETR')).toBe('-ERR RETR needs a message number\r\n');
    expect(await say('TOP 1')).toBe('-ERR TOP needs a message number and a line count\r\n');
    expect(await say('TOP 1 -1')).toBe('-ERR invalid line count: -1\r\n');
    expect(await say('TOP 1 1x')).toBe('-ERR invalid line count: 1x\r\n');
    expect(await say('PASS x')).toBe('-ERR PASS is not valid after login\r\n');
    expect(await say('STLS')).toBe('-ERR STLS is not valid after login\r\n');
    await session.closed();
  });

  it('TOP with a line count beyond any message (TOP n 2147483647) sends the whole message, as Dovecot does', async () => {
    const { say, session } = setup();
    await say('USER dave', 'PASS pw');
    const whole = '+OK top of message follows\r\nSubject: two\r\n\r\n..dotted\r\nsecond\r\n.\r\n';
    expect(await say('TOP 2 2147483647')).toBe(whole);
    expect(await say('TOP 2 99999999999999999999999')).toBe(whole);
    await session.closed();
  });

  it('refuses extra arguments like Dovecot, and does nothing (DELE 2 3 deletes no message)', async () => {
    const { say, session } = setup();
    await say('USER dave', 'PASS pw');
    expect(await say('DELE 2 3')).toBe('-ERR noise after message number: 3\r\n');
    expect(await say('RETR 1 2')).toBe('-ERR noise after message number: 2\r\n');
    expect(await say('LIST 1 2')).toBe('-ERR noise after message number: 2\r\n');
    expect(await say('UIDL 1 2')).toBe('-ERR noise after message number: 2\r\n');
    expect(await say('TOP 1 0 5')).toBe('-ERR noise after message number: 5\r\n');
    // nothing was marked: message 2 is still there, and QUIT deletes nothing
    expect(await say('STAT')).toBe('+OK 3 83\r\n');
    expect(await say('LIST 2')).toBe('+OK 2 33\r\n');
    expect(await say('QUIT')).toBe('+OK netkit POP3 server signing off (0 messages deleted)\r\n');
    await session.closed();
    expect(await md.list()).toHaveLength(3);
  });

  it('waits for the link when it pushes back (backpressure) before taking the next command', async () => {
    const { say, io, session } = setup();
    await say('USER dave', 'PASS pw');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    io.send = async (data: Buffer | Buffer[]) => {
      for (const d of Array.isArray(data) ? data : [data]) io.wire += d.toString('latin1');
      await gate;
    };
    let done = false;
    const pending = Promise.resolve(session.handle('RETR 1')).then(() => {
      done = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    expect(io.take()).toContain('+OK 23 octets');
    release();
    await pending;
    expect(done).toBe(true);
    await session.closed();
  });

  it('a dropped session deletes nothing', async () => {
    const { say, session } = setup();
    await say('USER dave', 'PASS pw', 'DELE 1', 'DELE 2', 'DELE 3');
    await session.closed();
    expect(await md.list()).toHaveLength(3);
  });

  it('locks the mailbox: a second session gets [IN-USE] until the first one ends', async () => {
    const a = setup();
    await a.say('USER dave', 'PASS pw');
    const b = setup();
    expect(await b.say('USER dave', 'PASS pw')).toBe(
      '+OK\r\n-ERR [IN-USE] mailbox locked: another POP3 session is using it\r\n',
    );
    expect(b.session.state).toBe('AUTHORIZATION');
    await a.say('QUIT');
    expect(await b.say('USER dave', 'PASS pw')).toContain('+OK logged in');
    await b.session.closed();
  });

  it('QUIT applies deletions and flags retrieved messages seen (into cur/)', async () => {
    const box = await fill('erin', [
      'Subject: a\r\n\r\n1\r\n',
      'Subject: b\r\n\r\n2\r\n',
      'Subject: c\r\n\r\n3\r\n',
    ]);
    const { say, io, events } = setup({ authAcceptAny: true });
    const seen: Record<string, unknown[]> = { retr: [], dele: [], quit: [] };
    for (const k of Object.keys(seen)) events.on(k, (e) => seen[k]!.push(e));
    const before = await box.list();
    await say('USER erin', 'PASS x', 'RETR 2', 'DELE 1', 'DELE 3');
    expect(await say('QUIT')).toBe('+OK netkit POP3 server signing off (2 messages deleted)\r\n');
    expect(io.closed).toBe(true);
    const after = await box.list();
    expect(after.map((e) => e.id)).toEqual([before[1]!.id]);
    expect(after[0]).toMatchObject({ folder: 'cur', flags: 'S' });
    expect(await readdir(path.join(box.dir, 'new'))).toEqual([]);
    expect(seen.retr).toEqual([{ conn: 1, mailbox: 'erin', msg: 2, uid: before[1]!.id, octets: 17 }]);
    expect(seen.dele).toHaveLength(2);
    expect(seen.quit).toEqual([
      { conn: 1, mailbox: 'erin', deleted: [before[0]!.id, before[2]!.id], retrieved: 1 },
    ]);
    // UIDs survive the move to cur/
    const next = setup({ authAcceptAny: true });
    expect(await next.say('USER erin', 'PASS x', 'UIDL')).toContain(`1 ${before[1]!.id}\r\n.`);
    await next.session.closed();
  });

  it('markSeen=false leaves retrieved messages in new/', async () => {
    const box = await fill('frank', ['Subject: a\r\n\r\n1\r\n']);
    const { say } = setup({ authAcceptAny: true, markSeen: false });
    await say('USER frank', 'PASS x', 'RETR 1', 'QUIT');
    expect((await box.list())[0]).toMatchObject({ folder: 'new', flags: '' });
  });

  it('a message removed by another program meanwhile', async () => {
    const box = await fill('gina', ['Subject: a\r\n\r\n1\r\n', 'Subject: b\r\n\r\n2\r\n']);
    const { say, session } = setup({ authAcceptAny: true });
    await say('USER gina', 'PASS x');
    const [first] = await box.list();
    await box.remove(first!.id);
    expect(await say('RETR 1')).toBe('-ERR message 1 was removed from the mailbox by another program\r\n');
    // a message another program moved to cur/ is found again
    const [second] = await box.list();
    await box.setFlag(second!.id, 'F');
    expect(await say('RETR 2')).toBe('+OK 17 octets\r\nSubject: b\r\n\r\n2\r\n.\r\n');
    expect(await say('DELE 1', 'QUIT')).toBe(
      '+OK message 1 deleted\r\n+OK netkit POP3 server signing off (1 message deleted)\r\n',
    );
    expect(await box.list()).toHaveLength(1);
    await session.closed();
  });
});

describe('abuse limits', () => {
  it('closes after 10 bad commands, counting unknown, misplaced and overlong ones', async () => {
    const { say, io, session } = setup();
    for (let i = 0; i < 8; i++) expect(await say(`XYZZY${i}`)).toBe(`-ERR unknown command: XYZZY${i}\r\n`);
    session.overflow();
    expect(io.take()).toBe('-ERR line too long\r\n');
    expect(io.closed).toBe(false);
    expect(await say('\xff\xfe\x00garbage')).toBe(
      '-ERR unknown command\r\n-ERR too many bad commands, closing connection\r\n',
    );
    expect(io.closed).toBe(true);
    expect(await say('CAPA')).toBe('');
  });

  it('idle timeout and shutdown end the link without UPDATE', async () => {
    const { say, session, io } = setup({ authAcceptAny: true });
    await say('USER hank', 'PASS x');
    session.idle();
    expect(io.take()).toBe('-ERR autologout: idle for too long\r\n');
    await session.closed();
    const other = setup();
    other.session.shutdown();
    expect(other.io.take()).toBe('-ERR [SYS/TEMP] server shutting down\r\n');
  });
});
