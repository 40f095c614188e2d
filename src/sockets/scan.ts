/**
 * A TCP connect scan: for each port, open a connection and close it again. A completed handshake
 * means open, a reset means closed, silence until the timeout means filtered. Connect scanning
 * needs no privileges (unlike SYN scans) and is what the course's port-scanner exercise does;
 * concurrency is bounded so a big range never opens thousands of sockets at once.
 */
import dns from 'node:dns/promises';
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import { NetkitError } from '../core/errors.js';
import { nextConnId, traceEvent } from '../core/trace.js';
import { loadServices, type ServiceDb } from './services.js';

/** The most ports one list may name (the whole port space). */
export const MAX_PORTS = 65536;

/**
 * Parse a port list such as `20-25,80,443` into sorted unique ports. Throws
 * `NETKIT_INVALID_INPUT` for empty items, reversed ranges and numbers outside 0–65535.
 */
export function parsePortList(text: string): number[] {
  const set = new Set<number>();
  const items = text.split(',').map((s) => s.trim());
  for (const item of items) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item);
    if (!m) throw new NetkitError('NETKIT_INVALID_INPUT', `"${item}" is not a port or range (e.g. 20-25,80)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > 65535 || to > 65535) {
      throw new NetkitError('NETKIT_INVALID_INPUT', `"${item}": ports go from 0 to 65535`);
    }
    if (to < from) throw new NetkitError('NETKIT_INVALID_INPUT', `"${item}": range goes backwards`);
    for (let p = from; p <= to; p++) set.add(p);
  }
  return [...set].sort((a, b) => a - b);
}

export type PortState = 'open' | 'closed' | 'filtered';

export interface ScanResult {
  port: number;
  state: PortState;
  /** the service name from the services database, if any */
  service?: string;
  /** connect time in milliseconds (open ports) */
  ms?: number;
}

export interface ScanOptions {
  /** host name or IP address to scan */
  host: string;
  /** ports to try, e.g. from `parsePortList("1-1024")` */
  ports: number[];
  /** parallel connection attempts (default 100) */
  concurrency?: number;
  /** per-port connect timeout in ms (default 1000) */
  timeoutMs?: number;
  /** services database for names (default: the system one) */
  services?: ServiceDb;
  /** called as each port finishes */
  onResult?: (r: ScanResult) => void;
  /** trace events go here */
  tracer?: EventEmitter;
}

export interface ScanReport {
  host: string;
  /** the address actually scanned */
  address: string;
  results: ScanResult[];
  open: ScanResult[];
  ms: number;
}

function probe(address: string, port: number, timeoutMs: number): Promise<{ state: PortState; ms: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (state: PortState) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve({ state, ms: Math.round(performance.now() - start) });
    };
    const timer = setTimeout(() => done('filtered'), timeoutMs);
    socket.once('connect', () => done('open'));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'closed' : 'filtered'),
    );
  });
}

/** Scan `ports` on `host`; results come back sorted by port. */
export async function scanPorts(options: ScanOptions): Promise<ScanReport> {
  const start = performance.now();
  const concurrency = Math.max(1, options.concurrency ?? 100);
  const timeoutMs = options.timeoutMs ?? 1000;
  const db = options.services ?? (await loadServices());
  let address = options.host;
  if (!net.isIP(address)) {
    try {
      address = (await dns.lookup(options.host)).address;
    } catch (err) {
      throw new NetkitError('NETKIT_NOT_FOUND', `cannot resolve ${options.host}`, { cause: err });
    }
  }
  const conn = nextConnId();
  if (options.tracer) {
    traceEvent(options.tracer, 'scan', conn, 'info', `scanning ${options.ports.length} ports on ${address}`);
  }
  const results: ScanResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < options.ports.length) {
      const port = options.ports[next++]!;
      const { state, ms } = await probe(address, port, timeoutMs);
      const r: ScanResult = { port, state };
      if (state === 'open') {
        r.ms = ms;
        const name = db.nameOf(port, 'tcp');
        if (name) r.service = name;
        if (options.tracer) traceEvent(options.tracer, 'scan', conn, 'info', `${port}/tcp open`);
      }
      results.push(r);
      options.onResult?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, options.ports.length) }, worker));
  results.sort((a, b) => a.port - b.port);
  return {
    host: options.host,
    address,
    results,
    open: results.filter((r) => r.state === 'open'),
    ms: Math.round(performance.now() - start),
  };
}
