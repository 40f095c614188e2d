/**
 * A work-around for undici 7's HTTP/1 client: when a response body is read slowly
 * (`--limit-rate`, a slow pipe on stdout), undici pauses its parser under backpressure. If the
 * server then closes the connection — after a `Connection: close` response, or an idle keep-alive
 * one after its timeout, both legal — while the parser is paused on the body's last bytes, undici
 * handles the socket's `end` or `close` before the message is complete: a keep-alive response
 * fails with "other side closed" although every byte arrived, and a `Connection: close` one trips
 * `assert(!this.paused)` in `Parser.finish()`, an uncatchable AssertionError that kills the
 * process (nodejs/undici#5360; undici 8, which needs Node 22, fixed the second case only).
 *
 * Our connector does what undici 8's `finish()` does, for both events: before `end` or `close`
 * reaches undici, a paused parser is resumed and fed what the socket still holds, so the message
 * completes (the body stream takes those last bytes past its high-water mark: backpressure is
 * advisory there, and there is no more to come). This reads undici internals (the socket's
 * `parser` symbol; the parser's `paused`, `ptr`, `llhttp` and `execute`); where they are missing,
 * the events pass unchanged.
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

interface PausedParser {
  paused: boolean;
  ptr: number;
  llhttp: { llhttp_resume(ptr: number): void };
  execute(chunk: Buffer): void;
}

const EMPTY = Buffer.alloc(0);

function pausedParserOf(socket: Socket): PausedParser | undefined {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'parser');
  const p = (key ? (socket as unknown as Record<symbol, unknown>)[key] : undefined) as
    | Partial<PausedParser>
    | undefined;
  return p?.paused === true &&
    typeof p.ptr === 'number' &&
    typeof p.llhttp?.llhttp_resume === 'function' &&
    typeof p.execute === 'function'
    ? (p as PausedParser)
    : undefined;
}

/** Resume `parser` and parse what `socket` still buffers, until it runs dry (undici 8's finish()). */
function drain(parser: PausedParser, socket: Socket): void {
  let data: Buffer;
  do {
    parser.llhttp.llhttp_resume(parser.ptr);
    parser.paused = false;
    data = (socket.read() as Buffer | null) ?? EMPTY;
    parser.execute(data);
  } while (parser.paused && data.length > 0);
  if (parser.paused) {
    parser.llhttp.llhttp_resume(parser.ptr);
    parser.paused = false;
  }
}

/** Let undici see `end` and `close` on `socket` only with its parser not paused. */
export function drainPausedParserAtEof(socket: Socket): void {
  const emit = socket.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
  socket.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'end' || event === 'close') {
      const parser = pausedParserOf(this);
      if (parser) drain(parser, this);
    }
    return emit.call(this, event, ...args);
  } as Socket['emit'];
}

/** `connector` with {@link drainPausedParserAtEof} on every HTTP/1 connection it makes. */
export function pausedEndConnector(connector: buildConnector.connector): buildConnector.connector {
  return (options, callback) =>
    connector(options, (...args) => {
      const socket = args[1];
      if (socket && (socket as { alpnProtocol?: string | false }).alpnProtocol !== 'h2')
        drainPausedParserAtEof(socket);
      callback(...args);
    });
}
