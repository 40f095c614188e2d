/**
 * `netkit mail serve`: SMTP and POP3 on one data directory — a message accepted by Python's smtplib
 * is read back by Python's poplib from the recipient's own inbox, and other inboxes stay empty.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient, netkit, run, startServe, tempDir } from '../helpers/net.js';

describe('netkit mail serve', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: Awaited<ReturnType<typeof startServe>>;
  /** what it prints after its listening lines */
  let events = '';

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    const added = await netkit(['user', 'add', 'bob', '--password', 'bobpw', '--data', dir]);
    expect(added.code).toBe(0);
    await netkit(['user', 'add', 'carol', '--password', 'carolpw', '--data', dir]);
    server = await startServe(['mail', 'serve', '--data', dir, '--smtp-port', '0', '--pop3-port', '0'], 2);
    server.child.stdout!.on('data', (d: Buffer) => {
      events += d.toString();
    });
  });
  afterAll(async () => {
    await server?.stop();
    await cleanup();
  });

  it('announces both listeners', () => {
    expect(server.listening.map((l) => l.service).sort()).toEqual(['pop3', 'smtp']);
  });

  it('delivers with smtplib and reads back with poplib, one inbox per recipient', async () => {
    const smtp = server.listening.find((l) => l.service === 'smtp')!.port;
    const pop3 = server.listening.find((l) => l.service === 'pop3')!.port;
    const script = `
import smtplib, poplib, sys
from email.message import EmailMessage
m = EmailMessage()
m['From'] = 'alice@example.org'; m['To'] = 'bob@lab.test'; m['Subject'] = 'together'
m.set_content('one data directory')
with smtplib.SMTP('127.0.0.1', int(sys.argv[1])) as s:
    s.send_message(m)
p = poplib.POP3('127.0.0.1', int(sys.argv[2]))
p.user('bob'); p.pass_('bobpw')
count, _ = p.stat()
body = b'\\n'.join(p.retr(1)[1]).decode()
p.quit()
c = poplib.POP3('127.0.0.1', int(sys.argv[2]))
c.user('carol'); c.pass_('carolpw')
print(count, c.stat()[0], 'Subject: together' in body, 'one data directory' in body)
c.quit()
`;
    const r = await run('/usr/bin/python3', ['-c', script, String(smtp), String(pop3)]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1 0 True True');
    // like `smtp serve` and `pop3 serve`, one record per stored message and per POP3 session event
    const records = () =>
      events
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string; mailbox?: string });
    await expect.poll(() => records().filter((e) => e.event === 'quit').length).toBe(2);
    expect(records().find((e) => e.event === 'message')).toMatchObject({ mailbox: 'bob' });
    expect(
      records()
        .filter((e) => e.event === 'login')
        .map((e) => e.mailbox),
    ).toEqual(['bob', 'carol']);
  });
});

describe('netkit mail serve --max-messages', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: Awaited<ReturnType<typeof startServe>>;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    expect((await netkit(['user', 'add', 'bob', '--password', 'bobpw', '--data', dir])).code).toBe(0);
    server = await startServe(
      ['mail', 'serve', '--data', dir, '--smtp-port', '0', '--pop3-port', '0', '--max-messages', '2'],
      2,
    );
  });
  afterAll(async () => {
    await server?.stop();
    await cleanup();
  });

  it('removes nothing from a mailbox while a POP3 session holds it; the next delivery applies the cap', async () => {
    const smtp = server.listening.find((l) => l.service === 'smtp')!.port;
    const pop3 = server.listening.find((l) => l.service === 'pop3')!.port;
    const script = `
import smtplib, poplib, sys
smtp_port, pop3_port = int(sys.argv[1]), int(sys.argv[2])
def send(n):
    with smtplib.SMTP('127.0.0.1', smtp_port) as s:
        s.sendmail('a@example.org', ['bob@lab.test'], 'Subject: n%d\\r\\n\\r\\n%d\\r\\n' % (n, n))
def login():
    p = poplib.POP3('127.0.0.1', pop3_port)
    p.user('bob'); p.pass_('bobpw')
    return p
send(1); send(2)
p = login()
listed = p.stat()[0]
send(3); send(4)
retr = b'\\n'.join(p.retr(1)[1]).decode()
top = b'\\n'.join(p.top(2, 0)[1]).decode()
p.dele(2)
quit = p.quit().decode()
send(5)
q = login()
left = [b'\\n'.join(q.top(i, 0)[1]).decode().split('Subject: ')[1].split('\\n')[0] for i in range(1, q.stat()[0] + 1)]
q.quit()
print(listed, 'Subject: n1' in retr, 'Subject: n2' in top, quit, sorted(left))
`;
    const r = await run('/usr/bin/python3', ['-c', script, String(smtp), String(pop3)]);
    expect(r.stderr).toBe('');
    // n2 was deleted by the session itself; of n1, n3, n4, n5 the cap keeps the newest two
    expect(r.stdout.trim()).toBe(
      "2 True True +OK netkit POP3 server signing off (1 message deleted) ['n4', 'n5']",
    );
  });

  it('takes every limit of smtp serve and pop3 serve, named per service', async () => {
    const tuned = await startServe(
      [
        'mail',
        'serve',
        '--data',
        dir,
        '--smtp-port',
        '0',
        '--pop3-port',
        '0',
        '--require-auth',
        '--max-recipients',
        '1',
        '--smtp-max-per-ip',
        '1',
        '--pop3-max-per-ip',
        '1',
        '--hostname',
        'mx.lab.test',
        '--smtp-handshake-timeout',
        '300ms',
      ],
      2,
    );
    const clients: LineClient[] = [];
    const connect = async (port: number) => {
      const c = await LineClient.connect(port);
      clients.push(c);
      return c;
    };
    try {
      const smtp = tuned.listening.find((l) => l.service === 'smtp')!.port;
      const pop3 = tuned.listening.find((l) => l.service === 'pop3')!.port;
      const first = await connect(smtp);
      expect(await first.line()).toMatch(/^220 mx\.lab\.test /);
      const second = await connect(smtp);
      expect(await second.line()).toMatch(/^421 /);
      first.send('EHLO tester\r\n');
      await first.until(/^250 /);
      first.send('MAIL FROM:<a@example.org>\r\n');
      expect(await first.line()).toMatch(/^530 /);
      const p1 = await connect(pop3);
      expect(await p1.line()).toMatch(/^\+OK/);
      const p2 = await connect(pop3);
      expect(await p2.line()).toBe('-ERR [SYS/TEMP] too many connections, try again later');
      // STARTTLS and then no handshake: closed after 300 ms, not the minute of idle timeout
      first.send('STARTTLS\r\n');
      expect(await first.line()).toMatch(/^220 /);
      expect(await Promise.race([first.closed.then(() => 'closed'), delay(5000, 'open')])).toBe('closed');
    } finally {
      for (const c of clients) c.close();
      await tuned.stop();
    }
  });
});
