/**
 * The client side of SOCKS5 (RFC 1928, with RFC 1929 username/password) and SOCKS4/4a, as pure
 * state machines: `start()` gives the first bytes to send, `push(chunk)` consumes what the proxy
 * sent and says what to send next or that the tunnel is open (with any bytes past the reply, which
 * belong to the tunnel). Table-tested byte by byte; `proxy.ts` drives them over a socket. Our own
 * because Node has no SOCKS client and the protocol is a few fixed-layout messages.
 *
 * The destination is sent as given: an IPv4/IPv6 literal as an address, a name as a domain name
 * (ATYP 3, which `socks5h://` uses so the proxy resolves it; for `socks5://` the caller resolves
 * first, as curl does). Every SOCKS reply code becomes a one-line `NetkitError`.
 */
import net from 'node:net';
import { NetkitError } from '../core/errors.js';
import { authority, excerpt, type ProxyCredentials } from './proxy-http.js';

/** What the state machine wants next. */
export interface SocksStep {
  /** bytes to send to the proxy now */
  send?: Buffer;
  /** the tunnel is open; these bytes already belong to it */
  done?: { rest: Buffer; bound: string };
  /** what happened, for `--trace` (never a password) */
  notes: string[];
}

export const SOCKS5_REPLIES: Record<number, string> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by the proxy ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused by destination host',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

export const SOCKS4_REPLIES: Record<number, string> = {
  91: 'request rejected or failed',
  92: 'request rejected: the proxy cannot reach our identd',
  93: 'request rejected: identd reports a different user id',
};

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new NetkitError('NETKIT_INVALID_INPUT', `invalid target port ${port}`);
}

function portBytes(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(port);
  return b;
}

function ipv6Bytes(address: string): Buffer {
  // expand "::" and an embedded IPv4 tail, then 8 groups of 16 bits
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

function ipv6Text(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** The SOCKS5 address field (ATYP + address + port) for a host as given. */
export function socks5Address(host: string, port: number): Buffer {
  checkPort(port);
  const family = net.isIP(host);
  if (family === 4) return Buffer.concat([Buffer.from([1, ...host.split('.').map(Number)]), portBytes(port)]);
  if (family === 6) return Buffer.concat([Buffer.from([4]), ipv6Bytes(host), portBytes(port)]);
  const name = Buffer.from(host, 'utf8');
  if (name.length === 0 || name.length > 255)
    throw new NetkitError('NETKIT_INVALID_INPUT', `host name "${host}" is not 1-255 bytes long (SOCKS5)`);
  return Buffer.concat([Buffer.from([3, name.length]), name, portBytes(port)]);
}

/** RFC 1929: VER=1, ULEN, UNAME, PLEN, PASSWD (each 1-255 bytes). */
export function socks5AuthRequest(auth: ProxyCredentials): Buffer {
  const user = Buffer.from(auth.username, 'utf8');
  const pass = Buffer.from(auth.password, 'utf8');
  if (user.length < 1 || user.length > 255 || pass.length < 1 || pass.length > 255)
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      'SOCKS5 user name and password must each be 1-255 bytes (RFC 1929)',
    );
  return Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]);
}

export interface SocksOptions {
  /** how the proxy is named in errors, e.g. `SOCKS5 proxy 127.0.0.1:1080` */
  proxyName: string;
  /** user name and password (SOCKS5: RFC 1929; SOCKS4: the user id) */
  auth?: ProxyCredentials;
}

