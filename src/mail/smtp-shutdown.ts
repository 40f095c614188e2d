/**
 * Closing one smtp-server listener the way an operator expects of `close(deadlineMs)`: it stops
 * accepting at once; a session between transactions is told `421` now, a session inside one as
 * soon as that transaction is over (the `250` after its message, or a refusal) instead of sitting
 * idle until the deadline; at the deadline the library tells the rest `421` and ends them. A
 * session whose side has ended is closed without waiting for the client's FIN (smtplib keeps its
 * socket open after a `421` until its next command), and the promise resolves only once the
 * listener and every socket of it are closed: not 5 s later, when the library's own half-close
 * timer would have dropped a client still streaming a message at the deadline.
 */
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { closeOnceEnded } from '../core/server.js';
import type { TunedSMTPServer } from './smtp-tweaks.js';

/** the library's words for it (`421 4.4.2 Server shutting down`), on every path */
const GOODBYE = 'Server shutting down';

export function closeSmtpListener(srv: TunedSMTPServer, deadlineMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    // emitted once the listening socket and every connection of it are closed
    srv.server.once('close', () => resolve());
    srv.options.closeTimeout = deadlineMs;
    // no session starts after this
    const sessions = [...srv.connections];
    // the deadline passed (the library said 421 to the stragglers and ended them), or all is closed
    srv.close(() => {
      for (const conn of sessions) conn._socket?.destroy();
    });
    for (const conn of sessions) {
      if (conn._socket) closeOnceEnded(conn._socket);
      if (conn.session?.envelope?.mailFrom) goodbyeAfterTransaction(conn);
      else conn.send(421, GOODBYE);
    }
  });
}

/**
 * `421` right behind the reply that ends the transaction in progress. While the server closes,
 * every command is answered `421` by the library, so the only way out of a transaction that
 * resets the session is the end of its message (the library resets it just after the reply).
 */
function goodbyeAfterTransaction(conn: SMTPConnection): void {
  // without the hook the library's deadline still says the 421
  if (typeof conn._resetSession !== 'function') return;
  const reset = conn._resetSession.bind(conn);
  conn._resetSession = () => {
    reset();
    conn._resetSession = reset;
    conn.send(421, GOODBYE);
  };
}
