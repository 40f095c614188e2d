/**
 * netkit's library entry: the typed API of every area. The CLI is a thin layer over these.
 */

export {
  type Account,
  type AccountClass,
  AccountStore,
  hashPassword,
  verifyPassword,
} from './core/accounts.js';
export { LineConnection, type LineConnectionOptions } from './core/connection.js';
export { resolveDataDir, writeFileAtomic } from './core/datadir.js';
export { NetkitError, type NetkitErrorCode } from './core/errors.js';
export { type LineItem, LineSplitter } from './core/lines.js';
export { formatHostPort, listenTcp, type TcpServerHandle, type TcpServerOptions } from './core/server.js';
export { generateDevCertificate, loadTls, type TlsMaterial } from './core/tls.js';
export { formatTrace, redactCommand, redactUrl, type TraceEvent, type TraceKind } from './core/trace.js';
export { VERSION } from './version.js';