/** SOCKS5 CONNECT: greeting → (RFC 1929 auth) → request → reply. */
export class Socks5Handshake {
  private state: 'method' | 'auth' | 'reply' | 'done' = 'method';
  private buf: Buffer = Buffer.alloc(0);
  private readonly target: string;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly opts: SocksOptions,
  ) {
    this.target = authority(host, port);
    socks5Address(host, port); // validate early
    if (opts.auth) socks5AuthRequest(opts.auth);
  }

  /** The greeting: version 5 and the methods we offer (no auth, and username/password if we have one). */
  start(): SocksStep {
    const methods = this.opts.auth ? [0x00, 0x02] : [0x00];
    return {
      send: Buffer.from([5, methods.length, ...methods]),
      notes: [`SOCKS5 greeting, methods: ${this.opts.auth ? 'none, username/password' : 'none'}`],
    };
  }

  push(chunk: Buffer): SocksStep {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const notes: string[] = [];
    const send: Buffer[] = [];
    for (;;) {
      if (this.state === 'method') {
        if (this.buf.length < 2) break;
        if (this.buf[0] !== 5) throw this.notSocks();
        const method = this.buf[1]!;
        this.buf = this.buf.subarray(2);
        if (method === 0x00) {
          notes.push('SOCKS5 method: none');
        } else if (method === 0x02 && this.opts.auth) {
          notes.push(`SOCKS5 method: username/password, user ${this.opts.auth.username} (password hidden)`);
          send.push(socks5AuthRequest(this.opts.auth));
          this.state = 'auth';
          continue;
        } else if (method === 0xff) {
          throw new NetkitError(
            'NETKIT_AUTH',
            this.opts.auth
              ? `${this.opts.proxyName} accepts none of our authentication methods (none, username/password)`
              : `${this.opts.proxyName} requires authentication (no acceptable method); put user:pass@ in the proxy URL or use --proxy-auth`,
          );
        } else {
          throw this.protocol(`chose authentication method ${method}, which we did not offer`);
        }
        send.push(this.request());
        notes.push(`SOCKS5 CONNECT ${this.target}`);
        this.state = 'reply';
        continue;
      }
      if (this.state === 'auth') {
        if (this.buf.length < 2) break;
        if (this.buf[0] !== 1) throw this.protocol(`sent a bad RFC 1929 reply: "${excerpt(this.buf)}"`);
        const status = this.buf[1]!;
        this.buf = this.buf.subarray(2);
        if (status !== 0)
          throw new NetkitError(
            'NETKIT_AUTH',
            `${this.opts.proxyName} rejected the user name or password (RFC 1929 status ${status})`,
          );
        notes.push('SOCKS5 authenticated');
        send.push(this.request());
        notes.push(`SOCKS5 CONNECT ${this.target}`);
        this.state = 'reply';
        continue;
      }
      if (this.state === 'reply') {
        if (this.buf.length < 2) break;
        if (this.buf[0] !== 5) throw this.protocol(`sent a bad reply: "${excerpt(this.buf)}"`);
        const rep = this.buf[1]!;
        if (rep !== 0) {
          const why = SOCKS5_REPLIES[rep] ?? 'unknown error';
          throw new NetkitError(
            rep === 2 ? 'NETKIT_AUTH' : 'NETKIT_CONNECT_FAILED',
            `${this.opts.proxyName} could not connect to ${this.target}: ${why} (SOCKS5 reply ${rep})`,
          );
        }
        if (this.buf.length < 5) break;
        const atyp = this.buf[3]!;
        const len = atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? 1 + this.buf[4]! : -1;
        if (len < 0) throw this.protocol(`sent a reply with unknown address type ${atyp}`);
        if (this.buf.length < 4 + len + 2) break;
        const addr = this.buf.subarray(4, 4 + len);
        const port = this.buf.readUInt16BE(4 + len);
        const host =
          atyp === 1
            ? [...addr].join('.')
            : atyp === 4
              ? ipv6Text(addr)
              : addr.subarray(1).toString('latin1');
        const bound = authority(host, port);
        const rest = this.buf.subarray(4 + len + 2);
        this.state = 'done';
        this.buf = Buffer.alloc(0);
        notes.push(`SOCKS5 reply 0: succeeded, bound ${bound}`);
        return { ...(send.length ? { send: Buffer.concat(send) } : {}), done: { rest, bound }, notes };
      }
      throw this.protocol('sent bytes after the handshake ended');
    }
    return { ...(send.length ? { send: Buffer.concat(send) } : {}), notes };
  }

  /** The proxy closed before the tunnel was open. */
  closed(): NetkitError {
    const when =
      this.state === 'method'
        ? 'the greeting'
        : this.state === 'auth'
          ? 'authentication'
          : 'the CONNECT request';
    return this.protocol(`closed the connection during ${when}`);
  }

  private request(): Buffer {
    return Buffer.concat([Buffer.from([5, 1, 0]), socks5Address(this.host, this.port)]);
  }

  private notSocks(): NetkitError {
    return this.protocol(`is not a SOCKS5 proxy: it answered "${excerpt(this.buf)}"`);
  }

  private protocol(what: string): NetkitError {
    return new NetkitError('NETKIT_PROTOCOL', `${this.opts.proxyName} ${what}`);
  }
}

