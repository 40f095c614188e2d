/**
 * An interactive prompt that other output can interrupt without garbling what the user is typing:
 * to print a line, move to where the prompt starts (it may wrap over several rows), clear to the end
 * of the screen, print, then redraw the prompt with the current input and cursor position. Shared by
 * `chat join` and `multicast chat`.
 */
import readline from 'node:readline';

export interface PromptedTerminal {
  /** print a line above the prompt */
  print(text: string): void;
  setPrompt(prompt: string): void;
  /** remove the prompt and stop reading */
  close(): void;
}

export function createPrompt(
  prompt: string,
  handlers: { line(text: string): void; end(): void },
): PromptedTerminal {
  const out = process.stdout;
  const rl = readline.createInterface({ input: process.stdin, output: out, terminal: true });
  rl.setPrompt(prompt);
  let closed = false;
  const clearPrompt = () => {
    const pos = rl.getCursorPos();
    readline.moveCursor(out, -pos.cols, -pos.rows);
    readline.clearScreenDown(out);
  };
  rl.on('line', (line) => {
    handlers.line(line);
    if (!closed) rl.prompt();
  });
  rl.on('SIGINT', () => rl.close());
  rl.on('close', () => {
    if (closed) return;
    closed = true;
    handlers.end();
  });
  rl.prompt();
  return {
    print(text) {
      if (closed) {
        out.write(`${text}\n`);
        return;
      }
      clearPrompt();
      out.write(`${text}\n`);
      rl.prompt(true);
    },
    setPrompt(p) {
      rl.setPrompt(p);
    },
    close() {
      if (closed) return;
      closed = true;
      clearPrompt();
      rl.close();
    },
  };
}
