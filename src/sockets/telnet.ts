/**
 * Telnet commands (RFC 854) taken out of a chat client's byte stream. A `telnet` client sends
 * `IAC …` sequences among the text — on Ctrl-C `IAC IP IAC DO TIMING-MARK`, and option requests
 * when it negotiates — which would otherwise reach the room as garbage (`����hello`; `ncat --chat`
 * relays them as `\377\375\001`). UTF-8 text never contains the IAC byte 0xFF; Latin-1 text does
 * (`ÿ`, which the chat reads as such: chat-charset.ts), so from a raw `nc` client an IAC followed
 * by a byte that names no Telnet command (below 0xF0) is text, both bytes kept. A telnet client
 * sends that ÿ as `IAC IAC`.
 *
 * Every option is refused (`DO x` → `WONT x`, `WILL x` → `DONT x`: the chat is plain NVT text),
 * except that `DO TIMING-MARK` is answered `WILL TIMING-MARK` (RFC 860): after Ctrl-C a telnet
 * client discards output until that answer comes, and would look frozen without it. `AYT` (are
 * you there) gets `[Yes]`. Refusals answer requests only, never refusals, so two sides cannot
 * loop. A command split across reads is carried over.
 */

const IAC = 0xff;
const DONT = 0xfe;
const DO = 0xfd;
const WONT = 0xfc;
const WILL = 0xfb;
const SB = 0xfa;
const AYT = 0xf6;
const SE = 0xf0;
/** The lowest command byte after IAC (SE); RFC 854 defines none below it. */
const FIRST_COMMAND = SE;
const TIMING_MARK = 6;

type State = 'data' | 'iac' | 'option' | 'sub' | 'sub-iac';

export class TelnetFilter {
  private state: State = 'data';
  private verb = 0;

  /** `answer` sends bytes back to the client (option refusals, the timing mark, `[Yes]`). */
  constructor(private readonly answer: (bytes: Buffer) => void) {}

  /** The chunk without its Telnet commands (`IAC IAC` stands for one 0xFF byte). */
  push(chunk: Buffer): Buffer {
    if (this.state === 'data' && chunk.indexOf(IAC) === -1) return chunk;
    // one more: an IAC carried over from the last chunk may turn out to be text
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let n = 0;
    for (const b of chunk) {
      switch (this.state) {
        case 'data':
          if (b === IAC) this.state = 'iac';
          else out[n++] = b;
          break;
        case 'iac':
          this.state = 'data';
          if (b === IAC) out[n++] = b;
          else if (b >= WILL && b <= DONT) {
            this.verb = b;
            this.state = 'option';
          } else if (b === SB) this.state = 'sub';
          else if (b === AYT) this.answer(Buffer.from('\r\n[Yes]\r\n'));
          else if (b < FIRST_COMMAND) {
            // no command: a Latin-1 ÿ from a client that does not speak Telnet, and what follows it
            out[n++] = IAC;
            out[n++] = b;
          }
          // other commands (IP, AO, BRK, NOP, GA, EC, EL, DM) carry no text: dropped
          break;
        case 'option':
          this.state = 'data';
          if (this.verb === DO) this.answer(Buffer.from([IAC, b === TIMING_MARK ? WILL : WONT, b]));
          else if (this.verb === WILL) this.answer(Buffer.from([IAC, DONT, b]));
          break;
        case 'sub':
          if (b === IAC) this.state = 'sub-iac';
          break;
        case 'sub-iac':
          this.state = b === SE ? 'data' : 'sub';
          break;
      }
    }
    return out.subarray(0, n);
  }
}
