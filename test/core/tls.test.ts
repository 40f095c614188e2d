/**
 * `loadTls` with `--cert`/`--key` files: a pair that parses and belongs together is used; anything
 * else is a one-line NETKIT_INVALID_INPUT naming the file, before a server listens with it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresSoon, generateDevCertificate, loadTls } from '../../src/core/tls.js';
import { tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;
let cert: string;
let key: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-tls-files-'));
  const pair = await generateDevCertificate(); // an EC P-256 key
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  await writeFile(cert, pair.cert);
  await writeFile(key, pair.key);
});
afterAll(async () => {
  await cleanup?.();
});

const pem = (type: 'ec' | 'rsa'): string =>
  (type === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 })
  ).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe('loadTls with certificate and key files', () => {
  it('uses a matching pair', async () => {
    const material = await loadTls(dir, { cert, key });
    expect(material.cert).toBe(await readFile(cert, 'utf8'));
    expect(material.key).toBe(await readFile(key, 'utf8'));
  });

  it.each([
    ['another EC key', 'ec'],
    // OpenSSL keeps a key of another type than the certificate's in a slot of its own and says
    // nothing: every handshake would fail later
    ['an RSA key for the EC certificate', 'rsa'],
  ] as const)('refuses %s', async (_name, type) => {
    const other = path.join(dir, `other-${type}.pem`);
    await writeFile(other, pem(type));
    await expect(loadTls(dir, { cert, key: other })).rejects.toMatchObject({
      code: 'NETKIT_INVALID_INPUT',
      message: `--key ${other} is not the private key of the certificate in --cert ${cert}`,
    });
  });

  it('refuses files that are not PEM certificates or keys', async () => {
    const junk = path.join(dir, 'junk.pem');
    await writeFile(junk, 'not pem at all\n');
    await expect(loadTls(dir, { cert: junk, key })).rejects.toMatchObject({
      code: 'NETKIT_INVALID_INPUT',
      message: `--cert ${junk}: not a PEM certificate`,
    });
    // the certificate where the key should be
    await expect(loadTls(dir, { cert, key: cert })).rejects.toMatchObject({
      code: 'NETKIT_INVALID_INPUT',
      message: `--key ${cert}: not a PEM private key`,
    });
  });
});

describe('the generated development certificate', () => {
  it('is reused while valid, and replaced once it is within a week of expiring', async () => {
    const data = path.join(dir, 'dev-data');
    const first = await loadTls(data);
    expect(expiresSoon(first.cert)).toBe(false);
    const certFile = path.join(data, 'tls/dev-cert.pem');
    expect(await readFile(certFile, 'utf8')).toBe(first.cert);
    // a certificate that ends in three days, left by a lab started two years ago
    const { generate } = await import('selfsigned');
    const end = new Date(Date.now() + 3 * 24 * 3600 * 1000);
    const old = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(end.getTime() - 700 * 24 * 3600 * 1000),
      notAfterDate: end,
    } as never);
    expect(expiresSoon(old.cert)).toBe(true);
    await writeFile(certFile, old.cert);
    await writeFile(path.join(data, 'tls/dev-key.pem'), old.private);
    const renewed = await loadTls(`${data}/`); // another cache key: read from disk again
    expect(renewed.cert).not.toBe(old.cert);
    expect(expiresSoon(renewed.cert)).toBe(false);
    expect(await readFile(certFile, 'utf8')).toBe(renewed.cert);
  });
});
