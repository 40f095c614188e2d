/**
 * An SMTP server that answers like an MTA until a chosen step, where it says nothing more and keeps
 * the connection open, as a hung server would: for the sender's timeouts and its QUIT handling.
 * With `'never'` it answers every step: an MTA that offers what it is told to (a server without
 * STARTTLS, for the sender's refusal to log in in the clear), on any address.
 */
import net from 'node:net';

export type SilentStep =
  | 'greeting'
  | 'EHLO'
  | 'AUTH'
  | 'MAIL FROM'
  | 'RCPT TO'
  | 'DATA'
  | 'end of data'
  | 'QUIT';

export interface Hostile {
  port: number;
  /** every command line received, in order */
  lines: string[];
  close(): Promise<void>;
}

/** A server that answers like an MTA except at `silentAt`, where it says nothing and keeps the connection open. */
export async function hostile(
  silentAt: SilentStep | 'never',
  extensions: string[] = [],
  host = '127.0.0.1',
): Promise<Hostile> {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const say = (...reply: string[]) => {
      s.write(reply.map((l) => `${l}\r\n`).join(''));
    };
    if (silentAt !== 'greeting') say('220 hostile ESMTP');
    let buf = '';
    let inData = false;
    let silent = false;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line !== '.') continue;
          inData = false;
          lines.push(line);
          if (silentAt !== 'end of data') say('250 2.0.0 queued');
          continue;
        }
        lines.push(line);
        const verb = /^(EHLO|HELO|AUTH|MAIL FROM|RCPT TO|DATA|QUIT)\b/i.exec(line)?.[1]?.toUpperCase();
        // from the step on it says nothing more, as a server that hangs would
        if (verb === silentAt) silent = true;
        if (silent) continue;
        switch (verb) {
          case 'EHLO':
            say(
              ...['hostile', ...extensions].map((e, n, all) => `250${n === all.length - 1 ? ' ' : '-'}${e}`),
            );
            break;
          case 'DATA':
            inData = true;
            say('354 go ahead');
            break;
          case 'AUTH':
            say('235 2.7.0 ok');
            break;
          case 'QUIT':
            say('221 bye');
            s.end();
            break;
          default:
            say('250 ok');
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const h: Hostile = {
    port: (server.address() as net.AddressInfo).port,
    lines,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return h;
}
