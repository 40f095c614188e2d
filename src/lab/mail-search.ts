/**
 * Mailpit-style search syntax for the dashboard, as a pure parser and matcher:
 * `from:alice to:bob cc:carol subject:"quarterly report" has:attachment is:unread
 * before:2026-01-01 after:2025-12-01 larger:1m smaller:10k free text`. Terms are ANDed; a leading `-` negates one; quotes group words.
 */
export interface MessageSummary {
  mailbox: string;
  id: string;
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  /** ms since the epoch: the Date header, else the delivery time */
  date: number;
  /** ms since the epoch: when it was delivered (the list is newest first by this, as in Mailpit) */
  received: number;
  size: number;
  attachments: number;
  read: boolean;
  /** lowercased searchable text: addresses, subject and the first part of the text body */
  haystack: string;
  snippet: string;
}

export type SearchTerm =
  | { field: 'from' | 'to' | 'cc' | 'subject' | 'text'; value: string; negate: boolean }
  | { field: 'larger' | 'smaller'; value: number; negate: boolean }
  | { field: 'has'; value: 'attachment'; negate: boolean }
  | { field: 'is'; value: 'read' | 'unread'; negate: boolean }
  | { field: 'before' | 'after'; value: number; negate: boolean };

/** Split a query into tokens, honouring double quotes (`subject:"a b"`). */
export function tokenize(query: string): string[] {
  const out: string[] = [];
  const re = /(-?[a-z]+:"[^"]*"|-?"[^"]*"|\S+)/gi;
  for (const m of query.matchAll(re)) out.push(m[0]);
  return out;
}

function unquote(v: string): string {
  return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v;
}

/** `500`, `10k`, `2m`, `1g` (bytes, binary multiples), as Mailpit's larger:/smaller: take them. */
function parseSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/.exec(v);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * 1024 ** ' kmg'.indexOf(m[2] || ' '));
}

function parseDate(v: string): number | undefined {
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  return Number.isNaN(t) ? undefined : t;
}

export function parseSearch(query: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  for (let tok of tokenize(query.trim())) {
    let negate = false;
    if (tok.startsWith('-') && tok.length > 1) {
      negate = true;
      tok = tok.slice(1);
    }
    const m = /^([a-z]+):(.*)$/i.exec(tok);
    const key = m?.[1]?.toLowerCase();
    const value = unquote(m?.[2] ?? '').toLowerCase();
    if (m && (key === 'from' || key === 'to' || key === 'cc' || key === 'subject') && value) {
      terms.push({ field: key, value, negate });
    } else if (m && (key === 'larger' || key === 'smaller') && parseSize(value) !== undefined) {
      terms.push({ field: key, value: parseSize(value)!, negate });
    } else if (m && key === 'has' && (value === 'attachment' || value === 'attachments')) {
      terms.push({ field: 'has', value: 'attachment', negate });
    } else if (m && key === 'is' && (value === 'read' || value === 'unread')) {
      terms.push({ field: 'is', value, negate });
    } else if (m && (key === 'before' || key === 'after') && parseDate(value) !== undefined) {
      terms.push({ field: key, value: parseDate(value)!, negate });
    } else {
      const text = unquote(tok).toLowerCase();
      if (text) terms.push({ field: 'text', value: text, negate });
    }
  }
  return terms;
}

function matchOne(term: SearchTerm, m: MessageSummary): boolean {
  switch (term.field) {
    case 'from':
      return m.from.toLowerCase().includes(term.value);
    case 'to':
      return [...m.to, ...m.cc].some((a) => a.toLowerCase().includes(term.value));
    case 'cc':
      return m.cc.some((a) => a.toLowerCase().includes(term.value));
    case 'subject':
      return m.subject.toLowerCase().includes(term.value);
    case 'larger':
      return m.size > term.value;
    case 'smaller':
      return m.size < term.value;
    case 'text':
      return m.haystack.includes(term.value);
    case 'has':
      return m.attachments > 0;
    case 'is':
      return term.value === 'read' ? m.read : !m.read;
    // the delivery time, as Mailpit's before:/after: — a Date header is whatever the sender claimed
    case 'before':
      return m.received < term.value;
    case 'after':
      return m.received >= term.value;
  }
}

export function matches(terms: SearchTerm[], m: MessageSummary): boolean {
  for (const t of terms) if (matchOne(t, m) === t.negate) return false;
  return true;
}
