// netkit lab dashboard. Plain DOM, no framework, no CDN: everything is served by the lab itself.
// Untrusted text (mail, chat, file names) only ever goes into textContent, never innerHTML.
const api = (p, opts) =>
  fetch(`/api/v1${p}`, opts).then(async (r) => {
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
    const type = r.headers.get('content-type') || '';
    return type.includes('json') ? r.json() : r.text();
  });
const send = (method, p, body) =>
  api(p, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
};
const fmtSize = (n) =>
  n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
const fmtDate = (t) => {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
};
/**
 * A list's date as a mail client shows it: the time for today's mail, the day for this year's, a
 * short date before. The full date and time ("11/25/2026, 8:44:04 AM") was cut on a phone.
 */
const fmtListDate = (t) => {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString())
    return d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  if (d.getFullYear() === now.getFullYear())
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  return d.toLocaleDateString([], { year: '2-digit', month: 'numeric', day: 'numeric' });
};
/**
 * Props for a row or list item that opens something: reachable with Tab and opened with Enter or
 * Space as with a click (a keyboard user could reach no message, mailbox, room or folder before).
 */
const opens = (fn) => ({
  tabindex: 0,
  onclick: fn,
  onkeydown: (e) => {
    if (e.target !== e.currentTarget || (e.key !== 'Enter' && e.key !== ' ')) return;
    e.preventDefault();
    fn();
  },
});
/**
 * Replace a live list's items without taking the keyboard focus away: the item that had it (found
 * again by `attr`, e.g. data-id) gets it back, or the first item when it is gone. New mail, a room
 * changing or a transfer redraws these lists at any moment, and focus fell back to the page.
 */
function replaceItems(parent, items, attr) {
  const focused = parent.contains(document.activeElement) ? document.activeElement : null;
  const key = focused?.getAttribute(attr);
  parent.replaceChildren(...items);
  if (focused) (items.find((i) => i.getAttribute(attr) === key) ?? items[0])?.focus();
}
const addr = (a) => (!a ? '' : a.name ? `${a.name} <${a.address}>` : a.address || '');
/**
 * `fn` at most once per animation frame however often it is asked: a busy chat room or an FTP
 * transfer sends events by the hundred a second, and the page redraws once per frame for all of
 * them (a hidden tab draws nothing until it is shown again).
 */
const perFrame = (fn) => {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
};
/** An async `fn` with at most one call running and one queued, whatever the number of asks. */
const singleFlight = (fn) => {
  let running = null;
  let again = false;
  const run = () => {
    if (running) {
      again = true;
      return running;
    }
    running = Promise.resolve()
      .then(fn)
      .catch(showError)
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
    return running;
  };
  return run;
};

const state = {
  view: 'mail',
  mailbox: '',
  query: '',
  page: 1,
  pageSize: 50,
  total: 0,
  pages: 1,
  open: null,
  part: 'html',
  remote: false,
  room: 'lobby',
  wire: [],
};

// ---------- views ----------
function showView(name) {
  state.view = name;
  for (const b of document.querySelectorAll('#tabs button'))
    b.classList.toggle('active', b.dataset.view === name);
  for (const v of document.querySelectorAll('.view')) v.classList.toggle('active', v.id === `view-${name}`);
  location.hash = name;
  if (name === 'ftp') loadFtp();
  if (name === 'chat') loadChat();
  if (name === 'wire') loadWire();
  if (name === 'status') loadStatus();
}
for (const b of document.querySelectorAll('#tabs button'))
  b.addEventListener('click', () => showView(b.dataset.view));

// ---------- mail ----------
async function loadMailboxes() {
  const boxes = await api('/mailboxes');
  replaceItems(
    $('#mailboxes'),
    [
      el(
        'li',
        { class: state.mailbox === '' ? 'active' : '', ...opens(() => selectMailbox('')) },
        el('span', { text: 'All' }),
      ),
      ...boxes.map((b) =>
        el(
          'li',
          {
            class: state.mailbox === b.name ? 'active' : '',
            'data-mailbox': b.name,
            ...opens(() => selectMailbox(b.name)),
          },
          el('span', { text: b.name }),
          el('span', { class: 'count', text: b.unread ? `${b.unread}/${b.total}` : String(b.total) }),
        ),
      ),
    ],
    'data-mailbox',
  );
  const unread = boxes.reduce((n, b) => n + b.unread, 0);
  const badge = $('#unread-badge');
  badge.hidden = unread === 0;
  badge.textContent = String(unread);
}
function selectMailbox(name) {
  state.mailbox = name;
  state.page = 1;
  closeMessage();
  refreshMail();
}

