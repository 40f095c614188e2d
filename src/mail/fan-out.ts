/**
 * Split one async stream of chunks into N readers that advance together, so a message for several
 * mailboxes is written to all of their `tmp/` files while it arrives — never held whole in memory,
 * never read back from disk. The readers may drift apart by at most `maxLead` chunks; a reader that
 * stops early (its `for await` loop threw or broke) no longer holds the others back. An error from
 * the source reaches every reader.
 */
export function fanOut<T>(source: AsyncIterable<T>, n: number, maxLead = 16): AsyncIterable<T>[] {
  if (n <= 1) return [source];
  const it = source[Symbol.asyncIterator]();
  const buffered: T[] = [];
  let base = 0; // absolute index of buffered[0]
  const pos = new Array<number>(n).fill(0);
  let done = false;
  let failure: { error: unknown } | undefined;
  let pulling: Promise<void> | undefined;
  let waiters: Array<() => void> = [];

  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const trim = (): void => {
    const min = Math.min(...pos);
    if (min === Number.POSITIVE_INFINITY) {
      base += buffered.length;
      buffered.length = 0;
    } else if (min > base) {
      buffered.splice(0, min - base);
      base = min;
    }
    wake();
  };
  const pull = (): Promise<void> => {
    pulling ??= it.next().then(
      (r) => {
        pulling = undefined;
        if (r.done) done = true;
        else buffered.push(r.value);
        wake();
      },
      (error: unknown) => {
        pulling = undefined;
        failure = { error };
        done = true;
        wake();
      },
    );
    return pulling;
  };

  const reader = (i: number): AsyncIterable<T> => ({
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<T>> {
        for (;;) {
          const at = pos[i]!;
          if (at === Number.POSITIVE_INFINITY) return { done: true, value: undefined };
          if (at < base + buffered.length) {
            const value = buffered[at - base]!;
            pos[i] = at + 1;
            trim();
            return { done: false, value };
          }
          if (failure) throw failure.error;
          if (done) return { done: true, value: undefined };
          if (buffered.length >= maxLead) {
            // the slowest reader is maxLead chunks behind: wait for it
            await new Promise<void>((r) => waiters.push(r));
            continue;
          }
          await pull();
        }
      },
      async return(): Promise<IteratorResult<T>> {
        pos[i] = Number.POSITIVE_INFINITY;
        trim();
        if (pos.every((p) => p === Number.POSITIVE_INFINITY) && !done) {
          done = true;
          await it.return?.();
        }
        return { done: true, value: undefined };
      },
    }),
  });
  return Array.from({ length: n }, (_, i) => reader(i));
}
