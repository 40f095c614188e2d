/**
 * The shared words for failures every client meets: a certificate that does not verify, and a
 * connection that cannot be made. One failure reads the same from every client — only the flags
 * named as the way out differ, and only where the command's flags do (`--cacert` for HTTP).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateError, connectFailure, NETKIT_TRUST_FLAGS } from '../../src/core/errors.js';
import { generateDevCertificate } from '../../src/core/tls.js';
import { FtpClient } from '../../src/ftp/client.js';
import { download } from '../../src/http/download/index.js';
import { httpRequest } from '../../src/http/request.js';
import { Pop3Client } from '../../src/mail/pop3-client.js';
import { mapSmtpError, sendMail } from '../../src/mail/send.js';
import { ChatClient } from '../../src/sockets/chat-client.js';
import { tcpConnect } from '../../src/sockets/tcp.js';
import { freePort } from '../sockets/peers.js';

const sys = (code: string, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${code} (node's words)`), { code, ...extra });

describe('certificateError', () => {
  it('an untrusted certificate: the reason in words, then the flags that help', () => {
    const self = sys('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(certificateError(self, 'h:1', NETKIT_TRUST_FLAGS)?.message).toBe(
      'TLS certificate of h:1 not trusted (self-signed certificate); trust it with --ca FILE, or skip verification with --insecure',
    );
    expect(certificateError(self, 'h:1', { ca: '--cacert FILE', insecure: '-k' })?.message).toBe(
      'TLS certificate of h:1 not trusted (self-signed certificate); trust it with --cacert FILE, or skip verification with -k',
    );
    // only the flags the command has
    expect(certificateError(self, 'h:1', { insecure: '--insecure' })?.message).toBe(
      'TLS certificate of h:1 not trusted (self-signed certificate); skip verification with --insecure',
    );
    expect(certificateError(self, 'h:1', {})?.message).toBe(
      'TLS certificate of h:1 not trusted (self-signed certificate)',
    );
    // another CA cannot make an expired or revoked certificate good
    expect(certificateError(sys('CERT_HAS_EXPIRED'), 'h:1', NETKIT_TRUST_FLAGS)?.message).toBe(
      'TLS certificate of h:1 not trusted (certificate has expired); skip verification with --insecure',
    );
    // a verification code without words of ours: Node's
    expect(certificateError(sys('CERT_CHAIN_TOO_LONG'), 'h:1', {})?.message).toBe(
      "TLS certificate of h:1 not trusted (CERT_CHAIN_TOO_LONG (node's words))",
    );
    expect(certificateError(self, 'h:1', {})?.code).toBe('NETKIT_CONNECT_FAILED');
  });

  it('finds the code where nodemailer (originalCode) and wrappers (cause) keep it', () => {
    const nodemailer = Object.assign(new Error('self-signed certificate'), {
      code: 'ESOCKET',
      originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    expect(certificateError(nodemailer, 'h:1', {})?.message).toMatch(
      /not trusted \(self-signed certificate\)$/,
    );
    const wrapped = new Error('fetch failed', { cause: sys('UNABLE_TO_VERIFY_LEAF_SIGNATURE') });
    expect(certificateError(wrapped, 'h:1', {})?.message).toMatch(
      /not trusted \(unable to verify the first certificate \(issuer unknown\)\)$/,
    );
  });

  it('a certificate for another name: no --ca hint, --servername where the command has it', () => {
    const err = sys('ERR_TLS_CERT_ALTNAME_INVALID', {
      reason: "Host: b. is not in the cert's altnames: DNS:a",
    });
    expect(certificateError(err, 'b:1', NETKIT_TRUST_FLAGS)?.message).toBe(
      "TLS certificate of b:1 is for another name (Host: b. is not in the cert's altnames: DNS:a); connect with a name it carries, or skip verification with --insecure",
    );
    expect(
      certificateError(err, 'b:1', { ...NETKIT_TRUST_FLAGS, servername: '--servername NAME' })?.message,
    ).toBe(
      "TLS certificate of b:1 is for another name (Host: b. is not in the cert's altnames: DNS:a); give the name it carries with --servername NAME, or skip verification with --insecure",
    );
  });

  it('anything else is not a certificate error', () => {
    for (const err of [
      sys('ECONNRESET'),
      sys('ERR_SSL_WRONG_VERSION_NUMBER'),
      sys('ERR_TLS_HANDSHAKE_TIMEOUT'),
      new Error('certificate'),
      'self-signed certificate',
      undefined,
    ])
      expect(certificateError(err, 'h:1', NETKIT_TRUST_FLAGS)).toBeUndefined();
  });
});

describe('connectFailure', () => {
  it("Node's codes in words, wherever the code is kept", () => {
    const refused = sys('ECONNREFUSED', { syscall: 'connect', address: '127.0.0.1', port: 1 });
    expect(connectFailure(refused, '127.0.0.1:1')?.message).toBe('connection refused by 127.0.0.1:1');
    expect(connectFailure(refused, '127.0.0.1:1')?.code).toBe('NETKIT_CONNECT_FAILED');
    const nodemailer = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ESOCKET',
      originalCode: 'ECONNREFUSED',
    });
    expect(connectFailure(nodemailer, '127.0.0.1:1')?.message).toBe('connection refused by 127.0.0.1:1');
    const unknown = sys('ENOTFOUND', { syscall: 'getaddrinfo', hostname: 'nosuch.invalid' });
    expect(connectFailure(unknown, 'nosuch.invalid:25')?.message).toBe(
      'cannot resolve host "nosuch.invalid"',
    );
    expect(connectFailure(unknown, 'x:25', 'given.example')?.message).toBe(
      'cannot resolve host "given.example"',
    );
    expect(connectFailure(sys('EHOSTUNREACH'), 'h:1')?.message).toBe('h:1 is unreachable');
    expect(connectFailure(sys('ETIMEDOUT', { syscall: 'connect' }), 'h:1')?.message).toBe(
      'connect to h:1 timed out',
    );
    // a library's own ETIMEDOUT (nodemailer: no greeting) is not a connect that timed out
    expect(connectFailure(sys('ETIMEDOUT'), 'h:1')).toBeUndefined();
    expect(connectFailure(sys('EPIPE'), 'h:1')).toBeUndefined();
  });

  it('mail send says it as the other clients do', () => {
    const nodemailer = Object.assign(new Error('getaddrinfo ENOTFOUND nosuch.invalid'), {
      code: 'EDNS',
      originalCode: 'ENOTFOUND',
      syscall: 'getaddrinfo',
      hostname: 'nosuch.invalid',
    });
    expect(mapSmtpError(nodemailer, 'nosuch.invalid:25').message).toBe(
      'cannot resolve host "nosuch.invalid"',
    );
    const reset = Object.assign(new Error('read ECONNRESET'), {
      code: 'ESOCKET',
      originalCode: 'ECONNRESET',
    });
    expect(mapSmtpError(reset, '127.0.0.1:25').message).toBe(
      'connection to 127.0.0.1:25 closed unexpectedly',
    );
  });
});

describe('every client, one wording', () => {
  let server: tls.Server;
  let port: number;
  let peer: string;

  beforeAll(async () => {
    // a certificate nobody trusts (no --data, no --ca): the handshake fails whatever the protocol
    const { cert, key } = await generateDevCertificate();
    server = tls.createServer({ cert, key }, (s) => s.on('error', () => {}));
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    peer = `127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const failure = (p: Promise<unknown>): Promise<Error> =>
    p.then(
      (ok) => {
        (ok as { destroy?: () => void; close?: () => void })?.destroy?.();
        throw new Error('connected');
      },
      (err: Error) => err,
    );

  it('an untrusted certificate', async () => {
    const ours = `TLS certificate of ${peer} not trusted (self-signed certificate); trust it with --ca FILE, or skip verification with --insecure`;
    const curls = ours.replace('--ca FILE', '--cacert FILE');
    const host = '127.0.0.1';
    const results = {
      tcp: (await failure(tcpConnect({ host, port, tls: {} }))).message,
      chat: (await failure(ChatClient.connect({ host, port, tls: true }))).message,
      pop3: (await failure(Pop3Client.connect({ host, port, tls: true }))).message,
      mail: (await failure(sendMail({ host, port, secure: true, to: 'bob@lab', text: 'x' }))).message,
      ftp: (await failure(FtpClient.connect({ host, port, tls: 'implicit' }))).message,
      http: (await failure(httpRequest({ url: `https://${peer}/` }))).message,
      download: (await failure(download(`https://${peer}/f`, { retries: 0 }).promise)).message,
      downloadFtps: (await failure(download(`ftps://${peer}/f`, { retries: 0 }).promise)).message,
    };
    expect(results).toEqual({
      tcp: ours,
      chat: ours,
      pop3: ours,
      mail: ours,
      ftp: ours,
      http: curls,
      download: curls,
      downloadFtps: curls,
    });
  });

  it('a connection refused', async () => {
    const closed = await freePort();
    const host = '127.0.0.1';
    const words = `connection refused by 127.0.0.1:${closed}`;
    const results = {
      tcp: (await failure(tcpConnect({ host, port: closed }))).message,
      chat: (await failure(ChatClient.connect({ host, port: closed }))).message,
      pop3: (await failure(Pop3Client.connect({ host, port: closed }))).message,
      mail: (await failure(sendMail({ host, port: closed, to: 'bob@lab', text: 'x' }))).message,
      http: (await failure(httpRequest({ url: `http://127.0.0.1:${closed}/` }))).message,
    };
    expect(results).toEqual({ tcp: words, chat: words, pop3: words, mail: words, http: words });
  });
});
