/**
 * The file name of `-O, --remote-name`, as curl picks it: the last segment of the URL's path as
 * the URL was written — after `./` and `../` segments are resolved (`%2e` counts as a dot, as in
 * curl), without the query or fragment, and after a last `\` too. Like curl, the name is **not**
 * percent-decoded (curl's manual: "There is no URL decoding done on the file name"): `a%20b.txt`
 * is saved as `a%20b.txt`, which also means a `%2F` cannot become a directory separator. WHATWG's
 * `URL` is not used: it would percent-encode what curl keeps (`"`, raw UTF-8), so names would
 * differ from curl's.
 *
 * Refused (undefined), where curl says "Remote file name has no length!" or fails to open the
 * file: an empty name (`http://host/`, `http://host/dir/`), `.` and `..`, and, which curl would
 * create, names with control characters (a terminal hazard, and never typed on purpose).
 */

/** `-O`'s name for `url`, or undefined when the URL names no usable file. */
export function remoteName(url: string): string | undefined {
  const afterScheme = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*/i.exec(url);
  const rest = afterScheme ? url.slice(afterScheme[0].length) : url;
  const path = rest.split(/[?#]/, 1)[0]!;
  const resolved = removeDotSegments(path);
  let name = resolved.slice(resolved.lastIndexOf('/') + 1);
  name = name.slice(name.lastIndexOf('\\') + 1);
  if (name === '' || name === '.' || name === '..') return undefined;
  if (/[\x00-\x1f\x7f]/.test(name)) return undefined;
  return name;
}

const isDot = (s: string) => s === '.' || s.toLowerCase() === '%2e';
const isDotDot = (s: string) => /^(?:\.|%2e){2}$/i.test(s);

/** RFC 3986 §5.2.4 on a path's segments, `%2e` read as `.` (curl and browsers do). */
export function removeDotSegments(path: string): string {
  if (path === '') return '';
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (isDot(s)) {
      if (last) out.push('');
    } else if (isDotDot(s)) {
      if (out.length > 1) out.pop();
      if (last) out.push('');
    } else out.push(s);
  }
  const joined = out.join('/');
  return path.startsWith('/') && !joined.startsWith('/') ? `/${joined}` : joined;
}

/** Where `--output-dir DIR` puts a file: `DIR/NAME`, joined as curl joins them (no normalising). */
export function inOutputDir(file: string, outputDir: string | undefined): string {
  return outputDir ? `${outputDir}/${file}` : file;
}
