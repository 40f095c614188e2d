/**
 * fsync of a directory, which makes the names created or renamed in it durable.
 *
 * `DirectorySync` is group commit for it: a busy Maildir gets a rename from many sessions at once,
 * and one fsync of the directory covers every rename that completed before it started. So callers
 * that arrive while an fsync is running share the next one, instead of each opening, syncing and
 * closing the directory (three thread-pool round trips and one journal commit per message).
 */
import { open } from 'node:fs/promises';

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class DirectorySync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

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

  private startNext(): Promise<void> {
    this.next = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const run = fsyncDir(this.dir);
    this.running = run;
    const clear = () => {
      if (this.running === run) this.running = undefined;
    };
    run.then(clear, clear);
    return run;
  }
}
