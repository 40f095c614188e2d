/**
 * What the dashboard needs from the running lab, as narrow interfaces: the dashboard never reaches
 * into a server's internals, and tests can hand it fakes.
 */
import type { AccountStore } from '../core/accounts.js';
import type { TypedEmitter } from '../core/events.js';
import type { ChatRoomInfo } from '../sockets/chat-server.js';
import type { MailIndex } from './mail-index.js';
import type { WireLog } from './wire.js';

export interface ServiceStatus {
  name: string;
  host: string;
  port: number;
  transport: 'tcp' | 'udp';
  tls: boolean;
  connections?: number;
  totals?: Record<string, number>;
  /** a command to try it */
  hint?: string;
}

export interface ChatMessageView {
  ts: number;
  room: string;
  nick: string;
  text: string;
  kind: string;
}

/** What a {@link ChatView} emits, each event with its listener's arguments. */
export interface ChatViewEvents {
  /** a line said in a room, or a join or leave notice (`kind`) */
  message: [message: ChatMessageView];
  /** members came or went: the rooms now */
  rooms: [rooms: ChatRoomInfo[]];
}

/** The chat server as the dashboard sees it. */
export interface ChatView extends TypedEmitter<ChatViewEvents> {
  rooms(): ChatRoomInfo[];
  history(room: string): ChatMessageView[];
  post(room: string, nick: string, text: string): void;
}

export interface FtpSessionView {
  id: number;
  user?: string;
  class?: string;
  ip: string;
  command?: string;
  transfer?: { file: string; direction: string; bytes: number; total?: number };
}

/** What an {@link FtpView} emits, each event with its listener's arguments. */
export interface FtpViewEvents {
  /** a session changed (coalesced: at most about five a second); read them with `sessions()` */
  session: [];
}

/** The FTP server as the dashboard sees it. */
export interface FtpView extends TypedEmitter<FtpViewEvents> {
  sessions(): FtpSessionView[];
  /** the root of the FTP tree on disk */
  root: string;
  /** permission letters per class */
  permissions(): Record<string, string>;
}

export interface LabContext {
  dataDir: string;
  mail: MailIndex;
  wire: WireLog;
  accounts: AccountStore;
  chat?: ChatView;
  ftp?: FtpView;
  status(): ServiceStatus[];
  /** the SMTP transcript that delivered a message, when known */
  transcript?(mailbox: string, id: string): Promise<string | undefined>;
}
