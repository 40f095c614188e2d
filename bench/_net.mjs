// Port helpers for starting peers that cannot listen on port 0 and report it (ncat, nginx, vsftpd,
// smtp-sink, aiosmtpd, Dovecot). Shared by the benchmarks and the test helpers (types in _net.d.mts).
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
 * Wait until a peer that prints nothing when ready accepts on `port`, polling every 10 ms; false
 * when `gaveUp()` says the peer exited, or after `ms`.
 */
export async function waitForPort(port, { ms = 10_000, gaveUp = () => false } = {}) {
  const end = Date.now() + ms;
  while (Date.now() < end && !gaveUp()) {
    if (await canConnect(port)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
