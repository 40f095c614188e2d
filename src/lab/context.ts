/**
 * What the dashboard needs from the running lab, as narrow interfaces: the dashboard never reaches
 * into a server's internals, and tests can hand it fakes.
 */
import type { EventEmitter } from 'node:events';
import type { AccountStore } from '../core/accounts.js';
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

/** The chat server as the dashboard sees it. Emits 'message' (ChatMessageView) and 'rooms'. */
export interface ChatView extends EventEmitter {
  rooms(): Array<{ name: string; members: string[] }>;
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

/** The FTP server as the dashboard sees it. Emits 'session' on any change. */
export interface FtpView extends EventEmitter {
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
