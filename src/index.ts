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
export type { AccountsFile } from './core/accounts-file.js';
export { formatHostPort } from './core/address.js';
export {
  LineConnection,
  type LineConnectionEvents,
  type LineConnectionOptions,
  type LineHandler,
} from './core/connection.js';
export { type FileOwner, resolveDataDir, writeFileAtomic } from './core/datadir.js';
export type { FreeSpace } from './core/disk-space.js';
export { NetkitError, type NetkitErrorCode, type TrustFlags } from './core/errors.js';
export type { TypedEmitter } from './core/events.js';
export { type BareCrHook, type LineItem, LineSplitter } from './core/lines.js';
export { findNetrc, loadNetrc, type Netrc, type NetrcEntry, netrcLogin, parseNetrc } from './core/netrc.js';
export {
  ConnectionLimits,
  type ListenAddress,
  listenTcp,
  type TcpServerHandle,
  type TcpServerOptions,
} from './core/server.js';
export {
  isHiddenFormat,
  isTerminalUnsafe,
  type TerminalSafeOptions,
  terminalSafe,
} from './core/terminal-safe.js';
export { generateDevCertificate, loadTls, type TlsFiles, type TlsMaterial } from './core/tls.js';
export type { CaCertificates } from './core/tls-trust.js';
export {
  formatTrace,
  redactCommand,
  redactUrl,
  type TraceEvent,
  type TraceEvents,
  type TraceKind,
} from './core/trace.js';
// ---- FTP: our server and the basic-ftp based client ----
export type { FtpAccountClass } from './ftp/accounts.js';
export {
  FtpClient,
  FtpClientError,
  type FtpClientEvents,
  type FtpClientOptions,
  type FtpEntry,
  type FtpEntryType,
  type FtpGetOptions,
  type FtpProgress,
  type FtpPutOptions,
  type FtpTransferResult,
} from './ftp/client.js';
export type { ActiveModeOptions } from './ftp/client-active.js';
export {
  localTree,
  type MirrorOptions,
  type MirrorResult,
  mirrorDown,
  mirrorUp,
  remoteTree,
  removeTree,
  type TreeWalkOptions,
} from './ftp/client-mirror.js';
export { type FtpUrl, formatFtpUrl, parseFtpUrl } from './ftp/ftp-url.js';
export {
  type MirrorAction,
  type MirrorPlan,
  type MirrorPlanOptions,
  planMirror,
  type Tree,
  type TreeEntry,
  type TreeEntryType,
} from './ftp/mirror.js';
export type { ClassPermissions } from './ftp/permissions.js';
export { displayName, safeLocalPath, unsafeNameReason } from './ftp/safe-name.js';
export {
  createFtpServer,
  type FtpServerEvents,
  type FtpServerHandle,
  type FtpServerOptions,
} from './ftp/server.js';
export type {
  FtpLimits,
  FtpSessionEvent,
  FtpSessionInfo,
  FtpTransferInfo,
  FtpWarning,
} from './ftp/session.js';
// ---- HTTP and URLs ----
export { ACCEPT_ENCODING, contentEncodings, decodeBody } from './http/content-encoding.js';
export {
  type CookieFileContents,
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
  type StoredCookie,
  saveCookieJar,
  storeSetCookies,
} from './http/cookie-jar.js';
export { type Checksum, type ChecksumAlgorithm, parseChecksum } from './http/download/checksum.js';
export {
  type ContentDisposition,
  chooseFilename,
  parseContentDisposition,
  sanitizeFilename,
} from './http/download/filename.js';
export {
  type DownloadError,
  type DownloadEvents,
  type DownloadHandle,
  DownloadInterrupted,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  type DownloadStart,
  download,
  type KeptPart,
} from './http/download/index.js';
export { missingSpans, pickSteal, planSegments, type Segment, type Span } from './http/download/planner.js';
export {
  createFileServer,
  DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
  type FileServerAddress,
  type FileServerHandle,
  type FileServerOptions,
} from './http/file-server.js';
export type { MultipartField } from './http/multipart.js';
export {
  normaliseProxyUrl,
  type ProxyOptions,
  type ProxyRoute,
  proxyFor,
  proxyRoute,
  redactProxy,
} from './http/proxy.js';
export {
  type ByteRange,
  type ContentRange,
  type ParseRangeOptions,
  parseContentRange,
  parseRange,
  type RangeResult,
} from './http/range.js';
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
  type BufferedHttpResponse,
  type ConnectionInfo,
  HttpClient,
  type HttpClientOptions,
  type HttpMethod,
  type HttpRequestOptions,
  type HttpResponse,
  type HttpTimings,
  httpRequest,
  type InterimResponse,
  type RedirectHop,
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
  type RetryReason,
  type RetryState,
} from './http/retry-policy.js';
export {
  type DefragResult,
  type ParseQsOptions,
  ParseResult,
  type PyValue,
  parseQs,
  parseQsl,
  type QuoteVia,
  quote,
  quotePlus,
  SplitResult,
  type UrlencodeOptions,
  type UrlencodeQuery,
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
// ---- the lab: every service together, its dashboard and REST API ----
export type { LabAccount, LabCredentials } from './lab/bootstrap.js';
export { type LabConfig, type LabConfigInput, type LabPortName, resolveLabConfig } from './lab/config.js';
export type {
  ChatMessageView,
  ChatView,
  ChatViewEvents,
  FtpSessionView,
  FtpView,
  FtpViewEvents,
  LabContext,
  ServiceStatus,
} from './lab/context.js';
export { type DashboardHandle, type DashboardOptions, startDashboard } from './lab/dashboard.js';
export { type LabHandle, startLab } from './lab/lab.js';
export {
  type ListOptions,
  type ListResult,
  MailIndex,
  type MailIndexChange,
  type MailIndexEvents,
  type PublicSummary,
} from './lab/mail-index.js';
export type { MessageSummary } from './lab/mail-search.js';
export type {
  ParsedAddress,
  ParsedAddressGroup,
  ParsedAttachment,
  ParsedEmail,
  ParsedMailbox,
} from './lab/parsed-email.js';
export type { LabServiceOptions } from './lab/service-options.js';
export type { WireLog, WireLogEvents } from './lab/wire.js';
// ---- mail: SMTP server, POP3 server and client, sending, Maildir ----
export {
  type ComposedMail,
  composeMail,
  type InlineImage,
  type MailAttachment,
  type MailMessageOptions,
} from './mail/compose.js';
export { listMailboxes, Maildir, type MaildirEntry } from './mail/maildir.js';
export {
  type AttachmentView,
  type MessageView,
  parseMessage,
  type SavedAttachment,
  safeFilename,
  saveAttachments,
} from './mail/message-view.js';
export {
  DEFAULT_RETR_WINDOW,
  DEFAULT_RETR_WINDOW_BYTES,
  type Pop3Capabilities,
  Pop3Client,
  type Pop3ClientEvents,
  type Pop3ConnectOptions,
  Pop3Error,
  type Pop3ListEntry,
  type Pop3Stat,
  type Pop3UidlEntry,
  type RetrWindow,
} from './mail/pop3-client.js';
export {
  type EarlierMessage,
  type FetchedMessage,
  type FetchOptions,
  type FetchResult,
  fetchMessages,
} from './mail/pop3-client-fetch.js';
export {
  type Pop3BodySink,
  type Pop3Reply,
  Pop3ReplyReader,
  type Pop3ReplyReaderOptions,
  parsePop3Replies,
} from './mail/pop3-client-reader.js';
export {
  createPop3Server,
  type Pop3AuthFailedEvent,
  type Pop3DeleEvent,
  type Pop3EndEvent,
  type Pop3LoginEvent,
  type Pop3QuitEvent,
  type Pop3RetrEvent,
  type Pop3ServerEvents,
  type Pop3ServerHandle,
  type Pop3ServerOptions,
} from './mail/pop3-server.js';
export { prepareRawMessage, type RawMail, type RawMessageOptions } from './mail/raw-message.js';
export {
  type SendMailOptions,
  type SendMailResult,
  SmtpSendError,
  SmtpSender,
  type SmtpSubmitOptions,
  sendMail,
} from './mail/send.js';
export { type SendRawMailOptions, type SendRawMailResult, sendRawMail } from './mail/send-raw.js';
export type { BareLineEndingPolicy } from './mail/smtp-data.js';
export {
  createSmtpServer,
  type SmtpMessageEvent,
  type SmtpServerEvents,
  type SmtpServerHandle,
  type SmtpServerOptions,
} from './mail/smtp-server.js';
export type { Utf8Address } from './mail/smtputf8.js';
// ---- sockets: TCP, UDP, classic services, host/IP/port information ----
export { type AccessDecision, AccessList, type AccessRule, parseAccessRule } from './sockets/access.js';
export { ChatClient, type ChatClientEvents, type ChatClientOptions } from './sockets/chat-client.js';
export type { RateLimitOptions } from './sockets/chat-rate.js';
export {
  type ChatJoinEvent,
  type ChatLeaveEvent,
  type ChatListenAddress,
  type ChatMessage,
  type ChatNickEvent,
  type ChatRoomInfo,
  type ChatServer,
  type ChatServerEvents,
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
export {
  type HostAddresses,
  type InterfaceAddress,
  type LocalHostInfo,
  localHostInfo,
  lookupHost,
  type ReverseResult,
  reverseLookup,
} from './sockets/hostinfo.js';
export {
  classify,
  type IpInfo,
  type IpKind,
  type IpVersion,
  type Ipv4Class,
  ipcalc,
  ipInfoToJson,
  ipv4Class,
  parseAddress,
  parsePrefix,
  reversePointer,
  type TeredoParts,
} from './sockets/ipcalc.js';
export {
  MulticastChat,
  type MulticastChatEvents,
  type MulticastChatMessage,
  type MulticastChatOptions,
  type MulticastDatagram,
  type MulticastOptions,
  MulticastSocket,
  type MulticastSocketEvents,
} from './sockets/multicast.js';
export {
  describeProxy,
  type ProxyHandshakeOptions,
  type ProxySpec,
  type ProxyTunnel,
  type ProxyType,
  parseProxyUrl,
  proxyHandshake,
} from './sockets/proxy.js';
export {
  type HttpConnectOptions,
  HttpConnectReader,
  type HttpConnectResponse,
  httpConnectRequest,
  type ProxyCredentials,
} from './sockets/proxy-http.js';
export {
  Socks4Handshake,
  Socks5Handshake,
  type SocksOptions,
  type SocksStep,
} from './sockets/proxy-socks.js';
export {
  type PortState,
  parsePortList,
  type ScanOptions,
  type ScanReport,
  type ScanResult,
  scanPorts,
} from './sockets/scan.js';
export {
  loadServices,
  lookupPort,
  type PortInfo,
  type PortQuery,
  type PortRange,
  type Protocol,
  parsePortQuery,
  parseServices,
  portRange,
  ServiceDb,
  type ServiceEntry,
} from './sockets/services.js';
export {
  type RelayOptions,
  type RelayStats,
  relay,
  type TcpConnectionInfo,
  type TcpConnectOptions,
  type TcpDeniedInfo,
  type TcpListener,
  type TcpListenerEvents,
  type TcpListenOptions,
  type TcpRefusedInfo,
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
export {
  bindUdp,
  checkPayloadSize,
  type Datagram,
  MAX_UDP_PAYLOAD,
  MAX_UDP6_PAYLOAD,
  maxUdpPayload,
  UdpClient,
  type UdpClientEvents,
  type UdpListener,
  type UdpListenerEvents,
  type UdpListenOptions,
  udpRequest,
} from './sockets/udp.js';
export { VERSION } from './version.js';