/**
 * SOCKS4 (an IPv4 destination) or SOCKS4a (a name the proxy resolves: address 0.0.0.1 and the name
 * after the user id). One request, one 8-byte reply (VN 0, CD 90 = granted).
 */
export class Socks4Handshake {
  private buf: Buffer = Buffer.alloc(0);
  private finished = false;
  private readonly target: string;
  private readonly requestBytes: Buffer;

  constructor(
    host: string,
    port: number,
    private readonly opts: SocksOptions,
  ) {
    checkPort(port);
    this.target = authority(host, port);
    const userId = Buffer.from(opts.auth?.username ?? '', 'utf8');
    if (userId.includes(0)) throw new NetkitError('NETKIT_INVALID_INPUT', 'SOCKS4 user id contains NUL');
    const family = net.isIP(host);
    if (family === 6)
      throw new NetkitError(
        'NETKIT_INVALID_INPUT',
        `SOCKS4 cannot reach the IPv6 address ${host} (use socks5)`,
      );
    const head = Buffer.concat([Buffer.from([4, 1]), portBytes(port)]);
    if (family === 4) {
      this.requestBytes = Buffer.concat([
        head,
        Buffer.from(host.split('.').map(Number)),
        userId,
        Buffer.from([0]),
      ]);
    } else {
      const name = Buffer.from(host, 'utf8');
      if (name.length === 0 || name.includes(0))
        throw new NetkitError('NETKIT_INVALID_INPUT', `invalid host name "${host}" for SOCKS4a`);
      this.requestBytes = Buffer.concat([
        head,
        Buffer.from([0, 0, 0, 1]),
        userId,
        Buffer.from([0]),
        name,
        Buffer.from([0]),
      ]);
    }
  }

  start(): SocksStep {
    return {
      send: this.requestBytes,
      notes: [`SOCKS4${this.requestBytes.readUInt32BE(4) === 1 ? 'a' : ''} CONNECT ${this.target}`],
    };
  }

  push(chunk: Buffer): SocksStep {
    if (this.finished) throw this.protocol('sent bytes after the handshake ended');
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.buf[0] !== 0 && this.buf[0] !== 4)
      throw this.protocol(`is not a SOCKS4 proxy: it answered "${excerpt(this.buf)}"`);
    if (this.buf.length < 8) return { notes: [] };
    const cd = this.buf[1]!;
    if (cd !== 0x5a) {
      const why = SOCKS4_REPLIES[cd] ?? 'unknown error';
      throw new NetkitError(
        'NETKIT_CONNECT_FAILED',
        `${this.opts.proxyName} could not connect to ${this.target}: ${why} (SOCKS4 reply ${cd})`,
      );
    }
    const bound = authority([...this.buf.subarray(4, 8)].join('.'), this.buf.readUInt16BE(2));
    this.finished = true;
    return { done: { rest: this.buf.subarray(8), bound }, notes: ['SOCKS4 reply 90: request granted'] };
  }

  closed(): NetkitError {
    return this.protocol('closed the connection before answering the CONNECT request');
  }

  private protocol(what: string): NetkitError {
    return new NetkitError('NETKIT_PROTOCOL', `${this.opts.proxyName} ${what}`);
  }
}
