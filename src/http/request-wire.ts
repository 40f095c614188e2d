/**
 * The request head exactly as undici writes it on an HTTP/1.1 connection, for `--trace`. undici
 * builds the head itself: `host` and `connection` in lower case before the caller's headers, which
 * keep the case they were given in, the framing line (`content-length`, or `transfer-encoding:
 * chunked`) last, and through a forward proxy an absolute-form target (`GET http://host/a`) and a
 * `proxy-authorization`. A trace rebuilt from the caller's headers showed none of that.
 *
 * undici publishes the head without its framing line on the diagnostics channel
 * `undici:client:sendHeaders`, just before its first write of the request; that write starts with
 * the published text and ends the head (or, chunked, carries the framing line before the first
 * chunk). So on that event the socket's next write is looked at, once, and handed on whole.
 *
 * The channel is process-wide (every undici in the process publishes on it, Node's own `fetch`
 * too): only sockets made by a connector wrapped here are watched, each with its own `onHead`, and
 * a socket's `write` is wrapped only while its owner `wants` the head (someone listens to its
 * trace): untraced requests go out untouched.
 * HTTP/2 connections are not watched — a request goes out there as a binary HEADERS frame, which
 * the caller renders itself.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { buildConnector } from 'undici';

const CHANNEL = 'undici:client:sendHeaders';

/** Whom a watched socket tells its heads to, and whether it wants them now. */
interface Watch {
  onHead: (head: string) => void;
  wants: () => boolean;
}

/** The watched sockets. */
const watched = new WeakMap<Socket, Watch>();
/** A socket whose next write is awaited: how to put its `write` back. */
const awaiting = new WeakMap<Socket, () => void>();
let subscribed = false;

function onSendHeaders(message: unknown): void {
  const { headers, socket } = message as { headers?: unknown; socket?: Socket };
  const watch = socket ? watched.get(socket) : undefined;
  if (!socket || !watch || typeof headers !== 'string') return;
  // a request aborted before its first write left its watch in place: this one replaces it
  awaiting.get(socket)?.();
  if (!watch.wants()) return;
  const own = Object.hasOwn(socket, 'write') ? socket.write : undefined;
  const write = socket.write;
  const restore = (): void => {
    awaiting.delete(socket);
    if (own) socket.write = own;
    else delete (socket as Partial<Socket>).write;
  };
  awaiting.set(socket, restore);
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    restore();
    const chunk = args[0];
    if (typeof chunk === 'string' && chunk.startsWith(headers)) watch.onHead(chunk);
    return write.apply(this, args);
  } as Socket['write'];
}

/**
 * `connector` with the request heads written on each HTTP/1.1 connection it makes handed to
 * `onHead`, as written: latin1 text, lines ending in CRLF; only the heads of requests sent while
 * `wants()` is true.
 */
export function wireConnector(
  connector: buildConnector.connector,
  onHead: (head: string) => void,
  wants: () => boolean,
): buildConnector.connector {
  if (!subscribed) {
    diagnostics.subscribe(CHANNEL, onSendHeaders);
    subscribed = true;
  }
  return (options, callback) =>
    connector(options, (...args) => {
      const socket = args[1];
      if (socket && (socket as Partial<TLSSocket>).alpnProtocol !== 'h2')
        watched.set(socket, { onHead, wants });
      callback(...args);
    });
}

/** The lines of a head (`onHead`'s text): the request line, then each header line. */
export function headLines(head: string): string[] {
  return head.split('\r\n').filter((line) => line !== '');
}
