/**
 * fsync of a directory, which makes the names created or renamed in it durable.
 *
 * `DirectorySync` is group commit for it: a busy Maildir gets a rename from many sessions at once,
 * and one fsync of the directory covers every rename that completed before it started. So callers
 * that arrive while an fsync is running share the next one, instead of each opening, syncing and
 * closing the directory (three thread-pool round trips and one journal commit per message).
 * While fsyncs follow one another (a busy server) the directory stays open between them, so each
 * costs one round trip instead of three; the descriptor is closed as soon as none is waiting.
 */
import { close, fsync, open as openFd } from 'node:fs';
import { open } from 'node:fs/promises';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function openDir(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    openFd(dir, 'r', (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fsync(fd, (err) => (err ? reject(err) : resolve()));
  });
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    close(fd, (err) => (err ? reject(err) : resolve()));
  });
}

export class DirectorySync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** the directory, open while another fsync is queued behind the running one */
  private fd: number | undefined;

  constructor(readonly dir: string) {}

  /**
   * Resolves once an fsync of the directory that started after this call has completed, so every
   * change the caller made in it before calling is durable. Rejects with that fsync's error.
   */
  sync(): Promise<void> {
    if (!this.running) return this.start();
    // the running fsync may have begun before the caller's rename: wait for the one after it
    this.next ??= this.running.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.next;
  }

  /** Is a descriptor of the directory held open right now? (for tests) */
  get holdsDescriptor(): boolean {
    return this.fd !== undefined;
  }

  private startNext(): Promise<void> {
    this.next = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const run = this.fsyncOnce();
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  /** One fsync; fsyncs never overlap (start() runs only when none is running), so neither do these. */
  private async fsyncOnce(): Promise<void> {
    this.fd ??= await openDir(this.dir);
    const fd = this.fd;
    try {
      await fsyncFd(fd);
    } catch (err) {
      this.fd = undefined;
      await closeFd(fd).catch(() => {});
      throw err;
    }
    if (!this.next) {
      // nobody is waiting for another fsync: do not hold the descriptor
      this.fd = undefined;
      await closeFd(fd);
    }
  }
}
