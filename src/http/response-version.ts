/**
 * The HTTP version of a response (`HTTP/1.0 200 OK`), which undici parses but does not report.
 * Our connector wraps each socket it makes: the first status line read after a request was written
 * is the server's answer (undici sends one request at a time per connection), and its version is
 * noted. undici hands a response to its caller while reading it, synchronously, so the caller
 * takes the version as soon as its request resolves (only another connection's response beginning
 * in those few microtasks could come in between; the version is for display only).
 *
 * A TLS socket on which ALPN chose `h2` is handed to node:http2, which reads it natively (no status
 * line to watch): such connections are noted per origin instead, in the caller's `protocols` map
 * (`https://host:port` → `'2'` or `'1.1'`), and a response from that origin is an HTTP/2 one.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { buildConnector } from 'undici';

const STATUS_LINE = /^HTTP\/(\d(?:\.\d)?) \d{3}/;
let lastVersion: string | undefined;

function watch(socket: Socket): void {
  let expecting = false;
  const write = socket.write;
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    expecting = true;
    return write.apply(this, args);
  } as Socket['write'];
  const read = socket.read;
  socket.read = function (this: Socket, size?: number) {
    const chunk: unknown = read.call(this, size);
    if (expecting && Buffer.isBuffer(chunk)) {
      const m = STATUS_LINE.exec(chunk.subarray(0, 12).toString('latin1'));
      if (m) {
        lastVersion = m[1];
        expecting = false; // the rest is this response's: a body may start with "HTTP/"
      }
    }
    return chunk;
  };
}

/**
 * `connector` with every socket it makes watched for response versions; with `protocols`, the
 * protocol ALPN chose for each origin's newest connection is noted there (`'2'` for h2, else `'1.1'`).
 */
export function versionConnector(
  connector: buildConnector.connector,
  protocols?: Map<string, string>,
): buildConnector.connector {
  return (options, callback) =>
    connector(options, (...args) => {
      const socket = args[1];
      if (socket) {
        const h2 = (socket as Partial<TLSSocket>).alpnProtocol === 'h2';
        const host = options.host ?? `${options.hostname}${options.port ? `:${options.port}` : ''}`;
        protocols?.set(`${options.protocol}//${host}`, h2 ? '2' : '1.1');
        if (!h2) watch(socket);
      }
      callback(...args);
    });
}

/** The version of the response read last ('1.1' when unknown: a proxy or a caller's dispatcher). */
export function takeResponseVersion(): string {
  const v = lastVersion ?? '1.1';
  lastVersion = undefined;
  return v;
}
