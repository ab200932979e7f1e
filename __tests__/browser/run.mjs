#!/usr/bin/env node
/**
 * Browser test suite: runs the library's layers, losses, one training step and
 * the fast-wasm-kernel checks on the cpu, wasm, webgl and webgpu backends inside
 * headless Chromium and compares the wasm, webgl and webgpu values with cpu.
 *
 *   npm run build && node __tests__/browser/run.mjs
 *
 * Pages (one per backend, each a fresh tab):
 *   cpu, webgl, webgpu    served with COOP/COEP (cross-origin isolated)
 *   wasm                  cross-origin isolated, so tfjs loads the threaded SIMD
 *                         build; asks for TFV_BROWSER_WASM_THREADS XNNPACK threads
 *   wasm (not isolated)   the same files without COOP/COEP: tfjs must fall back to
 *                         the single-threaded SIMD build (environment and
 *                         fast-kernel checks only)
 *
 * Environment:
 *   TFV_CHROMIUM=/path/to/chromium           browser binary (default: `chromium`
 *                                            or `chromium-browser` found on PATH)
 *   TFV_ALLOW_MISSING_BROWSER_BACKEND=1      a backend that cannot initialise is
 *                                            reported as SKIP instead of FAIL
 *   TFV_BROWSER_TIMEOUT_MS=180000            whole-run watchdog
 *   TFV_BROWSER_VERBOSE=1                    echo the page's console output
 *   TFV_BROWSER_TF_ONLY=1                    run only the tfjs environment checks
 *                                            (no library bundle needed; for
 *                                            diagnosing the browser set-up)
 *   TFV_BROWSER_WASM_THREADS=2               XNNPACK threads for the isolated wasm
 *                                            page (0: tfjs's default; capped at the
 *                                            machine's logical cores)
 *
 * Tolerances: see TOLERANCES below (wasm rtol 1e-4, webgl rtol 1e-3, webgpu
 * rtol 5e-4, all atol 1e-5 scaled by the check's largest value).
 *
 * Output: one line per check, then `N passed, M failed`; the exit code is
 * non-zero when anything failed.
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createRequire} from 'node:module';

import {CHROMIUM_ARGS, FILES, NOT_ISOLATED_PREFIX, findChromium, root, startServer, withTimeout} from './server.mjs';

const require = createRequire(import.meta.url);

const REFERENCE = 'cpu';
const ALLOW_MISSING = process.env.TFV_ALLOW_MISSING_BROWSER_BACKEND === '1';
const VERBOSE = process.env.TFV_BROWSER_VERBOSE === '1';
const WATCHDOG_MS = Number(process.env.TFV_BROWSER_TIMEOUT_MS || 180000);
const TF_ONLY = process.env.TFV_BROWSER_TF_ONLY === '1';
const PAGE_TIMEOUT_MS = Math.min(120000, WATCHDOG_MS);
const WASM_THREADS = Number(process.env.TFV_BROWSER_WASM_THREADS ?? 2);

/**
 * The pages, in run order; `id` names a page in the report, `backend` is the
 * tfjs backend it runs. A page under /not-isolated/ is served without
 * COOP/COEP (see server.mjs). The cpu page is the reference and runs first.
 */
const PAGES = [
  {id: 'cpu', backend: 'cpu'},
  {id: 'wasm', backend: 'wasm', options: {wasmThreads: WASM_THREADS, expectThreadedWasm: true}},
  {id: 'wasm (not isolated)', backend: 'wasm', prefix: NOT_ISOLATED_PREFIX,
    options: {expectThreadedWasm: false, sections: ['env', 'fast wasm kernels']}},
  {id: 'webgl', backend: 'webgl'},
  {id: 'webgpu', backend: 'webgpu'},
];

