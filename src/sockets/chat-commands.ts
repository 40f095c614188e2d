/**
 * The chat server's input language as a pure parser: one line in, one {@link ChatCommand} out.
 * Kept apart from the server so every case (including every malformed one) is a row in a table
 * test. Lines starting with `/` are commands (`/nick`, `/join`, `/rooms`, `/who`, `/msg`, `/me`,
 * `/quit`, `/help`); `//text` sends a line that starts with a slash; anything else is said to the
 * current room. Nickname and room-name rules live here too, so the server and the headless API
 * validate the same way.
 */
import { sanitizeChatText } from './chat-sanitize.js';

export type ChatCommand =
  | { kind: 'empty' }
  | { kind: 'say'; text: string }
  | { kind: 'me'; text: string }
  | { kind: 'nick'; nick: string }
  | { kind: 'join'; room: string }
  | { kind: 'rooms' }
  | { kind: 'who'; room?: string }
  | { kind: 'msg'; nick: string; text: string }
  | { kind: 'quit'; reason?: string }
  | { kind: 'help' }
  | { kind: 'error'; message: string };

export const MAX_NICK_LENGTH = 16;
export const MAX_ROOM_LENGTH = 24;

const NICK_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;
const ROOM_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** Names a user may not take: they would read like server output. */
const RESERVED_NICKS = new Set(['server', 'netkit', 'system', 'admin', 'root', 'nobody']);

/** Why a nickname is not acceptable, or undefined when it is. */
export function nickProblem(nick: string): string | undefined {
  if (nick.length === 0) return 'a nickname cannot be empty';
  if (nick.length > MAX_NICK_LENGTH) return `a nickname is at most ${MAX_NICK_LENGTH} characters`;
  if (!NICK_RE.test(nick))
    return 'a nickname starts with a letter and uses only letters, digits, "-" and "_"';
  if (RESERVED_NICKS.has(nick.toLowerCase())) return `"${nick}" is reserved`;
  return undefined;
}

/** The canonical (case-folded) form used for uniqueness: `Alice` and `alice` are the same user. */
export function nickKey(nick: string): string {
  return nick.toLowerCase();
}

/** A room name as users may type it (`#Lobby`, `lobby`) → its canonical form, or an error text. */
export function normaliseRoom(name: string): { room: string } | { error: string } {
  const bare = name.startsWith('#') ? name.slice(1) : name;
  if (bare.length === 0) return { error: 'a room name cannot be empty' };
  if (bare.length > MAX_ROOM_LENGTH) return { error: `a room name is at most ${MAX_ROOM_LENGTH} characters` };
  if (!ROOM_RE.test(bare)) return { error: 'a room name uses only letters, digits, "-" and "_"' };
  return { room: bare.toLowerCase() };
}

/** Split off the first whitespace-separated word. */
function firstWord(rest: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/s.exec(rest.trim());
  return m ? [m[1]!, m[2]!] : ['', ''];
}

/** Parse one received line (already decoded; not yet sanitised). */
export function parseChatLine(raw: string): ChatCommand {
  const line = sanitizeChatText(raw);
  if (line === '') return { kind: 'empty' };
  if (!line.startsWith('/')) return { kind: 'say', text: line };
  if (line.startsWith('//')) return { kind: 'say', text: line.slice(1) };
  const [word, rest] = firstWord(line.slice(1));
  const verb = word.toLowerCase();
  switch (verb) {
    case 'nick':
    case 'name': {
      const [nick, extra] = firstWord(rest);
      if (!nick || extra) return { kind: 'error', message: 'usage: /nick NAME' };
      const problem = nickProblem(nick);
      return problem ? { kind: 'error', message: problem } : { kind: 'nick', nick };
    }
    case 'join':
    case 'j': {
      const [name, extra] = firstWord(rest);
      if (!name || extra) return { kind: 'error', message: 'usage: /join ROOM' };
      const r = normaliseRoom(name);
      return 'error' in r ? { kind: 'error', message: r.error } : { kind: 'join', room: r.room };
    }
    case 'rooms':
    case 'list':
      return rest ? { kind: 'error', message: 'usage: /rooms' } : { kind: 'rooms' };
    case 'who':
    case 'names': {
      const [name, extra] = firstWord(rest);
      if (extra) return { kind: 'error', message: 'usage: /who [ROOM]' };
      if (!name) return { kind: 'who' };
      const r = normaliseRoom(name);
      return 'error' in r ? { kind: 'error', message: r.error } : { kind: 'who', room: r.room };
    }
    case 'msg':
    case 'm':
    case 'tell': {
      const [nick, text] = firstWord(rest);
      if (!nick || !text) return { kind: 'error', message: 'usage: /msg NICK TEXT' };
      const problem = nickProblem(nick);
      return problem ? { kind: 'error', message: `no such user "${nick}"` } : { kind: 'msg', nick, text };
    }
    case 'me':
      return rest ? { kind: 'me', text: rest } : { kind: 'error', message: 'usage: /me ACTION' };
    case 'quit':
    case 'exit':
    case 'bye':
      return rest ? { kind: 'quit', reason: rest } : { kind: 'quit' };
    case 'help':
    case '?':
      return { kind: 'help' };
    default:
      return {
        kind: 'error',
        message: `unknown command "/${word}" (type /help; start a line with // to send a leading slash)`,
      };
  }
}

/** The `/help` text, one entry per line. */
export const CHAT_HELP: readonly string[] = [
  'Commands:',
  '  /nick NAME        change your nickname (letters, digits, - and _; up to 16)',
  '  /join ROOM        leave this room and join ROOM (created on first join)',
  '  /rooms            list rooms and how many are in each',
  '  /who [ROOM]       who is in this room (or ROOM)',
  '  /msg NICK TEXT    private message',
  '  /me ACTION        say an action: "* alice waves"',
  '  /quit [REASON]    leave the chat',
  '  /help             this text',
  'Anything else is said to your room. Start a line with // to say something beginning with /.',
];
