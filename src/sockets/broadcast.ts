/**
 * One input stream fanned out to many sockets (`tcp listen --keep-open`: stdin goes to every
 * client), with backpressure: reading the input pauses while any client's queue is full and
 * resumes once every one has drained, as `ncat -l -k` does. A file or pipe is read far faster than
 * a network drains, so judging clients by queue size alone drops healthy readers; instead a client
 * is dropped only when it holds the others back and none of its writes has completed for `stallMs`
 * (it really stopped reading).
 */
import type net from 'node:net';
import type { Readable } from 'node:stream';

export interface BroadcastOptions {
  /** drop a client that blocks the input this long without any write completing (ms) */
  stallMs: number;
  /** told once per dropped client, before it is destroyed */
  onDrop?: (socket: net.Socket) => void;
}

export class InputBroadcast {
  /** each client with the time its last write reached the kernel */
  private readonly clients = new Map<net.Socket, { progress: number }>();
  /** clients whose queue is full: the input waits for their 'drain' */
  private readonly waiting = new Set<net.Socket>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly input: Readable,
    private readonly options: BroadcastOptions,
  ) {
    input.on('data', (chunk: Buffer) => this.send(chunk));
  }

  get size(): number {
    return this.clients.size;
  }

  add(socket: net.Socket): void {
    this.clients.set(socket, { progress: Date.now() });
    socket.once('close', () => this.remove(socket));
  }

  private send(chunk: Buffer): void {
    for (const [socket, state] of this.clients) {
      if (socket.destroyed) {
        this.remove(socket);
        continue;
      }
      const ok = socket.write(chunk, () => {
        state.progress = Date.now();
      });
      if (!ok && !this.waiting.has(socket)) {
        // the stall clock starts when the client starts holding the input back
        state.progress = Date.now();
        this.waiting.add(socket);
        socket.once('drain', () => this.release(socket));
      }
    }
    if (this.waiting.size > 0) {
      this.input.pause();
      this.watch();
    }
  }

  private release(socket: net.Socket): void {
    if (!this.waiting.delete(socket) || this.waiting.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.input.resume();
  }

  private remove(socket: net.Socket): void {
    this.clients.delete(socket);
    this.release(socket);
  }

  private watch(): void {
    if (this.timer) return;
    const tick = Math.max(20, Math.min(1000, this.options.stallMs / 4));
    this.timer = setInterval(() => this.checkStalls(), tick);
    this.timer.unref();
  }

  private checkStalls(): void {
    const now = Date.now();
    for (const socket of this.waiting) {
      const state = this.clients.get(socket);
      if (state && now - state.progress < this.options.stallMs) continue;
      // out of the set at once, so the message is printed once and no later chunk goes to it
      this.remove(socket);
      this.options.onDrop?.(socket);
      socket.destroy();
    }
  }
}
