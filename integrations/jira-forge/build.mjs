// Bundles the Custom UI pages with esbuild: src/panel.js → static/panel/build/panel.{js,css},
// src/admin.js → static/admin/build/admin.{js,css}. The panel bundle includes the web UI's
// crates/server/web/js/envelope.js itself, so the panel and the web UI seal with one
// implementation. The bundles are committed (CI and the tests need no build).
//
//   npm run build          rebuild the committed bundles
//   npm run build:check    exit 1 if a committed bundle differs from a fresh build
import * as esbuild from 'esbuild';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import process from 'node:process';

const here = path.dirname(fileURLToPath(import.meta.url));
process.chdir(here);
const check = process.argv.includes('--check');

const pages = ['panel', 'admin'];
let stale = 0;
for (const page of pages) {
  const result = await esbuild.build({
    entryPoints: [`src/${page}.js`],
    outfile: `static/${page}/build/${page}.js`,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    minify: true,
    charset: 'utf8',
    legalComments: 'eof',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    write: !check,
  });
  if (check) {
    for (const f of result.outputFiles) {
      const rel = path.relative(here, f.path);
      const same = existsSync(f.path) && Buffer.compare(readFileSync(f.path), Buffer.from(f.contents)) === 0;
      if (!same) {
        stale += 1;
        console.error(`stale: ${rel} differs from a fresh build; run npm run build`);
      }
    }
  }
}
if (check) {
  if (stale) process.exit(1);
  console.log('the committed bundles match a fresh build');
} else {
  console.log(`built ${pages.map((p) => `static/${p}/build/`).join(', ')}`);
}
