/**
 * The TLS flags of a serve command that can run TLS on its main port (`--tls`) or on an extra port
 * beside a plain one (`--tls-port`): contradictory combinations are usage errors, and the
 * certificate comes from `--cert/--key` or is the development certificate in `--data`.
 */
import { resolveDataDir } from '../core/datadir.js';
import { usageError } from '../core/errors.js';
import { loadTls, type TlsMaterial } from '../core/tls.js';
import { checkReadable } from './util.js';

export interface ServeTlsFlags {
  tls?: boolean;
  tlsPort?: number;
  cert?: string;
  key?: string;
  data?: string;
}

/**
 * The TLS material, or undefined when neither `--tls` nor `--tls-port` is given.
 * @param modes how the usage error names the two modes, e.g. `{ main: 'speak TLS', extra: 'a TLS port beside a plain one' }`
 */
export async function serveTlsMaterial(
  opts: ServeTlsFlags,
  modes: { main: string; extra: string },
): Promise<TlsMaterial | undefined> {
  if (opts.tls && opts.tlsPort !== undefined)
    throw usageError(`--tls makes --port ${modes.main}; --tls-port adds ${modes.extra}: pick one`);
  if (Boolean(opts.cert) !== Boolean(opts.key)) throw usageError('--cert and --key go together');
  const secure = opts.tls === true || opts.tlsPort !== undefined;
  if (opts.cert && !secure) throw usageError('--cert and --key need --tls or --tls-port');
  await checkReadable('--cert', opts.cert);
  await checkReadable('--key', opts.key);
  return secure ? loadTls(resolveDataDir(opts.data), { cert: opts.cert, key: opts.key }) : undefined;
}