async function loadMessages() {
  const q = new URLSearchParams({ page: String(state.page), pageSize: String(state.pageSize) });
  if (state.mailbox) q.set('mailbox', state.mailbox);
  if (state.query) q.set('q', state.query);
  const res = await api(`/messages?${q}`);
  state.total = res.total;
  const pages = Math.max(1, Math.ceil(res.total / state.pageSize));
  // deletions (here, by POP3 or by the size cap) can leave us past the last page: step back
  if (state.page > pages) {
    state.page = pages;
    return loadMessages();
  }
  const rows = res.messages.map((m) =>
    el(
      'tr',
      {
        class: m.read ? '' : 'unread',
        'data-id': m.id,
        'data-mailbox': m.mailbox,
        ...opens(() => openMessage(m.mailbox, m.id)),
      },
      el('td', { text: m.from, title: m.from }),
      el('td', { text: m.to.join(', '), title: m.to.join(', ') }),
      el('td', {
        class: m.attachments ? 'clip subject' : 'subject',
        text: m.subject || '(no subject)',
        title: m.snippet,
      }),
      el('td', { text: fmtListDate(m.date), title: fmtDate(m.date) }),
      el('td', { text: fmtSize(m.size) }),
    ),
  );
  if (!rows.length)
    rows.push(el('tr', { class: 'empty' }, el('td', { colspan: 5, text: await emptyText() })));
  replaceItems($('#messages tbody'), rows, 'data-id');
  $('#page-info').textContent =
    `${res.total.toLocaleString()} message${res.total === 1 ? '' : 's'} · page ${state.page.toLocaleString()} of ${pages.toLocaleString()}`;
  state.pages = pages;
  const focused = document.activeElement;
  for (const [id, end] of [
    ['#first', 1],
    ['#prev', 1],
    ['#next', pages],
    ['#last', pages],
  ])
    $(id).disabled = state.page === end;
  // a disabled button loses the focus to the page: hand it to the way back from this end
  const back = $(state.page === 1 ? '#next' : '#prev');
  if (focused?.disabled) (back.disabled ? $('#search') : back).focus();
}
/** What an empty list says: why it is empty and, for a fresh lab, where to send mail. */
async function emptyText() {
  if (state.query) return `No messages match “${state.query}”.`;
  const where = state.mailbox ? `No messages in ${state.mailbox}.` : 'No mail yet.';
  const status = await api('/status').catch(() => ({ services: [] }));
  const smtp = status.services.find((s) => s.name === 'smtp');
  return smtp
    ? `${where} Point your application's SMTP at ${smtp.host.includes(':') ? `[${smtp.host}]` : smtp.host}:${smtp.port}, or try: ${smtp.hint}`
    : where;
}

// A burst of deliveries sends one 'mail' event per message: keep at most one refresh running and
// one queued, so a test suite sending 1,000 mails costs a handful of list queries, not 2,000.
const refreshMail = singleFlight(() => Promise.all([loadMailboxes(), loadMessages()]));
for (const [id, page] of [
  ['#first', () => 1],
  ['#prev', () => state.page - 1],
  ['#next', () => state.page + 1],
  ['#last', () => state.pages],
])
  $(id).addEventListener('click', () => {
    state.page = Math.min(Math.max(1, page()), state.pages);
    loadMessages().catch(showError);
  });
$('#search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.query = $('#search').value.trim();
  state.page = 1;
  loadMessages().catch(showError);
});
// the search box's clear button (×) empties it without submitting: show every message again
$('#search').addEventListener('input', () => {
  if (!$('#search').value && state.query) $('#search-form').requestSubmit();
});
$('#delete-all').addEventListener('click', async () => {
  if (!confirm(state.mailbox ? `Delete every message in ${state.mailbox}?` : 'Delete every message?')) return;
  await send('DELETE', `/messages${state.mailbox ? `?mailbox=${encodeURIComponent(state.mailbox)}` : ''}`);
  closeMessage();
  refreshMail();
});

