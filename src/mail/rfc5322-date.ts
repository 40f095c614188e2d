/**
 * RFC 5322 §3.3 dates: writing one, and reading the Date header of a received message.
 *
 * Reading follows Python's `email.utils.parsedate_to_datetime` (the reference our tests compare
 * with), not `new Date(value)` as postal-mime does: V8's parser takes `31 Feb` for 3 March, `Date: 1`
 * for 1 January 2001, and a date without a zone for the reader's local time, so one message showed a
 * different instant on every machine. A date that names no zone, an unknown one or `-0000` is read
 * as UTC, as RFC 5322 §4.3 says (Python gives a naive time with the same numbers). A date that is
 * not one (no such day, hour 24, a zone a day or more away, a year past 9999) gives undefined: the
 * caller shows it as written, as Python's header keeps its text.
 */

/** An RFC 5322 date-time (§3.3) in UTC: `Tue, 25 Nov 2025 10:00:00 +0000`. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

const MONTHS = [
  ...['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  ...['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september'],
  ...['october', 'november', 'december'],
];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
/** The zone names RFC 822 defined (as HHMM), those Python knows; any other name is an unknown zone. */
const ZONES: Record<string, number> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  Z: 0,
  AST: -400,
  ADT: -300,
  EST: -500,
  EDT: -400,
  CST: -600,
  CDT: -500,
  MST: -700,
  MDT: -600,
  PST: -800,
  PDT: -700,
};

const integer = (s: string): number | undefined => (/^[+-]?\d+$/.test(s) ? Number(s) : undefined);

const daysIn = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31;

interface DateFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** east of UTC; 0 for UTC, -0000, an unknown zone or none */
  offsetMinutes: number;
}

/** The fields of a date, read as Python's `email._parseaddr._parsedate_tz` reads them. */
function dateFields(value: string): DateFields | undefined {
  let data = value.split(/\s+/).filter(Boolean);
  if (data.length === 0) return undefined;
  // a day name, with or without the comma (the space after it is optional)
  if (data[0]!.endsWith(',') || DAYS.includes(data[0]!.toLowerCase())) data.shift();
  else data[0] = data[0]!.slice(data[0]!.lastIndexOf(',') + 1);
  if (data.length === 3) {
    // RFC 850: 01-Sep-26 10:00:00 GMT
    const parts = data[0]!.split('-');
    if (parts.length === 3) data = [...parts, ...data.slice(1)];
  }
  if (data.length === 4) {
    // a zone written against the time (10:00:00+0200), or no zone at all
    const s = data[3]!;
    let i = s.indexOf('+');
    if (i === -1) i = s.indexOf('-');
    if (i > 0) data.splice(3, 1, s.slice(0, i), s.slice(i));
    else data.push('');
  }
  if (data.length < 5) return undefined;
  let [dd, mm, yy, tm, tz] = data as [string, string, string, string, string];
  let month = MONTHS.indexOf(mm.toLowerCase());
  if (month === -1) {
    // Sep 1 2026
    [dd, mm] = [mm, dd];
    month = MONTHS.indexOf(mm.toLowerCase());
    if (month === -1) return undefined;
  }
  if (yy.indexOf(':') > 0) [yy, tm] = [tm, yy];
  yy = yy.replace(/,$/, '');
  if (!/^\d/.test(yy)) [yy, tz] = [tz, yy];
  tm = tm.replace(/,$/, '');
  let time = tm.split(':');
  if (time.length === 1 && tm.includes('.')) time = tm.split('.'); // 10.00.00, as some mailers write
  if (time.length === 2) time.push('0');
  if (time.length !== 3) return undefined;
  const [year, day, hour, minute, second] = [yy, dd.replace(/,$/, ''), ...time].map(integer);
  if (year === undefined || day === undefined || hour === undefined) return undefined;
  if (minute === undefined || second === undefined) return undefined;
  const zone = tz.toUpperCase();
  // +HHMM as a number, as Python reads it: +0200 is 200
  const hhmm = (Object.hasOwn(ZONES, zone) ? ZONES[zone] : integer(zone)) ?? 0;
  const offsetMinutes = Math.sign(hhmm) * (Math.trunc(Math.abs(hhmm) / 100) * 60 + (Math.abs(hhmm) % 100));
  // two digits: 1969 to 1999, 2000 to 2068 (POSIX, as Python)
  const fullYear = year < 100 ? year + (year > 68 ? 1900 : 2000) : year;
  return { year: fullYear, month: (month % 12) + 1, day, hour, minute, second, offsetMinutes };
}

/**
 * The instant a Date header names, or undefined when it names none (see the module comment).
 * @example parseMailDate('Tue, 1 Sep 2026 10:00:00 +0200') // 2026-09-01T08:00:00.000Z
 */
export function parseMailDate(value: string): Date | undefined {
  const f = dateFields(value);
  if (f === undefined) return undefined;
  if (f.year < 1 || f.year > 9999 || f.day < 1 || f.day > daysIn(f.year, f.month)) return undefined;
  if (f.hour < 0 || f.hour > 23 || f.minute < 0 || f.minute > 59 || f.second < 0 || f.second > 59)
    return undefined;
  if (Math.abs(f.offsetMinutes) >= 24 * 60) return undefined;
  const utc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  return new Date(utc - f.offsetMinutes * 60_000);
}
