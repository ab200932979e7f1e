/**
 * What the browser suite (run.mjs) and the wasm thread benchmark
 * (wasm_threads.mjs) share: the files served to the page, a local HTTP server,
 * the Chromium binary and its flags.
 *
 * The server sends COOP `same-origin` and COEP `require-corp`, so pages are
 * cross-origin isolated (`self.crossOriginIsolated`, `SharedArrayBuffer`, and
 * with them tfjs's threaded wasm build). The same files under
 * NOT_ISOLATED_PREFIX come without those headers.
 */
import {createServer} from 'node:http';
import {accessSync, constants, readFileSync, statSync} from 'node:fs';
import {delimiter, dirname, extname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Headless Chromium with WebGPU on SwiftShader. */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** URL path -> file, relative to the package root. */
export const FILES = {
  '/tf.min.js': 'node_modules/@tensorflow/tfjs/dist/tf.min.js',
  '/tf-backend-webgpu.min.js': 'node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js',
  '/tf-backend-wasm.min.js': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
  // tfjs picks one of these by feature: threaded SIMD (cross-origin isolated), SIMD, plain
  '/wasm/tfjs-backend-wasm-threaded-simd.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
  '/wasm/tfjs-backend-wasm-simd.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
  '/wasm/tfjs-backend-wasm.wasm': 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
  '/tfjs-variational.min.js': 'dist/tfjs-variational.min.js',
  '/index.html': '__tests__/browser/index.html',
  '/checks.js': '__tests__/browser/checks.js',
};
const MIME = {'.js': 'text/javascript; charset=utf-8', '.html': 'text/html; charset=utf-8', '.map': 'application/json',
  '.wasm': 'application/wasm'};
export const NOT_ISOLATED_PREFIX = '/not-isolated';

export function findChromium() {
  const override = process.env.TFV_CHROMIUM;
  if (override) return override;
  const names = ['chromium', 'chromium-browser'];
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const p = join(dir, name);
      try {
        if (statSync(p).isFile()) {
          accessSync(p, constants.X_OK);
          return p;
        }
      } catch {
        // not here
      }
    }
  }
  return null;
}

export function startServer() {
  const server = createServer((req, res) => {
    let path = new URL(req.url, 'http://x').pathname;
    // The same files under /not-isolated/ come without COOP/COEP: no
    // crossOriginIsolated, no SharedArrayBuffer, no threaded wasm build.
    const isolated = !path.startsWith(`${NOT_ISOLATED_PREFIX}/`);
    if (!isolated) path = path.slice(NOT_ISOLATED_PREFIX.length);
    const rel = FILES[path === '/' ? '/index.html' : path];
    const headers = isolated ? {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    } : {'Cache-Control': 'no-store'};
    if (path === '/favicon.ico') {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    if (!rel) {
      res.writeHead(404, headers);
      res.end('not found');
      return;
    }
    try {
      const body = readFileSync(join(root, rel));
      res.writeHead(200, {...headers, 'Content-Type': MIME[extname(rel)] || 'application/octet-stream'});
      res.end(body);
    } catch (e) {
      res.writeHead(500, headers);
      res.end(String(e));
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolvePromise(server));
  });
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
