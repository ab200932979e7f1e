/**
 * The MNIST VAE of examples/mnist-vae, trained in the browser tab.
 *
 * Globals from the served bundles: tf (tfjs with the WebGPU and wasm backends),
 * tfv (tfjs-variational), vega and vegaLite (the loss chart).
 *
 * URL parameters (all optional):
 *   backend=auto|webgpu|webgl|wasm|cpu   auto: the first of WebGPU, WebGL, wasm, cpu that initialises
 *   train=N, test=N                      the first N digits of the 8,000 / 2,000 split (defaults: all)
 *   batch=N                              examples per step (default 128)
 *   epochs=N                             the epochs field's starting value (default 30)
 *   seed=N                               initial weights, sampling noise and binarization (default 0)
 *
 * Training runs one batch per step (model.trainOnBatch) and awaits tf.nextFrame()
 * after each, so the page keeps drawing and answering clicks; the pictures are
 * redrawn after every epoch, the loss chart after every batch.
 *
 * window.mnistVae exposes the state (backend, losses, counts) and a few calls
 * (decodeAt, weightsDigest) for the end-to-end test and for the console.
 */
(function () {
  'use strict';

  const PIXELS = 784;
  const SIDE = 28;
  const LATENT = 2;
  const HIDDEN = 512;
  const LR = 1e-3;
  const GRID = 15;
  const MODEL_URL = 'indexeddb://tfjs-variational-mnist-vae';
  const BACKEND_ORDER = ['webgpu', 'webgl', 'wasm', 'cpu'];
  const BACKEND_LABEL = {webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'wasm', cpu: 'cpu'};
  // Tableau 10, one colour per digit
  const COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7',
    '#9c755f', '#bab0ac'];

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  function intParam(name, fallback, min, max) {
    const raw = params.get(name);
    if (raw === null || raw === '') return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new Error(`URL parameter ${name} must be an integer in [${min}, ${max}]. Received: ${name}=${raw}`);
    }
    return v;
  }

  const state = {
    ready: false,
    status: 'starting',
    backend: null,
    backendWhy: '',
    backendNotes: [],
    device: '',
    crossOriginIsolated: self.crossOriginIsolated === true,
    trainCount: 0,
    testCount: 0,
    batchSize: 0,
    seed: 0,
    epoch: 0,                 // completed epochs
    batches: 0,               // training steps taken
    batchLosses: [],          // {epoch (fractional), loss}
    epochs: [],               // {epoch, trainLoss, testLoss}; epoch 0: before training (testLoss only)
    drawnEpoch: -1,           // the epoch whose pictures are on screen
    picturesDrawn: 0,
    pointerDecodes: 0,        // points decoded for a click or a drag on the latent plane
    decodes: [],              // {z, source, status, training} of the last 100 points decoded
    point: [0, 0],
    lastDecoded: null,        // the decoder means of `point` (784 numbers)
    saved: null,              // {epoch, date} of the model in IndexedDB
    loaded: 0,                // loads from IndexedDB
    numTensors: [],           // tf.memory().numTensors after each epoch's pictures
    batchMs: [],              // milliseconds of each trainOnBatch
    error: null,
  };

  // ------------------------------------------------------------ small helpers
  function mulberry32(seed) {
    let a = seed >>> 0;
    return function next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function epochSeed(seed, epoch) {
    let h = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** x ~ Bernoulli(intensity) pixel by pixel, rows in `order`. */
  function binarize(bytes, order, seed) {
    const rand = mulberry32(seed);
    const out = new Float32Array(order.length * PIXELS);
    for (let i = 0; i < order.length; i++) {
      const src = order[i] * PIXELS;
      for (let p = 0; p < PIXELS; p++) out[i * PIXELS + p] = rand() * 255 < bytes[src + p] ? 1 : 0;
    }
    return out;
  }

  /** One epoch's training digits: a seeded permutation, then a fresh binarization (as the Node example). */
  function trainingEpoch(bytes, n, seed, epoch) {
    const s = epochSeed(seed, epoch);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const rand = mulberry32(s ^ 0x5bd1e995);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return binarize(bytes, order, s);
  }


  function setStatus(text) {
    state.status = text;
    $('status').textContent = text + (state.backend ? `  ·  tensors ${tf.memory().numTensors}` : '');
  }

  function showError(e) {
    const message = e && e.message ? e.message : String(e);
    state.error = message;
    const el = $('error');
    el.hidden = false;
    el.textContent = message;
    console.error(e);
  }

  // ------------------------------------------------------------ backend
  let device = '';            // the GPU adapter or WebGL renderer, when the browser names it

  /** Tries one backend; returns null when it is active, else why not. */
  async function tryBackend(name) {
    device = '';
    try {
      if (name === 'webgpu') {
        if (!navigator.gpu) return 'navigator.gpu is missing (no WebGPU in this browser, or it is switched off)';
        const adapter = await navigator.gpu.requestAdapter();
        if (!adapter) return 'navigator.gpu.requestAdapter() found no adapter';
        const info = adapter.info || (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : null);
        if (info) device = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
      }
      if (name === 'webgl') {
        const c = document.createElement('canvas');
        const gl = c.getContext('webgl2') || c.getContext('webgl');
        if (!gl) return 'no WebGL context could be created';
        const ext = gl.getExtension('WEBGL_debug_renderer_info');
        device = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || '');
        const lose = gl.getExtension('WEBGL_lose_context');
        if (lose) lose.loseContext();
      }
      if (name === 'wasm') tf.wasm.setWasmPaths(new URL('wasm/', location.href).href);
      if (!tf.findBackendFactory(name)) return 'its tfjs bundle is not loaded';
      const ok = await tf.setBackend(name);
      if (!ok) return 'tfjs could not initialise it (see the console)';
      await tf.ready();
      return tf.getBackend() === name ? null : `tfjs switched to ${tf.getBackend()}`;
    } catch (e) {
      return `failed: ${e && e.message ? e.message : e}`;
    }
  }

  async function chooseBackend() {
    const wanted = (params.get('backend') || 'auto').toLowerCase();
    if (wanted !== 'auto' && !BACKEND_ORDER.includes(wanted)) {
      throw new Error(`URL parameter backend must be one of auto, ${BACKEND_ORDER.join(', ')}. Received: backend=${wanted}`);
    }
    const order = wanted === 'auto' ? BACKEND_ORDER : [wanted, ...BACKEND_ORDER.filter((b) => b !== wanted)];
    const notes = [];
    for (const name of order) {
      const why = await tryBackend(name);
      if (why === null) {
        let reason;
        if (notes.length === 0) {
          reason = wanted === 'auto' ? `the first of ${BACKEND_ORDER.map((b) => BACKEND_LABEL[b]).join(' → ')} ` +
            'that initialised' : `asked for by ?backend=${wanted}`;
        } else {
          reason = `${notes.map((n) => `${BACKEND_LABEL[n.name]} unavailable: ${n.why}`).join('; ')}` +
            (wanted === 'auto' ? '' : ` (asked for by ?backend=${wanted})`);
        }
        if (device) {
          reason += `; device: ${device}`;
          if (/swiftshader|llvmpipe|softpipe|software|basic render/i.test(device)) {
            reason += ' (a software renderer: ?backend=wasm is likely faster on this machine)';
          }
        }
        if (name === 'wasm') {
          const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
          reason += `; ${threads && self.crossOriginIsolated ? 'threaded SIMD build (cross-origin isolated)' :
            'single-threaded build' + (self.crossOriginIsolated ? '' : ' (the page is not cross-origin isolated)')}`;
        }
        return {name, reason, notes, device};
      }
      notes.push({name, why});
      console.warn(`backend ${name}: ${why}`);
    }
    throw new Error(`no tfjs backend initialised: ${notes.map((n) => `${n.name}: ${n.why}`).join('; ')}`);
  }

  // ------------------------------------------------------------ data
  async function fetchOk(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${r.statusText}`);
    return r;
  }

  async function loadData(trainCount, testCount) {
    const meta = await (await fetchOk('data/mnist.json')).json();
    const [train, test] = await Promise.all([meta.train.images, meta.test.images]
        .map(async (u) => new Uint8Array(await (await fetchOk(u.replace(/^\//, ''))).arrayBuffer())));
    const nTrain = Math.min(trainCount ?? meta.train.n, meta.train.n);
    const nTest = Math.min(testCount ?? meta.test.n, meta.test.n);
    return {
      meta,
      train: {n: nTrain, bytes: train.subarray(0, nTrain * PIXELS), labels: meta.train.labels.slice(0, nTrain)},
      test: {n: nTest, bytes: test.subarray(0, nTest * PIXELS), labels: meta.test.labels.slice(0, nTest)},
    };
  }

  // ------------------------------------------------------------ model
  /** The Node example's Gaussian VAE (examples/mnist-vae/model.mjs buildVae, posterior 'gaussian', objective 'elbo'). */
  function buildVae(seed) {
    let n = 0;
    const init = () => tf.initializers.glorotUniform({seed: seed * 64 + n++});
    const dense = (units, activation, name) => tf.layers.dense({units, activation, name, kernelInitializer: init()});
    const x = tf.input({shape: [PIXELS], name: 'image'});
    const h = dense(HIDDEN, 'relu', 'encoder_hidden').apply(x);
    const zMu = dense(LATENT, undefined, 'z_mu').apply(h);
    const zLogVar = dense(LATENT, undefined, 'z_log_var').apply(h);
    const [m, lv] = tfv.layers.klDivergence({name: 'kl'}).apply([zMu, zLogVar]);
    const z = tfv.layers.reparameterize({seed, name: 'z'}).apply([m, lv]);
    const decoder = tf.sequential({name: 'decoder', layers: [
      tf.layers.dense({inputShape: [LATENT], units: HIDDEN, activation: 'relu', name: 'decoder_hidden',
        kernelInitializer: init()}),
      tf.layers.dense({units: PIXELS, name: 'logits', kernelInitializer: init()}),
    ]});
    const vae = tf.model({inputs: x, outputs: decoder.apply(z), name: 'vae'});
    compile(vae);
    return vae;
  }

  function compile(vae) {
    vae.compile({optimizer: tf.train.adam(LR), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
  }

  let vae = null;
  let encoder = null;         // image → μ(x)
  let decoder = null;         // z → logits
  function useModel(model) {
    if (vae && vae !== model) vae.dispose();
    vae = model;
    encoder = tf.model({inputs: vae.inputs, outputs: vae.getLayer('z_mu').output, name: 'encoder_mean'});
    decoder = vae.getLayer('decoder');
  }

  // ------------------------------------------------------------ pictures
  let data = null;
  let xTest = null;           // binarized test digits, fixed
  let latentView = {cx: 0, cy: 0, r: 3};
  let means = null;

  async function testLoss() {
    const out = vae.evaluate(xTest, xTest, {batchSize: 500});
    const loss = (await out.data())[0];
    out.dispose();
    return loss;
  }

  async function latentMeans() {
    const chunks = [];
    for (let start = 0; start < xTest.shape[0]; start += 500) {
      const size = Math.min(500, xTest.shape[0] - start);
      const t = tf.tidy(() => encoder.predict(tf.slice(xTest, [start, 0], [size, PIXELS])));
      chunks.push(await t.data());
      t.dispose();
    }
    const out = new Float32Array(xTest.shape[0] * LATENT);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  function toCanvas(zx, zy, size) {
    const {cx, cy, r} = latentView;
    return [(zx - cx + r) / (2 * r) * size, (cy - zy + r) / (2 * r) * size];
  }

  function fromCanvas(px, py, size) {
    const {cx, cy, r} = latentView;
    return [cx - r + px / size * 2 * r, cy + r - py / size * 2 * r];
  }

  /**
   * The square the scatter shows: the central 99% of the means on each axis (the 0.5th to 99.5th
   * percentile), widened to hold [−3, 3]² (the prior's bulk), with a 5% margin.
   */
  function latentSquare(values) {
    const lo = [-3, -3];
    const hi = [3, 3];
    for (let a = 0; a < LATENT; a++) {
      const v = [];
      for (let i = a; i < values.length; i += LATENT) if (Number.isFinite(values[i])) v.push(values[i]);
      v.sort((x, y) => x - y);
      if (v.length === 0) continue;
      lo[a] = Math.min(lo[a], v[Math.floor(0.005 * (v.length - 1))]);
      hi[a] = Math.max(hi[a], v[Math.ceil(0.995 * (v.length - 1))]);
    }
    const r = 1.05 * Math.max(hi[0] - lo[0], hi[1] - lo[1]) / 2;
    return {cx: (lo[0] + hi[0]) / 2, cy: (lo[1] + hi[1]) / 2, r};
  }

  function drawLatent() {
    const canvas = $('latent');
    const ctx = canvas.getContext('2d');
    const size = canvas.width;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    // grid lines at the integers (every 5 on a wide view), axes at 0
    const {cx, cy, r} = latentView;
    const step = r > 10 ? 5 : 1;
    ctx.lineWidth = 1;
    ctx.fillStyle = '#777';
    ctx.font = '11px sans-serif';
    for (let v = Math.ceil((Math.min(cx, cy) - r) / step) * step; v <= Math.max(cx, cy) + r; v += step) {
      const [gx] = toCanvas(v, 0, size);
      const [, gy] = toCanvas(0, v, size);
      ctx.strokeStyle = v === 0 ? '#999' : '#eee';
      ctx.beginPath();
      ctx.moveTo(Math.round(gx) + 0.5, 0);
      ctx.lineTo(Math.round(gx) + 0.5, size);
      ctx.moveTo(0, Math.round(gy) + 0.5);
      ctx.lineTo(size, Math.round(gy) + 0.5);
      ctx.stroke();
      if (gx > 12 && gx < size - 12) ctx.fillText(String(v), gx + 2, size - 4);
      if (gy > 12 && gy < size - 12) ctx.fillText(String(v), 2, gy - 2);
    }
    if (means) {
      ctx.globalAlpha = 0.75;
      for (let i = 0; i < data.test.n; i++) {
        const [px, py] = toCanvas(means[2 * i], means[2 * i + 1], size);
        ctx.fillStyle = COLOURS[data.test.labels[i]];
        ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
      }
      ctx.globalAlpha = 1;
    }
    // the decoded point
    const [px, py] = toCanvas(state.point[0], state.point[1], size);
    ctx.strokeStyle = '#000';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(px - 8, py);
    ctx.lineTo(px + 8, py);
    ctx.moveTo(px, py - 8);
    ctx.lineTo(px, py + 8);
    ctx.stroke();
  }

  /** Decoder means σ(logits) at the rows of `zs` ([n, 2]), as one Float32Array [n, 784]. */
  async function decode(zs) {
    const t = tf.tidy(() => tf.sigmoid(decoder.predict(tf.tensor2d(zs, [zs.length / LATENT, LATENT]))));
    const values = await t.data();
    t.dispose();
    return values;
  }

  function drawDigit(canvas, values, offset, x0, y0, scale) {
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(SIDE * scale, SIDE * scale);
    for (let r = 0; r < SIDE * scale; r++) {
      for (let c = 0; c < SIDE * scale; c++) {
        const v = Math.round(255 * values[offset + Math.floor(r / scale) * SIDE + Math.floor(c / scale)]);
        const k = 4 * (r * SIDE * scale + c);
        img.data[k] = img.data[k + 1] = img.data[k + 2] = v;
        img.data[k + 3] = 255;
      }
    }
    ctx.putImageData(img, x0, y0);
  }

  async function drawManifold() {
    const GRID_Z = data.meta.gridQuantiles;  // Φ⁻¹(0.05 … 0.95), computed by the server
    const zs = new Float32Array(GRID * GRID * LATENT);
    // rows top to bottom: z2 from high to low; columns: z1 from low to high
    for (let i = 0; i < GRID; i++) {
      for (let j = 0; j < GRID; j++) {
        zs[2 * (i * GRID + j)] = GRID_Z[j];
        zs[2 * (i * GRID + j) + 1] = GRID_Z[GRID - 1 - i];
      }
    }
    const values = await decode(zs);
    const canvas = $('manifold');
    for (let i = 0; i < GRID; i++) {
      for (let j = 0; j < GRID; j++) drawDigit(canvas, values, (i * GRID + j) * PIXELS, j * SIDE, i * SIDE, 1);
    }
  }

  let decodePending = null;
  let decoding = false;
  /**
   * Decodes `z` into the digit canvas; while one decode runs, the latest point asked for waits
   * (a drag's intermediate points are skipped). `source`: 'pointer' (a click or a drag on the
   * latent plane) or 'pictures' (the redraw after an epoch or a load).
   */
  async function decodePoint(z, source = 'pointer') {
    decodePending = {z, source};
    if (decoding) return;
    decoding = true;
    try {
      while (decodePending) {
        const {z: point, source: from} = decodePending;
        decodePending = null;
        const values = await decode(Float32Array.from(point));
        state.point = point;
        state.lastDecoded = Array.from(values);
        if (from === 'pointer') state.pointerDecodes++;
        state.decodes.push({z: point, source: from, status: state.status, training});
        if (state.decodes.length > 100) state.decodes.shift();
        drawDigit($('digit'), values, 0, 0, 0, 6);
        $('point').textContent = `z = (${point[0].toFixed(2)}, ${point[1].toFixed(2)})`;
        drawLatent();
      }
    } finally {
      decoding = false;
    }
  }

  async function drawPictures() {
    means = await latentMeans();
    latentView = latentSquare(means);
    drawLatent();
    await drawManifold();
    await decodePoint(state.point, 'pictures');
    state.drawnEpoch = state.epoch;
    state.picturesDrawn++;
  }

  // ------------------------------------------------------------ loss chart (vega-lite)
  let lossView = null;
  async function initLossChart() {
    if (typeof vega === 'undefined' || typeof vegaLite === 'undefined') {
      $('loss').textContent = 'vega / vega-lite did not load: no loss chart (the numbers are in the status line)';
      return;
    }
    const batch = 'datum.series === \'training batch\'';
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 860, height: 220,
      autosize: {type: 'pad', resize: true},
      data: {name: 'rows'},
      encoding: {
        x: {field: 'epoch', type: 'quantitative', title: 'epoch'},
        y: {field: 'loss', type: 'quantitative', title: '−ELBO (nats per digit, log scale)', scale: {type: 'log', nice: false}},
        color: {field: 'series', type: 'nominal', title: null,
          scale: {domain: ['training batch', 'training epoch mean', 'test'], range: ['#bab0ac', '#4e79a7', '#e15759']}},
      },
      // the batch losses as a thin line, the epoch means and the test loss as lines with points
      layer: [
        {transform: [{filter: batch}], mark: {type: 'line', strokeWidth: 1}},
        {transform: [{filter: `!(${batch})`}], mark: {type: 'line', point: true, strokeWidth: 2}},
      ],
    };
    const compiled = vegaLite.compile(spec).spec;
    lossView = new vega.View(vega.parse(compiled), {renderer: 'canvas', container: '#loss', hover: false});
    await lossView.runAsync();
  }

  function chartRows() {
    const rows = state.batchLosses.map((b) => ({epoch: b.epoch, loss: b.loss, series: 'training batch'}));
    for (const e of state.epochs) {
      if (e.trainLoss !== undefined) rows.push({epoch: e.epoch, loss: e.trainLoss, series: 'training epoch mean'});
      if (e.testLoss !== undefined) rows.push({epoch: e.epoch, loss: e.testLoss, series: 'test'});
    }
    return rows;
  }

  let chartBusy = false;
  let chartDirty = false;
  async function updateLossChart() {
    if (!lossView) return;
    chartDirty = true;
    if (chartBusy) return;
    chartBusy = true;
    try {
      while (chartDirty) {
        chartDirty = false;
        lossView.data('rows', chartRows());
        await lossView.runAsync();
      }
    } finally {
      chartBusy = false;
    }
  }

  // ------------------------------------------------------------ training
  let stopRequested = false;
  let training = false;
  let epochData = null;       // this epoch's binarized, shuffled digits
  let batchInEpoch = 0;
  let epochLossSum = 0;
  let epochLossCount = 0;

  function batchesPerEpoch() {
    return Math.ceil(data.train.n / state.batchSize);
  }

  async function endEpoch() {
    state.epoch++;
    epochData = null;
    const trainLoss = epochLossSum / epochLossCount;
    setStatus(`epoch ${state.epoch}: computing the test loss and the pictures`);
    const test = await testLoss();
    state.epochs.push({epoch: state.epoch, trainLoss, testLoss: test});
    await drawPictures();
    await updateLossChart();
    state.numTensors.push(tf.memory().numTensors);
  }

  async function train() {
    const target = Number($('epochs').value);
    if (!Number.isInteger(target) || target < 1) {
      showError(`epochs must be a positive integer. Received: ${$('epochs').value}`);
      return;
    }
    training = true;
    stopRequested = false;
    $('train').textContent = 'Pause';
    $('save').disabled = $('load').disabled = true;
    const goal = state.epoch + target - (epochData ? 1 : 0);
    try {
      while (!stopRequested && state.epoch < goal) {
        if (!epochData) {
          epochData = trainingEpoch(data.train.bytes, data.train.n, state.seed, state.epoch);
          batchInEpoch = 0;
          epochLossSum = 0;
          epochLossCount = 0;
        }
        const start = batchInEpoch * state.batchSize;
        const size = Math.min(state.batchSize, data.train.n - start);
        const xs = tf.tensor2d(epochData.subarray(start * PIXELS, (start + size) * PIXELS), [size, PIXELS]);
        let loss;
        const t0 = performance.now();
        try {
          loss = await vae.trainOnBatch(xs, xs);
          state.batchMs.push(performance.now() - t0);
        } finally {
          xs.dispose();
        }
        loss = Array.isArray(loss) ? loss[0] : loss;
        batchInEpoch++;
        state.batches++;
        epochLossSum += loss * size;
        epochLossCount += size;
        state.batchLosses.push({epoch: state.epoch + batchInEpoch / batchesPerEpoch(), loss});
        setStatus(`training: epoch ${state.epoch + 1}, batch ${batchInEpoch}/${batchesPerEpoch()}, ` +
            `loss ${loss.toFixed(1)}, ${Math.round(state.batchMs[state.batchMs.length - 1])} ms a batch`);
        updateLossChart().catch(showError);
        if (batchInEpoch === batchesPerEpoch()) await endEpoch();
        await tf.nextFrame();       // let the page draw and handle input between batches
      }
      setStatus(stopRequested ? `paused in epoch ${state.epoch + 1} after ${state.batches} batches` :
        `done: ${state.epoch} epochs, test −ELBO ${state.epochs[state.epochs.length - 1].testLoss.toFixed(2)}`);
    } catch (e) {
      showError(e);
      setStatus('training failed');
    } finally {
      training = false;
      $('train').textContent = 'Train';
      $('save').disabled = false;
      refreshSavedInfo();
    }
  }

  // ------------------------------------------------------------ IndexedDB
  async function refreshSavedInfo() {
    let info = null;
    try {
      info = (await tf.io.listModels())[MODEL_URL] || null;
    } catch {
      info = null;
    }
    $('load').disabled = training || !info;
    $('saved-info').textContent = info ? `saved: ${new Date(info.dateSaved).toLocaleString()}` : 'nothing saved yet';
    return info;
  }

  async function save() {
    setStatus('saving to IndexedDB');
    vae.setUserDefinedMetadata({epoch: state.epoch, batches: state.batches, epochs: state.epochs,
      batchLosses: state.batchLosses, seed: state.seed});
    await vae.save(MODEL_URL);
    state.saved = {epoch: state.epoch, date: Date.now()};
    await refreshSavedInfo();
    setStatus(`saved after ${state.epoch} epochs to ${MODEL_URL}`);
  }

  async function load() {
    setStatus('loading from IndexedDB');
    const model = await tf.loadLayersModel(MODEL_URL);
    compile(model);                         // a fresh Adam: the optimizer's moments are not saved
    useModel(model);
    const meta = model.getUserDefinedMetadata() || {};
    state.epoch = meta.epoch ?? 0;
    state.batches = meta.batches ?? 0;
    state.epochs = meta.epochs ?? [];
    state.batchLosses = meta.batchLosses ?? [];
    epochData = null;
    state.loaded++;
    await drawPictures();
    await updateLossChart();
    setStatus(`loaded from ${MODEL_URL}: ${state.epoch} epochs`);
  }

  /** Sum and sum of squares of every weight, by name (to compare models). */
  async function weightsDigest() {
    const out = {};
    for (const w of vae.weights) {
      const v = await w.read().data();
      let s = 0;
      let s2 = 0;
      for (const x of v) {
        s += x;
        s2 += x * x;
      }
      out[w.originalName || w.name] = [s, s2, v.length];
    }
    return out;
  }

  // ------------------------------------------------------------ wiring
  function latentPointer() {
    const canvas = $('latent');
    let dragging = false;
    const at = (ev) => {
      const rect = canvas.getBoundingClientRect();
      const px = (ev.clientX - rect.left) * canvas.width / rect.width;
      const py = (ev.clientY - rect.top) * canvas.height / rect.height;
      return fromCanvas(px, py, canvas.width);
    };
    canvas.addEventListener('pointerdown', (ev) => {
      dragging = true;
      canvas.setPointerCapture(ev.pointerId);
      decodePoint(at(ev)).catch(showError);
    });
    canvas.addEventListener('pointermove', (ev) => {
      if (dragging) decodePoint(at(ev)).catch(showError);
    });
    const stop = () => {
      dragging = false;
    };
    canvas.addEventListener('pointerup', stop);
    canvas.addEventListener('pointercancel', stop);
  }

  async function main() {
    state.trainCount = intParam('train', 8000, 1, 8000);
    state.testCount = intParam('test', 2000, 1, 2000);
    state.batchSize = intParam('batch', 128, 1, 8000);
    state.seed = intParam('seed', 0, 0, 2 ** 31 - 1);
    $('epochs').value = String(intParam('epochs', 30, 1, 1000));

    const legend = $('legend');
    for (let d = 0; d < 10; d++) {
      const s = document.createElement('span');
      s.style.setProperty('--c', COLOURS[d]);
      s.textContent = String(d);
      legend.appendChild(s);
    }

    setStatus('choosing a backend');
    const chosen = await chooseBackend();
    state.backend = chosen.name;
    state.backendWhy = chosen.reason;
    state.backendNotes = chosen.notes;
    state.device = chosen.device;
    $('backend').textContent = BACKEND_LABEL[chosen.name];
    $('why').textContent = `— ${chosen.reason}`;

    setStatus('loading the digits');
    data = await loadData(state.trainCount, state.testCount);
    $('data').textContent = `${data.train.n} training and ${data.test.n} test digits of the mnist package ` +
      `(the ${data.meta.train.n} / ${data.meta.test.n} split), binarized x ~ Bernoulli(intensity), ` +
      `training digits afresh each epoch; batch ${state.batchSize}`;
    const testOrder = Int32Array.from({length: data.test.n}, (_, i) => i);
    xTest = tf.tensor2d(binarize(data.test.bytes, testOrder, state.seed ^ 0x7e57), [data.test.n, PIXELS]);

    setStatus('building the model');
    useModel(buildVae(state.seed));
    await initLossChart();
    state.epochs.push({epoch: 0, testLoss: await testLoss()});
    await drawPictures();
    await updateLossChart();
    state.numTensors.push(tf.memory().numTensors);
    latentPointer();

    $('train').addEventListener('click', () => {
      if (training) stopRequested = true;
      else train();
    });
    $('save').addEventListener('click', () => save().catch((e) => {
      showError(e);
      setStatus('saving failed');
    }));
    $('load').addEventListener('click', () => load().catch((e) => {
      showError(e);
      setStatus('loading failed');
    }));
    $('train').disabled = false;
    $('save').disabled = false;
    await refreshSavedInfo();
    state.ready = true;
    setStatus(`ready: test −ELBO ${state.epochs[0].testLoss.toFixed(2)} before training`);
  }

  window.mnistVae = {
    state,
    decodeAt: async (z1, z2) => Array.from(await decode(Float32Array.from([z1, z2]))),
    weightsDigest,
    get training() {
      return training;
    },
    get decoding() {
      return decoding;
    },
  };

  main().catch((e) => {
    showError(e);
    setStatus('failed');
  });
})();
