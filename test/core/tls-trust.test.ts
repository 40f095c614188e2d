import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { defaultTrust, trustedCertificates } from '../../src/core/tls-trust.js';
import { tempDir } from '../helpers/net.js';

const KEY = Symbol.for('netkit.deferredExtraCaCerts');
const globals = globalThis as Record<symbol, unknown>;

/** Whether a TLS client with these options accepts the server's certificate. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ ...options, host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.authorized);
      s.destroy();
    });
    s.on('error', () => resolve(false));
  });
}

describe('trust for TLS clients when the launcher deferred NODE_EXTRA_CA_CERTS', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: https.Server;
  let port: number;
  let cert: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('tls-trust-'));
    const pair = await generateDevCertificate();
    cert = pair.cert;
    server = https.createServer(pair, (_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    const file = path.join(dir, 'extra.pem');
    await writeFile(file, cert);
    globals[KEY] = file;
  });

  afterAll(async () => {
    delete globals[KEY];
    await new Promise((resolve) => server.close(resolve));
    await cleanup();
  });

  it('adds nothing when nothing was deferred (Node has the file, or there is none)', () => {
    const file = globals[KEY];
    delete globals[KEY];
    try {
      expect(defaultTrust()).toEqual({});
    } finally {
      globals[KEY] = file;
    }
  });

  it("adds the deferred certificates to Node's roots on the first handshake", async () => {
    expect(await handshake(port, {})).toBe(false);
    const trust = defaultTrust();
    expect(trust.secureContext).toBeDefined();
    expect(await handshake(port, trust)).toBe(true);
    // one shared context, which a spread copies without parsing anything
    expect({ ...defaultTrust() }.secureContext).toBe(trust.secureContext);
  });

  it('keeps them next to a --ca file or the lab certificate', async () => {
    const other = path.join(dir, 'other.pem');
    await writeFile(other, tls.rootCertificates[0]!);
    const ca = await trustedCertificates(undefined, other);
    expect(ca).toContain(cert);
    expect(ca!.length).toBe(tls.rootCertificates.length + 2);
    expect(await handshake(port, { ca })).toBe(true);
  });
});