async function openMessage(mailbox, id) {
  const m = await api(`/messages/${mailbox}/${encodeURIComponent(id)}`);
  state.open = m;
  state.remote = false;
  $('#messages').hidden = true;
  document.querySelector('.pager').hidden = true;
  $('#message').hidden = false;
  $('#m-subject').textContent = m.subject || '(no subject)';
  const meta = $('#m-meta');
  meta.replaceChildren();
  const row = (k, v) => {
    if (v) meta.append(el('dt', { text: k }), el('dd', { text: v }));
  };
  row('From', addr(m.from));
  row('To', m.to.map(addr).join(', '));
  row('Cc', m.cc.map(addr).join(', '));
  // delivered for an address the headers do not name: a Bcc recipient, as Mailpit shows it
  const named = [...m.to, ...m.cc].flatMap((a) => a.group ?? [a]).map((a) => (a.address || '').toLowerCase());
  if (m.deliveredTo && !named.includes(m.deliveredTo.toLowerCase())) row('Bcc', m.deliveredTo);
  row('Date', m.date ? fmtDate(m.date) : '');
  row('Mailbox', m.mailbox);
  row('Size', m.size ? fmtSize(m.size) : '');
  const list = $('#m-attachments');
  const files = m.attachments;
  list.replaceChildren(
    ...(files.length
      ? files.map((a) =>
          el(
            'li',
            {},
            el('a', {
              href: `/api/v1/messages/${mailbox}/${encodeURIComponent(id)}/parts/${a.index}`,
              download: a.filename,
              text: a.filename,
            }),
            el('span', {
              class: 'muted',
              text: ` ${a.mimeType}, ${fmtSize(a.size)}${a.inline ? ', inline' : ''}`,
            }),
          ),
        )
      : [el('li', { class: 'muted', text: 'none' })]),
  );
  showPart(m.hasHtml ? 'html' : 'text');
  // into the message: the row that opened it is hidden now, and focus would fall to the page
  $('#m-subject').focus();
  if (!m.read)
    send('POST', `/messages/${mailbox}/${encodeURIComponent(id)}/read`)
      .then(refreshMail)
      .catch(() => {});
}
function closeMessage() {
  state.open = null;
  $('#message').hidden = true;
  $('#messages').hidden = false;
  document.querySelector('.pager').hidden = false;
}
/** Back in the list, focus goes to the row of `id`, else the one now at `index`, else the search. */
function focusList(id, index) {
  const rows = [...document.querySelectorAll('#messages tbody tr[data-id]')];
  (rows.find((r) => r.dataset.id === id) ?? rows[Math.min(index, rows.length - 1)] ?? $('#search')).focus();
}
const rowIndex = (id) =>
  [...document.querySelectorAll('#messages tbody tr[data-id]')].findIndex((r) => r.dataset.id === id);
$('#back').addEventListener('click', () => {
  const id = state.open?.id;
  closeMessage();
  focusList(id, rowIndex(id));
});
$('#message').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') $('#back').click();
});
$('#delete-one').addEventListener('click', async () => {
  const m = state.open;
  if (!m) return;
  const index = Math.max(0, rowIndex(m.id));
  await send('DELETE', `/messages/${m.mailbox}/${encodeURIComponent(m.id)}`);
  closeMessage();
  await refreshMail();
  focusList(undefined, index);
});
for (const b of document.querySelectorAll('#m-tabs button'))
  b.addEventListener('click', () => showPart(b.dataset.part));
$('#allow-remote').addEventListener('click', () => {
  state.remote = true;
  showPart('html');
});