/**
 * Cross-backend tolerance. A value v from backend B passes against the cpu
 * value c when |v - c| <= atol * max(1, max|c|) + rtol * |c|, element-wise;
 * the atol term is scaled by the largest magnitude in the check so that
 * near-zero entries of a vector (e.g. gradients) are judged against the
 * vector's scale.
 *
 * Measured with SwiftShader (Chromium 156, tfjs 4.22; both GPU backends run
 * in float32 there): largest relative difference 3.6e-5 on webgl and 3.1e-5
 * on webgpu (gradients of the 784x32 kernel; entries of at least 1e-3 of the
 * check's scale), largest absolute difference 6.1e-5 on a loss of 544
 * (1.1e-7 relative). Seeded noise (tf.randomNormal, reparameterize) is equal
 * bit for bit. rtol 1e-3 leaves room for WebGL on hardware that computes in
 * float16-like precision; WebGPU is float32 everywhere. Each run prints the
 * measured maxima ("INFO ... max abs diff ... max rel diff").
 *
 * wasm computes in float32 on the CPU like cpu, in another summation order
 * (XNNPACK, two threads): largest relative difference measured 2.0e-5
 * (gradient of the 784x32 kernel), largest absolute 6.1e-5 on a loss of 544.
 * rtol 1e-4 is also the bound the page itself applies to results with and
 * without the fast wasm kernels.
 */
const TOLERANCES = {
  wasm: {rtol: 1e-4, atol: 1e-5},
  webgl: {rtol: 1e-3, atol: 1e-5},
  webgpu: {rtol: 5e-4, atol: 1e-5},
};

// ---------------------------------------------------------------- reporting
let passed = 0;
let failed = 0;
let skipped = 0;
const diffSummary = {};  // page id -> {maxAbs, maxRel, worst}

function pass(name, detail = '') {
  passed++;
  console.log(`PASS  ${name}${detail ? `  (${detail})` : ''}`);
}
function fail(name, detail = '') {
  failed++;
  console.log(`FAIL  ${name}${detail ? `  (${detail})` : ''}`);
}
function skip(name, detail = '') {
  skipped++;
  console.log(`SKIP  ${name}${detail ? `  (${detail})` : ''}`);
}
function check(name, ok, detail) {
  (ok ? pass : fail)(name, detail);
}
let finished = false;
function summaryAndExit(code) {
  if (finished) return;
  finished = true;
  if (skipped > 0) console.log(`INFO  ${skipped} skipped`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? (failed > 0 ? 1 : 0));
}
const fmt = (x) => (typeof x === 'number' ? (Number.isInteger(x) ? String(x) : x.toPrecision(4)) : String(x));

// ---------------------------------------------------------------- comparison
function flat(v) {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.flat(Infinity);
  return null;
}

/** Returns {ok, maxAbs, maxRel, at} comparing `got` against `ref`. */
function compare(got, ref, {rtol, atol}) {
  const a = flat(got);
  const b = flat(ref);
  if (!a || !b) return {ok: false, reason: 'not numeric'};
  if (a.length !== b.length) return {ok: false, reason: `length ${a.length} vs ${b.length}`};
  const scale = Math.max(1, ...b.map(Math.abs));
  let ok = true;
  let maxAbs = 0;
  let maxRel = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) {
      if (!(Object.is(a[i], b[i]))) {
        ok = false;
        at = i;
      }
      continue;
    }
    const d = Math.abs(a[i] - b[i]);
    const rel = d / Math.max(Math.abs(b[i]), 1e-12);
    if (d > maxAbs) maxAbs = d;
    // relative differences are reported for entries of at least 1e-3 of the check's scale
    if (d > 0 && Math.abs(b[i]) >= 1e-3 * scale && rel > maxRel) maxRel = rel;
    if (!(d <= atol * scale + rtol * Math.abs(b[i]))) {
      if (ok) at = i;
      ok = false;
    }
  }
  return {ok, maxAbs, maxRel, at, got: a[at], ref: b[at], n: a.length};
}

