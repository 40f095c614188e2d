/**
 * netkit's library entry: the typed API of every area. The CLI is a thin layer over these.
 */

// ---- core: listeners, framing, TLS, trace events, accounts, errors ----
export {
  type Account,
  type AccountClass,
  AccountStore,
  hashPassword,
  verifyPassword,
} from './core/accounts.js';
export { formatHostPort } from './core/address.js';
export { LineConnection, type LineConnectionOptions } from './core/connection.js';
export { resolveDataDir, writeFileAtomic } from './core/datadir.js';
export { NetkitError, type NetkitErrorCode } from './core/errors.js';
export { type LineItem, LineSplitter } from './core/lines.js';
export { findNetrc, loadNetrc, type Netrc, type NetrcEntry, netrcLogin, parseNetrc } from './core/netrc.js';
export { ConnectionLimits, listenTcp, type TcpServerHandle, type TcpServerOptions } from './core/server.js';
export { isHiddenFormat, isTerminalUnsafe, terminalSafe } from './core/terminal-safe.js';
export { generateDevCertificate, loadTls, type TlsMaterial } from './core/tls.js';
export { formatTrace, redactCommand, redactUrl, type TraceEvent, type TraceKind } from './core/trace.js';
// ---- FTP: our server and the basic-ftp based client ----
export { FtpClient, FtpClientError, type FtpClientOptions } from './ftp/client.js';
export type { ActiveModeOptions } from './ftp/client-active.js';
export { localTree, mirrorDown, mirrorUp, remoteTree, removeTree } from './ftp/client-mirror.js';
export { type FtpUrl, formatFtpUrl, parseFtpUrl } from './ftp/ftp-url.js';
export {
  type MirrorPlan,
  type MirrorPlanOptions,
  planMirror,
  type Tree,
  type TreeEntry,
} from './ftp/mirror.js';
export { displayName, safeLocalPath, unsafeNameReason } from './ftp/safe-name.js';
export { createFtpServer, type FtpServerHandle, type FtpServerOptions } from './ftp/server.js';
// ---- HTTP and URLs ----
export { ACCEPT_ENCODING, contentEncodings, decodeBody } from './http/content-encoding.js';
export {
  formatCookieLine,
  type NetscapeCookie,
  parseCookieFile,
  parseCookieLine,
  serializeCookieFile,
} from './http/cookie-file.js';
export {
  type CookieJar,
  cookieHeaderFor,
  createCookieJar,
  loadCookieJar,
  saveCookieJar,
  storeSetCookies,
} from './http/cookie-jar.js';
export { type Checksum, parseChecksum } from './http/download/checksum.js';
export { chooseFilename, parseContentDisposition, sanitizeFilename } from './http/download/filename.js';
export {
  type DownloadError,
  type DownloadHandle,
  DownloadInterrupted,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  download,
  type KeptPart,
} from './http/download/index.js';
export { missingSpans, pickSteal, planSegments, type Span } from './http/download/planner.js';
export {
  createFileServer,
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
  type FileServerAddress,
  type FileServerHandle,
  type FileServerOptions,
} from './http/file-server.js';
export {
  normaliseProxyUrl,
  type ProxyOptions,
  type ProxyRoute,
  proxyFor,
  proxyRoute,
  redactProxy,
} from './http/proxy.js';
export { parseContentRange, parseRange } from './http/range.js';
export {
  parseContinueAt,
  parseRangeOption,
  type RangeOption,
  type ResumeVerdict,
  resumeRange,
  resumeVerdict,
} from './http/range-request.js';
export { limitRate, parseRate, type RateClock } from './http/rate-limit.js';
export { inOutputDir, remoteName, removeDotSegments } from './http/remote-name.js';
export {
  type ConnectionInfo,
  HttpClient,
  type HttpClientOptions,
  type HttpRequestOptions,
  type HttpResponse,
  type HttpTimings,
  httpRequest,
} from './http/request.js';
export {
  type AttemptOutcome,
  classifyError,
  decideRetry,
  initialRetryState,
  RETRY_SLEEP_DEFAULT_MS,
  RETRY_SLEEP_MAX_MS,
  RETRY_STATUSES,
  type RetryDecision,
  type RetryOptions,
  type RetryState,
} from './http/retry-policy.js';
export {
  ParseResult,
  parseQs,
  parseQsl,
  quote,
  quotePlus,
  SplitResult,
  unquote,
  unquotePlus,
  urldefrag,
  urlencode,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
  urlunsplit,
  usesNetloc,
  usesParams,
  usesRelative,
} from './http/url.js';
export {
  formatWriteOut,
  headerBytes,
  headerJson,
  WRITE_OUT_VARIABLES,
  type WriteOutInfo,
  type WriteOutPiece,
  type WriteOutResult,
  writeOutFormatFromFile,
  writeOutJson,
} from './http/write-out.js';
// ---- the lab ----
export { type LabConfig, resolveLabConfig } from './lab/config.js';
export { type DashboardHandle, startDashboard } from './lab/dashboard.js';
// ---- the whole lab ----
export { type LabHandle, startLab } from './lab/lab.js';
// ---- mail: SMTP server, POP3 server and client, sending, Maildir ----
export { MailIndex } from './lab/mail-index.js';
export { type ComposedMail, composeMail, type MailMessageOptions } from './mail/compose.js';
export { listMailboxes, Maildir, type MaildirEntry } from './mail/maildir.js';
export { type MessageView, parseMessage, safeFilename, saveAttachments } from './mail/message-view.js';
export {
  DEFAULT_RETR_WINDOW,
  DEFAULT_RETR_WINDOW_BYTES,
  Pop3Client,
  type Pop3ConnectOptions,
  Pop3Error,
  type RetrWindow,
} from './mail/pop3-client.js';
export { type FetchOptions, type FetchResult, fetchMessages } from './mail/pop3-client-fetch.js';
export { type Pop3Reply, Pop3ReplyReader, parsePop3Replies } from './mail/pop3-client-reader.js';
export { createPop3Server, type Pop3ServerHandle, type Pop3ServerOptions } from './mail/pop3-server.js';
export { prepareRawMessage, type RawMail, type RawMessageOptions } from './mail/raw-message.js';
export {
  type SendMailOptions,
  type SendMailResult,
  SmtpSender,
  type SmtpSubmitOptions,
  sendMail,
} from './mail/send.js';
export { type SendRawMailOptions, type SendRawMailResult, sendRawMail } from './mail/send-raw.js';
export {
  createSmtpServer,
  type SmtpMessageEvent,
  type SmtpServerHandle,
  type SmtpServerOptions,
} from './mail/smtp-server.js';
// ---- sockets: TCP, UDP, classic services, host/IP/port information ----
export { type AccessDecision, AccessList, parseAccessRule } from './sockets/access.js';
export { ChatClient, type ChatClientOptions } from './sockets/chat-client.js';
export {
  type ChatListenAddress,
  type ChatMessage,
  type ChatServer,
  type ChatServerOptions,
  createChatServer,
} from './sockets/chat-server.js';
export {
  CLASSIC_PORTS,
  CLASSIC_SERVICES,
  type ClassicServiceHandle,
  type ClassicServiceName,
  type ClassicServiceOptions,
  chargenLine,
  daytimeString,
  parseQuotes,
  parseTimeBytes,
  startService,
  startServices,
  timeBytes,
} from './sockets/classic.js';
export { CrlfEncoder, CrlfTransform, lfToCrlf } from './sockets/crlf.js';
export { localHostInfo, lookupHost, reverseLookup } from './sockets/hostinfo.js';
export {
  classify,
  type IpInfo,
  type IpKind,
  ipcalc,
  ipInfoToJson,
  ipv4Class,
  parseAddress,
  parsePrefix,
  reversePointer,
} from './sockets/ipcalc.js';
export { MulticastChat, MulticastSocket } from './sockets/multicast.js';
export {
  describeProxy,
  type ProxySpec,
  type ProxyType,
  parseProxyUrl,
  proxyHandshake,
} from './sockets/proxy.js';
export { HttpConnectReader, httpConnectRequest } from './sockets/proxy-http.js';
export { Socks4Handshake, Socks5Handshake } from './sockets/proxy-socks.js';
export { parsePortList, type ScanOptions, type ScanReport, scanPorts } from './sockets/scan.js';
export {
  loadServices,
  lookupPort,
  parsePortQuery,
  parseServices,
  portRange,
  ServiceDb,
} from './sockets/services.js';
export {
  type RelayOptions,
  type RelayStats,
  relay,
  type TcpConnectionInfo,
  type TcpConnectOptions,
  type TcpDeniedInfo,
  type TcpListener,
  type TcpListenOptions,
  type TcpTlsErrorInfo,
  tcpConnect,
  tcpListen,
} from './sockets/tcp.js';
export {
  type TcpTlsClientOptions,
  type TcpTlsServerOptions,
  type TlsSessionInfo,
  tlsSessionInfo,
} from './sockets/tcp-tls.js';
export { bindUdp, checkPayloadSize, MAX_UDP_PAYLOAD, UdpClient, udpRequest } from './sockets/udp.js';
export { VERSION } from './version.js';