async function showPart(part) {
  const m = state.open;
  if (!m) return;
  state.part = part;
  for (const b of document.querySelectorAll('#m-tabs button'))
    b.classList.toggle('active', b.dataset.part === part);
  const body = $('#m-body');
  const rel = `/messages/${m.mailbox}/${encodeURIComponent(m.id)}`;
  const base = `/api/v1${rel}`;
  $('#m-remote').hidden = !(part === 'html' && m.hasHtml && !state.remote);
  if (part === 'html') {
    if (!m.hasHtml) {
      body.replaceChildren(el('p', { class: 'muted', text: 'This message has no HTML part.' }));
      return;
    }
    // No allow-scripts, no allow-same-origin, no allow-forms: the message can neither run code nor reach the API.
    body.replaceChildren(
      el('iframe', {
        id: 'm-html',
        title: 'HTML part',
        sandbox: 'allow-popups allow-popups-to-escape-sandbox',
        referrerpolicy: 'no-referrer',
        src: `${base}/html${state.remote ? '?remote=1' : ''}`,
      }),
    );
  } else if (part === 'text') {
    body.replaceChildren(el('pre', { text: m.text || '(no text part)' }));
  } else if (part === 'headers') {
    body.replaceChildren(el('pre', { text: m.headers.map((h) => `${h.key}: ${h.value}`).join('\n') }));
  } else if (part === 'raw') {
    body.replaceChildren(el('pre', { text: await api(`${rel}/raw`) }));
  } else if (part === 'smtp') {
    const t = await api(`${rel}/transcript`).catch(() => 'No SMTP transcript was recorded for this message.');
    body.replaceChildren(el('pre', { text: t }));
  }
}

// ---------- ftp ----------
let ftpPath = '';
async function loadFtp() {
  const [accounts, sessions] = await Promise.all([api('/accounts'), api('/ftp/sessions').catch(() => [])]);
  $('#ftp-accounts tbody').replaceChildren(
    ...accounts.map((a) =>
      el(
        'tr',
        {},
        el('td', { text: a.name }),
        el('td', { text: a.class }),
        el('td', { text: a.permissions }),
        el('td', { text: a.expires ? fmtDate(a.expires) : '' }),
      ),
    ),
  );
  renderSessions(sessions);
  loadTree(ftpPath);
}
function renderSessions(sessions) {
  $('#ftp-sessions tbody').replaceChildren(
    ...sessions.map((s) =>
      el(
        'tr',
        {},
        el('td', { text: String(s.id) }),
        el('td', { text: s.user || '' }),
        el('td', { text: s.class || '' }),
        el('td', { text: s.ip }),
        el('td', { text: s.command || '' }),
        el('td', {
          text: s.transfer
            ? `${s.transfer.direction} ${s.transfer.file} ${fmtSize(s.transfer.bytes)}${s.transfer.total ? ` / ${fmtSize(s.transfer.total)}` : ''}`
            : '',
        }),
      ),
    ),
  );
}
// Live FTP updates: the sessions table is redrawn once per frame with the latest list, and the
// tree (a request) is reloaded with at most one request running and one queued.
let ftpSessions = null;
const drawSessions = perFrame(() => {
  if (ftpSessions && state.view === 'ftp') renderSessions(ftpSessions);
  ftpSessions = null;
});
const reloadTree = singleFlight(() => (state.view === 'ftp' ? loadTree(ftpPath) : undefined));
async function loadTree(p) {
  ftpPath = p;
  $('#ftp-path').textContent = `/${p}`;
  const res = await api(`/ftp/tree?path=${encodeURIComponent(p)}`).catch((e) => ({
    entries: [],
    error: e.message,
  }));
  const items = [];
  if (p)
    items.push(
      el(
        'li',
        opens(() => loadTree(p.split('/').slice(0, -1).join('/'))),
        el('span', { text: '..' }),
      ),
    );
  for (const e of res.entries) {
    const child = p ? `${p}/${e.name}` : e.name;
    if (e.type === 'dir')
      items.push(
        el(
          'li',
          { 'data-name': e.name, ...opens(() => loadTree(child)) },
          el('span', { text: `📁 ${e.name}` }),
        ),
      );
    else if (e.type === 'other')
      // a symlink leading outside the FTP root: nothing to open or download
      items.push(
        el(
          'li',
          { 'data-name': e.name },
          el('span', { class: 'muted', text: `${e.name} (link outside the root)` }),
        ),
      );
    else
      items.push(
        el(
          'li',
          { 'data-name': e.name },
          el('a', {
            href: `/api/v1/ftp/file?path=${encodeURIComponent(child)}`,
            download: e.name,
            text: `📄 ${e.name}`,
          }),
          el('span', { class: 'muted', text: fmtSize(e.size) }),
        ),
      );
  }
  replaceItems($('#ftp-tree'), items, 'data-name');
}

