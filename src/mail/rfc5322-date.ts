/** An RFC 5322 date-time (§3.3) in UTC: `Tue, 25 Nov 2025 10:00:00 +0000`. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}
