/**
 * A scriptable POP3 server for the client's streaming tests: messages of any size are generated
 * block by block as they are sent (never held whole), with the server's own backpressure
 * (write → 'drain'), byte-stuffed, and commands are answered strictly in order, one at a time.
 * It records every command and, for each RETR, when it arrived.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

/** A message made of `head` then `count` copies of `block` (both unstuffed, as stored). */
export interface FakeMessage {
  head: Buffer;
  block?: Buffer;
  count?: number;
  /** LIST reports this instead of the real size */
  listedSize?: number;
}

export interface FakeOptions {
  /** announce PIPELINING in CAPA (default true) */
  pipelining?: boolean;
  /** close the connection after sending this many octets of the body of this message */
  dieIn?: { n: number; after: number };
  /** send only this many octets of the body of this message, then nothing more (the socket stays open) */
  stallIn?: { n: number; after: number };
  /** called when a RETR line arrives, before it is answered */
  onRetr?: (n: number) => void;
}

export interface FakePop3 {
  port: number;
  commands: string[];
  /** sockets the server closed or lost */
  connections: net.Socket[];
  close(): Promise<void>;
}

export function messageSize(m: FakeMessage): number {
  return m.head.length + (m.block?.length ?? 0) * (m.count ?? 0);
}

/** The message's bytes in order, a block at a time. */
export function* messageParts(m: FakeMessage): Generator<Buffer> {
  yield m.head;
  for (let i = 0; i < (m.count ?? 0); i++) yield m.block!;
}

export function messageHash(m: FakeMessage): string {
  const h = createHash('sha256');
  for (const p of messageParts(m)) h.update(p);
  return h.digest('hex');
}

/** RFC 1939 byte-stuffing of complete lines: a line starting with `.` gets another. */
export function stuff(data: Buffer): Buffer {
  const text = data.toString('latin1');
  return Buffer.from(text.replace(/(^|\n)\./g, '$1..'), 'latin1');
}

/**
 * `lines` lines of about `width` octets, every seventh starting with a dot (stuffed on the wire),
 * one with an ESC — a body that exercises unstuffing and terminal escaping.
 */
export function textBlock(lines: number, width = 78, tag = 'x'): Buffer {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const start = i % 7 === 3 ? '.' : i === 5 ? '\u001b[2J' : '';
    out.push(`${start}${tag}${i} `.padEnd(width, tag.slice(0, 1)));
  }
  return Buffer.from(`${out.join('\r\n')}\r\n`, 'latin1');
}

export function header(subject: string, from = 'a@lab'): Buffer {
  return Buffer.from(`From: ${from}\r\nTo: bob@lab\r\nSubject: ${subject}\r\n\r\n`, 'latin1');
}

export async function fakePop3(messages: FakeMessage[], opts: FakeOptions = {}): Promise<FakePop3> {
  const commands: string[] = [];
  const connections: net.Socket[] = [];
  // a block is stuffed once, however often it is sent
  const stuffedBlocks = new Map<Buffer, Buffer>();
  const onWire = (b: Buffer) => {
    let s = stuffedBlocks.get(b);
    if (!s) {
      s = stuff(b);
      stuffedBlocks.set(b, s);
    }
    return s;
  };

  const server = net.createServer((socket) => {
    connections.push(socket);
    socket.setNoDelay(true); // a reply's last bytes do not wait for the client's delayed ACK
    socket.on('error', () => {});
    const write = (data: Buffer | string): Promise<void> | undefined =>
      socket.write(data) ? undefined : new Promise((resolve) => socket.once('drain', () => resolve()));

    const answer = async (line: string): Promise<void> => {
      const [verb, arg] = line.split(' ');
      const n = Number(arg);
      switch (verb) {
        case 'CAPA':
          await write(`+OK\r\nUSER\r\nUIDL\r\n${opts.pipelining === false ? '' : 'PIPELINING\r\n'}.\r\n`);
          return;
        case 'LIST':
          await write(
            `+OK\r\n${messages.map((m, k) => `${k + 1} ${m.listedSize ?? messageSize(m)}\r\n`).join('')}.\r\n`,
          );
          return;
        case 'UIDL':
          await write(`+OK\r\n${messages.map((_, k) => `${k + 1} uid-${k + 1}\r\n`).join('')}.\r\n`);
          return;
        case 'RETR': {
          const m = messages[n - 1];
          if (!m) {
            await write('-ERR no such message\r\n');
            return;
          }
          await write(`+OK ${messageSize(m)} octets\r\n`);
          let sent = 0;
          for (const part of messageParts(m)) {
            const wire = onWire(part);
            if (opts.dieIn?.n === n && sent + wire.length > opts.dieIn.after) {
              socket.end(wire.subarray(0, opts.dieIn.after - sent)); // a FIN in the middle of the body
              return;
            }
            if (opts.stallIn?.n === n && sent + wire.length > opts.stallIn.after) {
              await write(wire.subarray(0, opts.stallIn.after - sent));
              return;
            }
            sent += wire.length;
            await write(wire);
            if (socket.destroyed || socket.writableEnded) return;
          }
          await write('.\r\n');
          return;
        }
        case 'QUIT':
          socket.end('+OK bye\r\n');
          return;
        default:
          await write('+OK\r\n');
      }
    };

    // one command at a time, in order, however they arrive
    let buf = '';
    let chain = Promise.resolve();
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let i = buf.indexOf('\r\n');
      while (i !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        commands.push(line);
        if (line.startsWith('RETR ')) opts.onRetr?.(Number(line.slice(5)));
        chain = chain.then(() => (socket.destroyed || socket.writableEnded ? undefined : answer(line)));
        i = buf.indexOf('\r\n');
      }
    });
    socket.write('+OK fake ready\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    commands,
    connections,
    close: async () => {
      for (const s of connections) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
