// Port helpers for starting peers that cannot listen on port 0 and report it (ncat, nginx, vsftpd,
// smtp-sink, aiosmtpd, Dovecot). Shared by the benchmarks and the test helpers (types in _net.d.mts).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';

/** A port on `host` that was free a moment ago (the caller binds it; a clash means: try another). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Does something accept connections on 127.0.0.1:port? */
export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * The inodes of the listening TCP sockets on `port` (any address), from /proc/net/tcp and tcp6;
 * undefined where /proc cannot tell (not Linux).
 */
function listeningInodes(port) {
  const inodes = new Set();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  try {
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        // local_address is ADDR:PORT in hex, state 0A is LISTEN, inode is field 9
        if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(f[9]);
      }
    }
  } catch {
    return undefined;
  }
  return inodes;
}

/** Does process `pid` hold a listening socket on `port`? (true where /proc cannot tell) */
export function ownsPort(pid, port) {
  const inodes = listeningInodes(port);
  if (inodes === undefined) return true;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })();
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1])) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/**
 * Wait until a peer that prints nothing when ready accepts on `port`, polling every 10 ms; false
 * when `gaveUp()` says the peer exited, or after `ms`. With `pid`, the listening socket must be
 * that process's own: the port came from freePort(), and until the peer binds it another process
 * (a parallel test's server on port 0) may hold it and accept in its place.
 */
export async function waitForPort(port, { ms = 10_000, gaveUp = () => false, pid } = {}) {
  const end = Date.now() + ms;
  while (Date.now() < end && !gaveUp()) {
    if ((await canConnect(port)) && (pid === undefined || ownsPort(pid, port))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