// ---------------------------------------------------------------- main
async function main() {
  const bundle = join(root, FILES['/tfjs-variational.min.js']);
  if (!TF_ONLY && !existsSync(bundle)) {
    console.error(`error: ${FILES['/tfjs-variational.min.js']} is missing. Run \`npm run build\` first.`);
    fail('setup: library bundle present', 'dist/tfjs-variational.min.js not found; run `npm run build`');
    summaryAndExit(1);
  }
  for (const [path, rel] of Object.entries(FILES)) {
    if (TF_ONLY && path === '/tfjs-variational.min.js') continue;
    if (!existsSync(join(root, rel))) {
      fail(`setup: ${rel} present`);
      summaryAndExit(1);
    }
  }

  const executablePath = findChromium();
  if (!executablePath) {
    fail('setup: chromium found', 'no `chromium` on PATH; install it (Debian: apt-get install -y chromium) or set TFV_CHROMIUM');
    summaryAndExit(1);
  }

  let playwright;
  try {
    playwright = require('playwright-core');
  } catch (e) {
    fail('setup: playwright-core importable', String(e.message || e));
    summaryAndExit(1);
  }

  const started = Date.now();
  const server = await startServer();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), 'tfv-chromium-'));
  let context = null;

  const cleanup = async () => {
    try {
      if (context) await withTimeout(context.close(), 10000, 'closing the browser');
    } catch {
      // the process is killed with the node process anyway
    }
    server.close();
    try {
      rmSync(profile, {recursive: true, force: true});
    } catch {
      // leftover temp dir is harmless
    }
  };

  const watchdog = setTimeout(async () => {
    if (finished) return;
    fail('watchdog', `run exceeded ${WATCHDOG_MS} ms; the browser is probably hung`);
    await withTimeout(cleanup(), 5000, 'cleanup').catch(() => {});
    summaryAndExit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  try {
    context = await withTimeout(playwright.chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
    }), 60000, 'launching chromium');
    pass('setup: chromium launched', `${executablePath}, version ${context.browser()?.version() ?? '?'}`);
  } catch (e) {
    fail('setup: chromium launched', String(e.message || e).split('\n')[0]);
    await cleanup();
    summaryAndExit(1);
  }

  const results = {};
  let trainingKernels = [];
  for (const {id, backend, prefix = '', options = {}} of PAGES) {
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (msg) => {
      const line = `[${id} console.${msg.type()}] ${msg.text()}`;
      consoleLines.push(line);
      if (VERBOSE) console.log(line);
    });
    page.on('pageerror', (err) => consoleLines.push(`[${id} pageerror] ${err.message}`));
    const t0 = Date.now();
    try {
      await withTimeout(page.goto(`${origin}${prefix}/index.html${TF_ONLY ? '?tfonly=1' : ''}`), 30000, 'loading the test page');
      results[id] = await withTimeout(
          page.evaluate(([b, k, t, o]) => window.runChecks(b, k, t, o), [backend, trainingKernels, TF_ONLY, options]),
          PAGE_TIMEOUT_MS, `${id} checks`);
    } catch (e) {
      results[id] = {backend, initialised: false, fatal: String(e.message || e).split('\n')[0]};
    }
    results[id].ms = Date.now() - t0;
    results[id].console = consoleLines;
    if (id === REFERENCE && results[id].trainingKernels) trainingKernels = results[id].trainingKernels;
    await page.close().catch(() => {});
  }

  if (finished) return;  // the watchdog fired and reported
  clearTimeout(watchdog);
  await cleanup();

  report(results);
  console.log(`run time ${((Date.now() - started) / 1000).toFixed(1)} s`);
  summaryAndExit();
}

