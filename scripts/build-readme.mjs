// `npm run readme`: README.md is its own top matter (title, the two set-up commands, contents) followed
// by the chapters in docs/readme/, one blank line apart, in the order below. Edit a chapter there,
// then run this; `--check` exits 1 when README.md is not what the chapters make (test/docs runs it).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHAPTERS = [
  'sockets-basic',
  'chat',
  'smtp',
  'mail-serve',
  'pop3-server',
  'mail-client',
  'ftp-server',
  'ftp-client',
  'http-client',
  'http-download-serve',
  'lab',
  '_development',
];

const readmePath = path.join(root, 'README.md');
const readme = await readFile(readmePath, 'utf8');
const chapters = await Promise.all(
  CHAPTERS.map((name) => readFile(path.join(root, 'docs', 'readme', `${name}.md`), 'utf8')),
);
const firstHeading = `\n${chapters[0].split('\n')[0]}\n`;
const cut = readme.indexOf(firstHeading);
if (cut === -1) {
  console.error(`build-readme: README.md has no line "${firstHeading.trim()}" where the chapters begin`);
  process.exit(1);
}
const built = `${readme.slice(0, cut + 1)}${chapters.join('\n')}`;
if (process.argv.includes('--check')) {
  if (built !== readme) {
    console.error('build-readme: README.md is out of date with docs/readme/: run npm run readme');
    process.exit(1);
  }
} else if (built !== readme) {
  await writeFile(readmePath, built);
  console.log('README.md rebuilt from docs/readme/');
}
