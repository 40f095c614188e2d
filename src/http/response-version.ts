/**
 * The HTTP version of a response (`HTTP/1.0 200 OK`), which undici parses but does not report.
 * Our connector wraps each socket it makes: the first status line read after a request was written
 * is the server's answer (undici sends one request at a time per connection), and its version is
 * noted. undici hands a response to its caller while reading it, synchronously, so the caller
 * takes the version as soon as its request resolves (only another connection's response beginning
 * in those few microtasks could come in between; the version is for display only).
 */
import type { Socket } from 'node:net';
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

/** `connector` with every socket it makes watched for response versions. */
export function versionConnector(connector: buildConnector.connector): buildConnector.connector {
  return (options, callback) =>
    connector(options, (...args) => {
      if (args[1]) watch(args[1]);
      callback(...args);
    });
}

/** The version of the response read last ('1.1' when unknown: a proxy or a caller's dispatcher). */
export function takeResponseVersion(): string {
  const v = lastVersion ?? '1.1';
  lastVersion = undefined;
  return v;
}
