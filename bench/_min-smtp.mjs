// The least an SMTP server can do in Node.js, for `npm run bench -- smtp-floor` only (not product
// code, not a real server): answers every command smtp-source sends with a fixed reply, finds the
// end of DATA, and either stores nothing or delivers each message the way `smtp serve` does —
// create in tmp/ with O_SYNC, write, close, rename into new/, one shared fsync of new/ for the
// deliveries waiting (group commit) — before its 250. No library, no parsing, no limits.
// Usage: node _min-smtp.mjs [MAILDIR]; prints {"port":N} once listening on 127.0.0.1.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const maildir = process.argv[2] || '';
let seq = 0;
let dirFd = -1;
if (maildir) {
  for (const d of ['tmp', 'new']) fs.mkdirSync(path.join(maildir, d), { recursive: true });
  dirFd = fs.openSync(path.join(maildir, 'new'), 'r');
}

let waiting = [];
let syncing = false;
function syncNew(done) {
  waiting.push(done);
  if (syncing) return;
  syncing = true;
  const batch = waiting;
  waiting = [];
  fs.fsync(dirFd, () => {
    syncing = false;
    for (const f of batch) f();
    const next = waiting;
    waiting = [];
    for (const f of next) syncNew(f);
  });
}

const { O_WRONLY, O_CREAT, O_EXCL, O_SYNC } = fs.constants;
function deliver(message, done) {
  if (!maildir) return done();
  const name = `${Date.now()}.P${process.pid}Q${++seq}.bench`;
  const tmp = path.join(maildir, 'tmp', name);
  fs.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_SYNC, 0o600, (err, fd) => {
    if (err) throw err;
    fs.write(fd, message, 0, message.length, 0, (err) => {
      if (err) throw err;
      fs.close(fd, () => fs.rename(tmp, path.join(maildir, 'new', name), () => syncNew(done)));
    });
  });
}

const END = Buffer.from('\r\n.\r\n');
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.write('220 floor ESMTP\r\n');
  let data = null; // the DATA chunks, while in DATA
  let text = '';
  socket.on('data', (chunk) => {
    if (data) {
      data.push(chunk);
      const all = data.length === 1 ? chunk : Buffer.concat(data);
      if (all.length >= 5 && all.subarray(all.length - 5).equals(END)) {
        data = null;
        deliver(all, () => socket.write('250 2.0.0 Ok\r\n'));
      } else if (data.length > 1) data = [all];
      return;
    }
    text += chunk.toString('latin1');
    for (let i = text.indexOf('\r\n'); i >= 0 && !data; i = text.indexOf('\r\n')) {
      const verb = text.slice(0, 4).toUpperCase();
      text = text.slice(i + 2);
      if (verb === 'EHLO') socket.write('250-floor\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
      else if (verb === 'DATA') {
        socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        data = text ? [Buffer.from(text, 'latin1')] : [];
        text = '';
      } else if (verb === 'QUIT') socket.end('221 Bye\r\n');
      else socket.write('250 Ok\r\n');
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