// ---------- chat ----------
async function loadChat() {
  const rooms = await api('/chat/rooms').catch(() => []);
  renderRooms(rooms);
  const history = await api(`/chat/rooms/${encodeURIComponent(state.room)}/messages`).catch(() => []);
  $('#chat-log').replaceChildren(...history.slice(-CHAT_LINES).map(chatLine));
  scrollChat();
}
function renderRooms(rooms) {
  if (!rooms.some((r) => r.name === state.room)) rooms = [...rooms, { name: state.room, members: [] }];
  replaceItems(
    $('#rooms'),
    rooms.map((r) =>
      el(
        'li',
        {
          class: r.name === state.room ? 'active' : '',
          'data-room': r.name,
          ...opens(() => {
            state.room = r.name;
            loadChat();
          }),
        },
        el('span', { text: `#${r.name}` }),
        el('span', { class: 'count', text: String(r.members.length) }),
      ),
    ),
    'data-room',
  );
  const cur = rooms.find((r) => r.name === state.room);
  $('#room-title').textContent = `#${state.room}`;
  $('#room-members').textContent = cur?.members.length
    ? `Members: ${cur.members.join(', ')}`
    : 'No one is here yet.';
}
// Live chat: messages are queued and appended once per frame (one layout, one scroll), and the
// log keeps the last CHAT_LINES lines; the room list is redrawn once per frame with the latest.
const CHAT_LINES = 1000;
let chatPending = [];
let roomsLatest = null;
const drawChat = perFrame(() => {
  const lines = chatPending.filter((m) => m.room === state.room).map(chatLine);
  chatPending = [];
  if (state.view !== 'chat' || !lines.length) return;
  const log = $('#chat-log');
  log.append(...lines);
  for (let extra = log.childElementCount - CHAT_LINES; extra > 0; extra--) log.firstElementChild.remove();
  scrollChat();
});
const drawRooms = perFrame(() => {
  if (roomsLatest && state.view === 'chat') renderRooms(roomsLatest);
  roomsLatest = null;
});
function chatLine(m) {
  if (m.kind && m.kind !== 'say' && m.kind !== 'me') return el('li', { class: 'sys', text: m.text });
  if (m.kind === 'me') return el('li', { class: 'sys', text: `* ${m.nick} ${m.text}` });
  return el(
    'li',
    {},
    el('span', { class: 'nick', text: `<${m.nick}>` }),
    el('span', { class: 'text', text: m.text }),
  );
}
function scrollChat() {
  const log = $('#chat-log');
  log.scrollTop = log.scrollHeight;
}
$('#chat-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('#chat-text');
  const text = input.value;
  if (!text.trim()) return;
  const nick = $('#chat-nick').value || 'web';
  const error = $('#chat-error');
  // posted over REST, not the WebSocket: the answer says whether the chat server took the line (a
  // nick it refuses, a line over 1024 bytes), and a refused line stays in the box to be fixed
  input.value = '';
  try {
    await send('POST', `/chat/rooms/${encodeURIComponent(state.room)}/messages`, { nick, text });
    error.hidden = true;
  } catch (err) {
    if (!input.value) input.value = text;
    error.textContent = `Not sent: ${err.message}`;
    error.hidden = false;
  }
});

