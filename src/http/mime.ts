/**
 * File extension → `Content-Type`. Our own small table (no dependency in the tree carries one, and
 * a static file server for a lab needs the common web, text, archive and media types, not the
 * 1,000-entry IANA list). Unknown extensions are `application/octet-stream`, which browsers
 * download rather than sniff (the server also sends `X-Content-Type-Options: nosniff`).
 */
import path from 'node:path';

const TYPES: Record<string, string> = {
  // text
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  js: 'text/javascript',
  mjs: 'text/javascript',
  txt: 'text/plain',
  text: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  xml: 'application/xml',
  json: 'application/json',
  map: 'application/json',
  webmanifest: 'application/manifest+json',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  ics: 'text/calendar',
  // subtitles for <track>: a browser ignores a WebVTT file served under any other type
  vtt: 'text/vtt',
  eml: 'message/rfc822',
  // images
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  apng: 'image/apng',
  webp: 'image/webp',
  avif: 'image/avif',
  svg: 'image/svg+xml',
  ico: 'image/vnd.microsoft.icon',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  // fonts
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  // audio / video
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  m4a: 'audio/mp4',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  ogv: 'video/ogg',
  mkv: 'video/x-matroska',
  mov: 'video/quicktime',
  aac: 'audio/aac',
  opus: 'audio/ogg',
  // streaming manifests, what an HLS or DASH player asks a test server for
  m3u8: 'application/vnd.apple.mpegurl',
  mpd: 'application/dash+xml',
  // documents and archives
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  zst: 'application/zstd',
  tar: 'application/x-tar',
  '7z': 'application/x-7z-compressed',
  iso: 'application/x-iso9660-image',
  deb: 'application/vnd.debian.binary-package',
  wasm: 'application/wasm',
  bin: 'application/octet-stream',
};

/** `Content-Type` for a file name; text types carry `charset=utf-8`. */
export function contentType(name: string): string {
  const ext = path.extname(name).slice(1).toLowerCase();
  const type = TYPES[ext] ?? 'application/octet-stream';
  const textual =
    type.startsWith('text/') ||
    type === 'application/json' ||
    type === 'application/xml' ||
    type === 'application/yaml' ||
    type === 'application/manifest+json' ||
    type === 'image/svg+xml';
  return textual ? `${type}; charset=utf-8` : type;
}
