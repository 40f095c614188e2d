/**
 * The request headers a caller gives the HTTP client: checked before anything is sent (so misuse
 * is a one-line usage error, not undici's words from deep inside a request), looked up by name
 * case-insensitively, and redacted for traces.
 */
import { NetkitError } from '../core/errors.js';
import { redactUrl } from '../core/trace.js';

export type HeaderList = Array<[string, string]>;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Headers undici refuses to take from a caller, and why (it frames and manages connections itself). */
const MANAGED: Record<string, string> = {
  'transfer-encoding': 'the body is sent with its Content-Length',
  'keep-alive': 'connections are managed by the client',
  upgrade: 'protocol upgrades are not supported',
  expect: 'Expect: 100-continue is not supported',
};

export function hasHeader(headers: HeaderList, name: string): boolean {
  const n = name.toLowerCase();
  return headers.some(([k]) => k.toLowerCase() === n);
}

export function removeHeaders(headers: HeaderList, ...names: string[]): HeaderList {
  const set = new Set(names.map((n) => n.toLowerCase()));
  return headers.filter(([k]) => !set.has(k.toLowerCase()));
}

const usage = (message: string) => new NetkitError('NETKIT_USAGE', message);

/**
 * Refuse, before sending, what undici would refuse mid-request or send differently from what was
 * meant. `bodyLength` is the request body's size (0 without a body). Messages never show a value:
 * it may be a credential.
 */
export function checkUserHeaders(user: HeaderList, bodyLength: number): void {
  const count = new Map<string, number>();
  for (const [k, v] of user) {
    if (!TOKEN.test(k)) throw usage(`bad header name ${JSON.stringify(k)}`);
    const n = k.toLowerCase();
    if (v === '') continue; // removes a default header
    if (/[^\t\x20-\x7e\x80-\xff]/.test(v)) {
      if (/[^\x00-\xff]/.test(v))
        throw usage(`bad value for header ${k}: characters beyond Latin-1 cannot be sent in a header`);
      throw usage(`bad value for header ${k}: control characters`);
    }
    const why = MANAGED[n];
    if (why) throw usage(`header ${k} cannot be given (${why})`);
    if (n === 'connection' && !v.split(',').every((t) => TOKEN.test(t.trim())))
      throw usage(`bad value for header ${k}: expected a list of tokens such as close`);
    count.set(n, (count.get(n) ?? 0) + 1);
    if ((n === 'host' || n === 'content-length') && count.get(n)! > 1) throw usage(`header ${k} given twice`);
    if (n === 'content-length' && (!/^\d+$/.test(v) || Number(v) !== bodyLength))
      throw usage(`header ${k}: ${JSON.stringify(v)} does not match the body (${bodyLength} bytes)`);
  }
}

// A scheme that a credential follows (`Bearer abc`): the scheme may be shown. A value without one
// is a bare token (`Authorization: sk_live_…`), a secret as a whole.
const AUTH_SCHEME = /^([A-Za-z][A-Za-z0-9-]{0,39})[ \t]+\S/;
const CREDENTIALS = new Set(['authorization', 'proxy-authorization']);
const SECRETS = new Set(['x-api-key', 'x-auth-token']);

/** A cookie pair without its value; a piece without `=` is all value (RFC 6265bis: name ""). */
function redactPair(pair: string): string {
  const i = pair.indexOf('=');
  return i === -1 ? '****' : `${pair.slice(0, i).trim()}=****`;
}

/** Redact secrets from one header for the trace. */
export function redactHeader(name: string, value: string): string {
  const n = name.toLowerCase();
  if (CREDENTIALS.has(n)) {
    const scheme = AUTH_SCHEME.exec(value.trim());
    return scheme ? `${scheme[1]} ****` : '****';
  }
  if (n === 'cookie')
    return value
      .split(';')
      .map((p) => p.trim())
      .filter(Boolean)
      .map(redactPair)
      .join('; ');
  if (n === 'set-cookie') {
    const [first, ...attrs] = value.split(';');
    return [redactPair(first!.trim()), ...attrs.map((a) => a.trim())].join('; ');
  }
  if (SECRETS.has(n)) return '****';
  return value;
}

/** A Location with any password in it hidden (`//user:pw@host/` too). */
export function redactLocation(value: string): string {
  return value.startsWith('//') ? redactUrl(`x:${value}`).slice(2) : redactUrl(value);
}