// ---------- wire ----------
const services = new Set();
function wireText(ev) {
  const dir = ev.kind === 'in' ? 'C:' : ev.kind === 'out' ? 'S:' : ev.kind === 'error' ? '!' : '*';
  return `${new Date(ev.ts).toLocaleTimeString()} [${ev.service}#${ev.conn}] ${dir} ${ev.kind === 'connect' ? `connect ${ev.peer || ''} ` : ev.kind === 'disconnect' ? 'disconnect ' : ''}${ev.text}`;
}
function wireMatches(ev) {
  const svc = $('#wire-service').value;
  const conn = $('#wire-conn').value;
  return (!svc || ev.service === svc) && (!conn || ev.conn === Number(conn));
}
function addWire(events) {
  const log = $('#wire-log');
  for (const ev of events) {
    if (!services.has(ev.service)) {
      services.add(ev.service);
      $('#wire-service').append(el('option', { value: ev.service, text: ev.service }));
    }
    state.wire.push(ev);
    if (state.view === 'wire' && wireMatches(ev))
      log.append(
        el('span', {
          class: ev.kind === 'in' ? 'in' : ev.kind === 'out' ? 'out' : ev.kind === 'error' ? 'err' : '',
          text: `${wireText(ev)}\n`,
        }),
      );
  }
  if (state.wire.length > 5000) state.wire.splice(0, state.wire.length - 5000);
  while (log.childNodes.length > 2000) log.firstChild.remove();
  if ($('#wire-follow').checked) log.scrollTop = log.scrollHeight;
}
async function loadWire() {
  const events = await api('/wire?limit=1000');
  state.wire = [];
  $('#wire-log').replaceChildren();
  addWire(events);
}
$('#wire-service').addEventListener('change', loadWire);
$('#wire-conn').addEventListener('change', loadWire);
$('#wire-clear').addEventListener('click', () => $('#wire-log').replaceChildren());

// ---------- status ----------
async function loadStatus() {
  const s = await api('/status');
  $('#status tbody').replaceChildren(
    ...s.services.map((v) =>
      el(
        'tr',
        {},
        el('td', { text: `${v.name}${v.tls ? ' (TLS)' : ''}` }),
        el('td', { text: `${v.transport} ${v.host.includes(':') ? `[${v.host}]` : v.host}:${v.port}` }),
        el('td', { text: v.connections === undefined ? '' : String(v.connections) }),
        el('td', {
          text: v.totals
            ? Object.entries(v.totals)
                .map(([k, n]) => `${k}: ${n}`)
                .join(', ')
            : '',
        }),
        el('td', {}, el('code', { text: v.hint || '' })),
      ),
    ),
  );
}

// ---------- live updates ----------
let connectedBefore = false;
function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
  ws.addEventListener('open', () => {
    $('#live').classList.add('on');
    // events sent while we were away (the lab restarted, the laptop slept) are lost: reload
    if (connectedBefore) reloadView();
    connectedBefore = true;
  });
  ws.addEventListener('close', () => {
    $('#live').classList.remove('on');
    setTimeout(connect, 1000);
  });
  ws.addEventListener('message', (e) => {
    const { type, data } = JSON.parse(e.data);
    if (type === 'mail') {
      refreshMail();
    } else if (type === 'trace') addWire(data);
    else if (type === 'chat') {
      if (data.room === state.room && state.view === 'chat') {
        // a hidden tab draws no frames: keep only what the log would show
        if (chatPending.push(data) > CHAT_LINES) chatPending.shift();
        drawChat();
      }
    } else if (type === 'rooms') {
      if (state.view === 'chat') {
        roomsLatest = data;
        drawRooms();
      }
    } else if (type === 'ftp') {
      if (state.view === 'ftp') {
        ftpSessions = data;
        drawSessions();
        reloadTree();
      }
    }
  });
}
function reloadView() {
  refreshMail();
  if (state.view === 'ftp') loadFtp().catch(showError);
  if (state.view === 'chat') loadChat().catch(showError);
  if (state.view === 'wire') loadWire().catch(showError);
  if (state.view === 'status') loadStatus().catch(showError);
}
function showError(err) {
  console.error(err);
}

refreshMail();
connect();
setInterval(() => {
  if (state.view === 'status') loadStatus().catch(() => {});
}, 2000);
const VIEWS = ['mail', 'ftp', 'chat', 'wire', 'status'];
const fromHash = () => {
  const v = location.hash.slice(1);
  if (VIEWS.includes(v) && v !== state.view) showView(v);
};
window.addEventListener('hashchange', fromHash);
fromHash();
