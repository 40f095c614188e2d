/**
 * Credentials written into an http(s) URL (`http://user:password@host/`): taken out of the URL,
 * so that what is shown, logged or saved afterwards carries no password, and percent-decoded where
 * they decode (a stray `%`, like `50%zz`, is sent as written, as curl sends it).
 */
export interface Credentials {
  username: string;
  password: string;
}

/** Percent-decoded where it decodes; as written otherwise. */
export function decodeUserinfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Remove the user info from `url` (in place) and return it; undefined when there is none. */
export function takeUserinfo(url: URL): Credentials | undefined {
  if (!url.username && !url.password) return undefined;
  const credentials = { username: decodeUserinfo(url.username), password: decodeUserinfo(url.password) };
  url.username = '';
  url.password = '';
  return credentials;
}

/** `url` without its user info, and that user info; a URL that does not parse comes back as it is. */
export function splitUserinfo(url: string): { url: string; credentials?: Credentials } {
  if (!URL.canParse(url)) return { url };
  const u = new URL(url);
  const credentials = takeUserinfo(u);
  return credentials ? { url: u.href, credentials } : { url };
}

/** `url` as text without its user info (unchanged when it has none or does not parse). */
export function withoutUserinfo(url: string): string {
  return splitUserinfo(url).url;
}

/** The `Authorization` value for Basic authentication (RFC 7617). */
export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** Request headers that carry credentials: never sent on to another origin after a redirect (curl -L). */
export const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'] as const;
