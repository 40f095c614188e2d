/**
 * A certificate made by an independent tool (`openssl req -x509`) for TLS interop tests: a P-256
 * key and a self-signed certificate valid two days for localhost and 127.0.0.1, written to DIR.
 */
import path from 'node:path';
import { expect } from 'vitest';
import { run } from './net.js';

export async function opensslCertificate(
  dir: string,
  subject = '/CN=localhost',
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const made = await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    subject,
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  expect(made.code, made.stderr).toBe(0);
  return { certFile, keyFile };
}
