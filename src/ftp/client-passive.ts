/**
 * Passive-mode data connections for {@link FtpClient}: EPSV first, then PASV — and a PASV reply
 * that announces another address is answered by connecting to the control connection's address
 * with the announced port, as curl (`CURLOPT_FTP_SKIP_PASV_IP`), lftp (`ftp:ignore-pasv-address`)
 * and ftplib (`trust_server_pasv_ipv4_address=False`) do. That works behind NAT (servers that
 * announce a private or stale address) and still prevents FTP bounce: data never goes to a host
 * the user did not connect to.
 *
 * Why a wrapper: basic-ftp's only hook is `Client.prepareTransfer`, and its two PASV strategies
 * either refuse another address or connect to it. It exports neither its PASV parser nor its
 * data-connection setup (TLS session reuse included), so the strategy here rewrites the address
 * in the PASV reply before basic-ftp's own `enterPassiveModeIPv4` reads it, and reuses the rest.
 */
import type { Client, FTPContext, FTPResponse } from 'basic-ftp';
import { enterPassiveModeIPv4, enterPassiveModeIPv6 } from 'basic-ftp';

type Strategy = (ftp: FTPContext) => Promise<FTPResponse>;

/** The same match basic-ftp makes (`h1,h2,h3,h4,p1,p2`), anchored at the start of a number. */
const PASV_ADDRESS = /(?<![-\d])([-\d]+),([-\d]+),([-\d]+),([-\d]+),([-\d]+,[-\d]+)/;

/** `reply` with its PASV host replaced by `host` (IPv4), and the host it announced. */
export function rewritePasvReply(reply: string, host: string): { message: string; announced?: string } {
  const m = PASV_ADDRESS.exec(reply);
  if (!m) return { message: reply };
  const announced = `${m[1]}.${m[2]}.${m[3]}.${m[4]}`;
  const message = `${reply.slice(0, m.index)}${host.split('.').join(',')},${m[5]}${reply.slice(m.index + m[0].length)}`;
  return { message, announced };
}

/** PASV, always connecting to the control connection's address; `note` hears about a rewrite. */
export function pasvToControlHost(note: (text: string) => void): Strategy {
  return async (ftp) => {
    const control = (ftp.socket.remoteAddress ?? '').replace(/^::ffff:/i, '');
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(control))
      throw new Error(`PASV cannot reach ${control || 'a disconnected server'} (not IPv4) and EPSV failed`);
    const request = ftp.request;
    // for this one call, basic-ftp reads the PASV reply with the control host already in it
    ftp.request = async (command: string) => {
      const res = await request.call(ftp, command);
      if (!/^PASV\b/i.test(command)) return res;
      const { message, announced } = rewritePasvReply(res.message, control);
      if (announced !== undefined && announced !== control)
        note(
          `PASV announced ${announced}; connecting to the control connection's address ${control} instead`,
        );
      return { ...res, message };
    };
    try {
      return await enterPassiveModeIPv4(ftp);
    } finally {
      Reflect.deleteProperty(ftp, 'request'); // back to the prototype's method
    }
  };
}

/**
 * Install the strategy on `client`: EPSV, else PASV to the control host; the first that works is
 * kept for the session (as basic-ftp does), and when none works the error says so plainly.
 */
export function usePassiveMode(client: Client, note: (text: string) => void): void {
  const candidates: Strategy[] = [enterPassiveModeIPv6, pasvToControlHost(note)];
  client.prepareTransfer = async (ftp) => {
    let last: unknown;
    for (const strategy of candidates) {
      try {
        const res = await strategy(ftp);
        client.prepareTransfer = strategy;
        return res;
      } catch (err) {
        last = err; // a server may answer EPSV wrongly: try PASV no matter what
        if (ftp.closed) break;
      }
    }
    const why = last instanceof Error ? last.message : String(last);
    throw new Error(
      `no passive data connection (EPSV and PASV failed: ${why}); active mode (--active) may work`,
    );
  };
}