function report(results) {
  const ref = results[REFERENCE];

  for (const {id, backend} of PAGES) {
    const r = results[id];
    // initialisation
    if (!r.initialised) {
      const why = r.fatal || r.initError || 'unknown reason';
      if (ALLOW_MISSING && id !== REFERENCE) {
        skip(`${id}: backend initialised`, `${why}; allowed by TFV_ALLOW_MISSING_BROWSER_BACKEND=1`);
      } else {
        fail(`${id}: backend initialised`, why);
        for (const line of r.console || []) console.log(`      ${line}`);
      }
      continue;
    }
    pass(`${id}: backend initialised`, `${Object.entries(r.info || {}).map(([k, v]) => `${k}=${v}`).join(', ')}; ${r.ms} ms`);

    // errors thrown by a section
    for (const [section, message] of Object.entries(r.errors || {})) {
      fail(`${id}: ${section} ran`, message);
    }
    // checks evaluated inside the page (analytic values, invariants)
    for (const c of r.selfChecks || []) {
      check(`${id}: ${c.name}`, c.ok, c.detail);
    }
    // values against the reference backend
    if (id !== REFERENCE && ref && ref.initialised) {
      const tol = TOLERANCES[backend];
      const summary = {maxAbs: 0, maxRel: 0, worstAbs: '', worstRel: ''};
      for (const [key, value] of Object.entries(r.values || {})) {
        if (!(key in (ref.values || {}))) continue;
        const c = compare(value, ref.values[key], tol);
        if (c.reason) {
          fail(`${id}: ${key} matches ${REFERENCE}`, c.reason);
          continue;
        }
        if (c.maxAbs > summary.maxAbs) [summary.maxAbs, summary.worstAbs] = [c.maxAbs, key];
        if (c.maxRel > summary.maxRel) [summary.maxRel, summary.worstRel] = [c.maxRel, key];
        const detail = `n=${c.n}, max abs ${c.maxAbs.toExponential(2)}, max rel ${c.maxRel.toExponential(2)}` +
            (c.ok ? '' : `; first out of tolerance at [${c.at}]: ${fmt(c.got)} vs ${fmt(c.ref)}`);
        check(`${id}: ${key} matches ${REFERENCE}`, c.ok, detail);
      }
      const ran = new Set(r.sectionsRun || []);
      for (const key of Object.keys(ref.values || {})) {
        const section = (ref.valueSections || {})[key];
        if (section && !ran.has(section)) continue;  // a page that runs some sections only
        if (!(key in (r.values || {})) && !(r.errors && Object.keys(r.errors).length)) {
          fail(`${id}: ${key} computed`, 'value missing');
        }
      }
      diffSummary[id] = {...summary, backend};
    }
    // kernels used by the training path and not registered for this backend
    const hadError = Object.keys(r.errors || {}).length > 0 || (r.selfChecks || []).some((c) => !c.ok);
    if (hadError) {
      const missing = r.missingKernels || [];
      console.log(`INFO  ${id}: kernels of the training path missing on this backend: ` +
          `${missing.length ? missing.join(', ') : 'none'}`);
      for (const line of (r.console || []).filter((l) => /error|warn/i.test(l)).slice(0, 20)) {
        console.log(`      ${line}`);
      }
    }
  }

  for (const [id, s] of Object.entries(diffSummary)) {
    console.log(`INFO  ${id} vs ${REFERENCE}: max abs diff ${s.maxAbs.toExponential(2)} (${s.worstAbs || '-'}), ` +
        `max rel diff ${s.maxRel.toExponential(2)} (${s.worstRel || '-'}); ` +
        `tolerance rtol ${TOLERANCES[s.backend].rtol}, atol ${TOLERANCES[s.backend].atol}`);
  }
  // tfv.isFastWasmKernelsActive() on each page: it reports the wasm backend's
  // kernels (replaced or not), so it is true on every page that loaded
  // tf-backend-wasm; only the wasm pages run them.
  const fk = PAGES.filter(({id}) => results[id] && results[id].fastKernels).map(({id, backend}) => {
    const f = results[id].fastKernels;
    const rewrites = f.rewritesWithFastKernels ?
      Object.values(f.rewritesWithFastKernels).reduce((a, b) => a + b, 0) : '?';
    return `${id} active=${f.activeAtStart}${backend === 'wasm' ? ` (${rewrites} rewrites in the gradient check)` : ' (no-op here)'}`;
  });
  if (fk.length) console.log(`INFO  tfv.isFastWasmKernelsActive(): ${fk.join('; ')}`);
}

main().catch(async (e) => {
  fail('harness', String(e && e.stack || e));
  summaryAndExit(1);
});
