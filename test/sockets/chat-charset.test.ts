/** How the chat server reads a line's bytes: UTF-8, else Windows-1252 (sockets/chat-charset.ts). */
import { describe, expect, it } from 'vitest';
import { decodeChatLine } from '../../src/sockets/chat-charset.js';
import { run } from '../helpers/net.js';

describe('decodeChatLine', () => {
  it.each([
    ['ASCII', Buffer.from('hello'), 'hello'],
    ['UTF-8', Buffer.from('café ☕ 😀'), 'café ☕ 😀'],
    ['Latin-1 é and ÿ', Buffer.from('caf\u00e9 \u00ff', 'latin1'), 'café ÿ'],
    ['Windows-1252 € and quotes', Buffer.from([0x80, 0x20, 0x93, 0x78, 0x94]), '€ “x”'],
    // a UTF-8 lead byte without its continuation: the line is not UTF-8, so every byte is one character
    ['a cut UTF-8 sequence', Buffer.from([0x61, 0xc3]), 'aÃ'],
    ['UTF-8 next to a Latin-1 byte', Buffer.from([0xc3, 0xa9, 0x20, 0xe9]), 'Ã© é'],
    ['an overlong encoding is not UTF-8', Buffer.from([0xc0, 0xaf]), 'À¯'],
  ])('%s', (_name, bytes, text) => {
    expect(decodeChatLine(bytes)).toBe(text);
  });

  it('never gives U+FFFD: every byte sequence is text', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(decodeChatLine(all)).not.toContain('\ufffd');
    expect(decodeChatLine(all)).toHaveLength(256);
  });

  it("maps 0x80–0x9F as Python's cp1252 codec does (its five undefined bytes stay U+0080–U+009F)", async () => {
    const py = await run('/usr/bin/python3', [
      '-c',
      `import json
out = []
for b in range(0x80, 0xa0):
    try: out.append(bytes([b]).decode('cp1252'))
    except UnicodeDecodeError: out.append(chr(b))
print(json.dumps(''.join(out)))`,
    ]);
    const high = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i));
    expect(decodeChatLine(high)).toBe(JSON.parse(py.stdout));
  });
});
