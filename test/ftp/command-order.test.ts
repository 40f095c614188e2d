import { describe, expect, it } from 'vitest';
import { CommandOrder, MAX_HELD_LINES } from '../../src/ftp/command-order.js';

/** A session stand-in: RETR starts a transfer, ABOR ends it; every run line is logged. */
function harness() {
  const log: string[] = [];
  const state = { busy: false };
  const order = new CommandOrder({
    busy: () => state.busy,
    verbOf: (line) => line.split(' ')[0]!.toUpperCase(),
    run: async (line) => {
      log.push(line);
      if (line.startsWith('RETR')) state.busy = true;
      if (line === 'ABOR') state.busy = false;
    },
  });
  return { order, log, state };
}

describe('CommandOrder', () => {
  it('runs a line at once when no transfer runs, and hands back its promise', async () => {
    const { order, log } = harness();
    const p = order.push('PWD');
    expect(p).toBeInstanceOf(Promise);
    await p;
    expect(log).toEqual(['PWD']);
    expect(order.pending).toBe(0);
  });

  it('during a transfer: ABOR and STAT at once, NOOP at once while nothing waits, the rest held', async () => {
    const { order, log, state } = harness();
    state.busy = true;
    await order.push('NOOP');
    await order.push('STAT');
    expect(order.push('PWD')).toBeUndefined();
    expect(order.push('NOOP')).toBeUndefined();
    expect(log).toEqual(['NOOP', 'STAT']);
    await order.push('STAT');
    await order.push('ABOR');
    expect(log).toEqual(['NOOP', 'STAT', 'STAT', 'ABOR']);
    expect(order.pending).toBe(2);
    await order.resume();
    expect(log).toEqual(['NOOP', 'STAT', 'STAT', 'ABOR', 'PWD', 'NOOP']);
  });

  it('lines arriving while held ones run queue behind them', async () => {
    const { order, log, state } = harness();
    state.busy = true;
    order.push('CWD a');
    order.push('CWD b');
    state.busy = false;
    const drained = order.resume();
    expect(order.push('PWD')).toBeUndefined();
    expect(order.push('ABOR')).toBeUndefined();
    await drained;
    expect(log).toEqual(['CWD a', 'CWD b', 'PWD', 'ABOR']);
  });

  it('stops at a held line that starts a transfer; an ABOR held behind it overtakes the rest', async () => {
    const { order, log, state } = harness();
    state.busy = true;
    order.push('CWD a');
    order.push('RETR next');
    state.busy = false;
    const drained = order.resume();
    // sent after the RETR, while no transfer ran: held in order
    for (const line of ['PWD', 'STAT', 'ABOR', 'TYPE I']) expect(order.push(line)).toBeUndefined();
    await drained;
    expect(log).toEqual(['CWD a', 'RETR next', 'STAT', 'ABOR']);
    expect(order.pending).toBe(2);
    await order.resume();
    expect(log).toEqual(['CWD a', 'RETR next', 'STAT', 'ABOR', 'PWD', 'TYPE I']);
  });

  it('drained() waits for the transfer and every held line', async () => {
    const { order, log, state } = harness();
    await order.drained();
    state.busy = true;
    order.push('PWD');
    let settled = false;
    const drained = order.drained().then(() => {
      settled = true;
    });
    await order.push('STAT');
    expect(settled).toBe(false);
    state.busy = false;
    await order.resume();
    await drained;
    expect(log).toEqual(['STAT', 'PWD']);
  });

  it(`stops reading after ${MAX_HELD_LINES} held lines until they run; clear() forgets them`, async () => {
    const { order, log, state } = harness();
    state.busy = true;
    let full: Promise<void> | undefined;
    for (let i = 0; i < MAX_HELD_LINES && !full; i++) full = order.push(`SIZE f${i}`);
    expect(order.pending).toBe(MAX_HELD_LINES);
    expect(full).toBeInstanceOf(Promise);
    state.busy = false;
    await order.resume();
    await full;
    expect(log).toHaveLength(MAX_HELD_LINES);

    state.busy = true;
    for (let i = 0; i < MAX_HELD_LINES; i++) full = order.push('PWD');
    order.clear();
    await full;
    expect(order.pending).toBe(0);
  });
});
