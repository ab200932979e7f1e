/**
 * Page side of the browser suite (loaded by index.html next to tf.min.js,
 * tf-backend-webgpu.min.js, tf-backend-wasm.min.js and tfjs-variational.min.js).
 *
 * window.runChecks(backend, trainingKernels, tfOnly, options) switches tfjs to
 * `backend`, computes every value on deterministic inputs and returns plain
 * data to the runner:
 *   {backend, initialised, initError?, info, values, valueSections, sectionsRun,
 *    selfChecks, errors, missingKernels, trainingKernels?, fastKernels?}
 * `values` are compared by the runner against the cpu page; `selfChecks` are
 * judged here (analytic values, invariants). Every page does the same calls in
 * the same order, so seeded sampling draws the same noise on every backend.
 *
 * options (all optional):
 *   wasmThreads   XNNPACK threads to ask the wasm backend for (tf.wasm.setThreadsCount)
 *   expectThreadedWasm  true: the page is cross-origin isolated and must load the
 *                 threaded SIMD build; false: it is not and must load the SIMD build
 *   sections      names of the sections to run (default: all)
 */
(function () {
  'use strict';

  // ------------------------------------------------------------ utilities
  /**
   * Small seeded PRNG (mulberry32): identical sequences in every page. The
   * same generator as __tests__/helpers/random.ts (a page script cannot import
   * that module).
   */
  function mulberry32(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6D2B79F5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function uniform(rng, n, lo, hi) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng();
    return out;
  }
  async function flat(t) {
    return Array.from(await t.data());
  }
  async function scalar(t) {
    return (await t.data())[0];
  }
  /**
   * Statistical self-checks (docs/testing.md): every one is on seeded draws, so
   * its outcome is fixed on a backend, and its tolerance is also derived from
   * the estimator's distribution, failing for an arbitrary seed with
   * probability ≤ P_CHECK = 1e-8 (3 such checks per page).
   */
  const P_CHECK = 1e-8;
  const Z_CHECK = 5.75;  // P(|N(0, 1)| > 5.75) = 8.9e-9
  /**
   * X ~ χ²_k lies in [lo, hi] with probability ≥ 1 − p (Laurent & Massart
   * 2000, Lemma 1, with e^(−x) = p/2): a bound, valid for every k.
   */
  function chiSquareInterval(k, p) {
    const x = Math.log(2 / p);
    return {lo: Math.max(0, k - 2 * Math.sqrt(k * x)), hi: k + 2 * Math.sqrt(k * x) + 2 * x};
  }
  function maxAbsDiff(a, b) {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  }
  /**
   * A number, a scalar tensor or a list of them (summed) as a number. Reads
   * asynchronously: synchronous reads are unreliable on webgpu (see syncReadSection).
   */
  async function toNumber(v) {
    if (typeof v === 'number') return v;
    if (v && typeof v.data === 'function') return (await v.data())[0];
    if (Array.isArray(v)) {
      let s = 0;
      for (const x of v) s += await toNumber(x);
      return s;
    }
    return NaN;
  }

  // ------------------------------------------------------------ fixtures
  const B = 8;   // batch for layer and loss checks
  const D = 3;   // latent size for layer checks
  const E = 20;  // event size for loss checks
  const C = 10;  // classes for the categorical loss

  function fixtures() {
    const rng = mulberry32(20240601);
    const mu = uniform(rng, B * D, -1.5, 1.5);
    const logVar = uniform(rng, B * D, -2, 1);
    const binary = Float32Array.from(uniform(rng, B * E, 0, 1), (u) => (u < 0.4 ? 1 : 0));
    const soft = uniform(rng, B * E, 0, 1);
    const logits = uniform(rng, B * E, -4, 4);
    const probs = Float32Array.from(uniform(rng, B * E, 0, 1), (u) => 0.02 + 0.96 * u);
    const target = uniform(rng, B * E, -2, 2);
    const mean = uniform(rng, B * E, -2, 2);
    const predLogVar = uniform(rng, B * E, -1.5, 1.5);
    const classes = Array.from({length: B}, () => Math.floor(rng() * C));
    const oneHot = new Float32Array(B * C);
    classes.forEach((c, b) => { oneHot[b * C + c] = 1; });
    const classLogits = uniform(rng, B * C, -3, 3);
    const classProbs = new Float32Array(B * C);
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(classLogits[b * C + c]);
      for (let c = 0; c < C; c++) classProbs[b * C + c] = Math.exp(classLogits[b * C + c]) / s;
    }
    return {mu, logVar, binary, soft, logits, probs, target, mean, predLogVar, oneHot, classLogits, classProbs};
  }

  /** KL(N(mu, e^lv) || N(0, I)) summed over dims, averaged over the batch, in float64. */
  function analyticKL(mu, lv, batch, dims) {
    let s = 0;
    for (let i = 0; i < batch * dims; i++) s += 0.5 * (Math.exp(lv[i]) + mu[i] * mu[i] - 1 - lv[i]);
    return s / batch;
  }

  // ------------------------------------------------------------ sections
  /** tfjs-only checks: prove the backend computes, and that seeded noise is backend independent. */
  async function envSection(ctx) {
    const {values} = ctx;
    values['env.randomNormal(seed=42)'] = await flat(tf.randomNormal([64], 0, 1, 'float32', 42));
    values['env.randomUniform(seed=7)'] = await flat(tf.randomUniform([32], -1, 1, 'float32', 7));
    const rng = mulberry32(99);
    const x = tf.tensor2d(uniform(rng, 8 * 16, -1, 1), [8, 16]);
    const w = tf.variable(tf.tensor2d(uniform(rng, 16 * 4, -0.5, 0.5), [16, 4]));
    const {value, grads} = tf.variableGrads(() => tf.sum(tf.square(tf.relu(tf.matMul(x, w)))), [w]);
    values['env.matMul loss'] = await scalar(value);
    values['env.matMul grad'] = await flat(grads[w.name]);
    const dense = tf.layers.dense({units: 5, activation: 'tanh', inputShape: [16]});
    dense.build([null, 16]);
    dense.setWeights([tf.tensor2d(uniform(rng, 16 * 5, -0.5, 0.5), [16, 5]), tf.tensor1d(uniform(rng, 5, -0.1, 0.1))]);
    values['env.dense tanh'] = await flat(dense.apply(x));
  }

  async function klSection(ctx) {
    const {values, selfChecks, fx} = ctx;
    const mu = tf.tensor2d(fx.mu, [B, D]);
    const lv = tf.tensor2d(fx.logVar, [B, D]);
    const expected = analyticKL(fx.mu, fx.logVar, B, D);

    // (a1) layer.apply in training mode, then calculateLosses(); weight 0.5
    const layer = tfv.layers.klDivergence({weight: 0.5});
    const outs = layer.apply([mu, lv], {training: true});
    selfChecks.push({
      name: 'klDivergence.apply is the identity',
      ok: Array.isArray(outs) && outs.length === 2 &&
          maxAbsDiff(await flat(outs[0]), fx.mu) === 0 && maxAbsDiff(await flat(outs[1]), fx.logVar) === 0,
    });
    const losses = layer.calculateLosses();
    selfChecks.push({name: 'klDivergence registers one loss per application', ok: losses.length === 1,
      detail: `calculateLosses() returned ${losses.length}`});
    const got = await toNumber(losses);
    values['kl.layer(weight=0.5).loss'] = got;
    const rel = Math.abs(got - 0.5 * expected) / (0.5 * expected);
    selfChecks.push({name: 'klDivergence(weight=0.5) loss equals the analytic KL', ok: rel < 1e-5,
      detail: `${got} vs ${0.5 * expected} (rel ${rel.toExponential(2)})`});

    // (a2) annealing: the weight lives in a variable created at build time, so
    // the layer is applied once (and its loss read) before setKLWeight.
    const annealed = tfv.layers.klDivergence();
    annealed.apply([mu, lv], {training: true});
    const gotFull = await toNumber(annealed.calculateLosses());
    annealed.setKLWeight(0.25);
    annealed.apply([mu, lv], {training: true});
    const gotAnnealed = await toNumber(annealed.calculateLosses());
    values['kl.layer(setKLWeight 0.25).loss'] = gotAnnealed;
    selfChecks.push({name: 'klDivergence.setKLWeight(0.25) scales the next loss by 0.25',
      ok: Math.abs(gotFull - expected) <= 1e-5 * expected && Math.abs(gotAnnealed - 0.25 * expected) <= 1e-5 * expected,
      detail: `loss ${gotFull} then ${gotAnnealed}; analytic ${expected} and ${0.25 * expected}`});
    ctx.annealedLayer = annealed;  // getKLWeight() is read in syncReadSection

    // (a3) free bits
    const fb = tfv.layers.klDivergence({freeBits: 0.5});
    fb.apply([mu, lv], {training: true});
    values['kl.layer(freeBits=0.5).loss'] = await toNumber(fb.calculateLosses());

    // (a4) the full objective of a tiny model whose data term is exactly zero
    const inMu = tf.input({shape: [D]});
    const inLv = tf.input({shape: [D]});
    const [oMu] = tfv.layers.klDivergence().apply([inMu, inLv]);
    const model = tf.model({inputs: [inMu, inLv], outputs: oMu});
    model.compile({optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError'});
    const obj = await tfv.evaluateObjective(model, [mu, lv], mu, {batchSize: B});
    values['kl.evaluateObjective.loss'] = obj.loss;
    values['kl.evaluateObjective.dataTerm'] = obj.dataTerm;
    values['kl.evaluateObjective.layerLosses'] = obj.layerLosses;
    const relObj = Math.abs(obj.loss - expected) / expected;
    selfChecks.push({name: 'evaluateObjective of a KL-only model equals the analytic KL',
      ok: typeof obj.loss === 'number' && relObj < 1e-5 && Math.abs(obj.dataTerm) < 1e-7,
      detail: `loss ${obj.loss} vs ${expected}, dataTerm ${obj.dataTerm}, layerLosses ${obj.layerLosses}`});
  }

  async function reparameterizeSection(ctx) {
    const {values, selfChecks, fx} = ctx;
    const mu = tf.tensor2d(fx.mu, [B, D]);
    const lv = tf.tensor2d(fx.logVar, [B, D]);

    // (b1) inference with inferenceMode 'mean' returns mu
    const meanLayer = tfv.layers.reparameterize({inferenceMode: 'mean'});
    const zMean = await flat(meanLayer.apply([mu, lv], {training: false}));
    values['reparameterize(mean).z'] = zMean;
    selfChecks.push({name: "reparameterize inferenceMode 'mean' returns mu at inference",
      ok: maxAbsDiff(zMean, fx.mu) === 0, detail: `max |z - mu| = ${maxAbsDiff(zMean, fx.mu)}`});

    // (b2) seeded sampling in training mode
    const a = tfv.layers.reparameterize({seed: 1234});
    const z1 = await flat(a.apply([mu, lv], {training: true}));
    const z2 = await flat(a.apply([mu, lv], {training: true}));
    const b = tfv.layers.reparameterize({seed: 1234});
    const zb = await flat(b.apply([mu, lv], {training: true}));
    values['reparameterize(seed=1234).z first call'] = z1;
    values['reparameterize(seed=1234).z second call'] = z2;
    selfChecks.push({name: 'reparameterize: same seed, same first sample', ok: maxAbsDiff(z1, zb) === 0,
      detail: `max diff ${maxAbsDiff(z1, zb)}`});
    selfChecks.push({name: 'reparameterize: successive calls draw new noise', ok: maxAbsDiff(z1, z2) > 0});
    const eps = z1.map((z, i) => (z - fx.mu[i]) / Math.exp(fx.logVar[i] / 2));
    values['reparameterize(seed=1234).eps'] = eps;

    // (b3) several samples: [batch * k, d], example-major
    const k = 3;
    const multi = tfv.layers.reparameterize({samples: k, seed: 99});
    const zk = multi.apply([mu, lv], {training: true});
    selfChecks.push({name: 'reparameterize(samples=3) output shape is [batch*3, d]',
      ok: zk.shape[0] === B * k && zk.shape[1] === D, detail: `shape [${zk.shape}]`});
    const zkv = await flat(zk);
    values['reparameterize(samples=3, seed=99).z'] = zkv;
    // rows b*k+s belong to example b: standardised noise is finite and mean is near mu.
    // Seeded (99). For any seed the 72 standardised draws are N(0, 1), and
    // P(max |ε| ≥ 6.5) ≤ 72 × 8.0e-11 = 5.8e-9.
    let worst = 0;
    for (let r = 0; r < B * k; r++) {
      const ex = Math.floor(r / k);
      for (let d = 0; d < D; d++) {
        const e = (zkv[r * D + d] - fx.mu[ex * D + d]) / Math.exp(fx.logVar[ex * D + d] / 2);
        worst = Math.max(worst, Math.abs(e));
      }
    }
    selfChecks.push({name: 'reparameterize(samples=3) rows are example-major (|eps| < 6.5 under that layout)',
      ok: worst < 6.5, detail: `max |eps| ${worst.toFixed(3)}`});

    // (b4) noise statistics on a larger batch. Seeded (5). For any seed: the
    // sample mean of n N(0, 1) draws is N(0, 1/n), within 5.75/√n = 0.045 but
    // with P = 8.9e-9; n·sd²/1 (sd about the sample mean) ~ χ²(n − 1), within its
    // Laurent–Massart interval for P_CHECK (sd ∈ [0.965, 1.035]) but with P ≤ 1e-8.
    const N = 8192;
    const big = tfv.layers.reparameterize({seed: 5});
    const zeros = tf.zeros([N, 2]);
    const e = await flat(big.apply([zeros, zeros], {training: true}));
    const n = e.length;
    const m = e.reduce((s, v) => s + v, 0) / n;
    const sd = Math.sqrt(e.reduce((s, v) => s + (v - m) * (v - m), 0) / n);
    const chi = chiSquareInterval(n - 1, P_CHECK);
    const sdLo = Math.sqrt(chi.lo / n);
    const sdHi = Math.sqrt(chi.hi / n);
    const meanTol = Z_CHECK / Math.sqrt(n);
    selfChecks.push({name: `reparameterize noise is standard normal (mean, sd of ${n} draws)`,
      ok: Math.abs(m) < meanTol && sd > sdLo && sd < sdHi,
      detail: `mean ${m.toFixed(4)} (|mean| < ${meanTol.toFixed(4)}), sd ${sd.toFixed(4)} (in [${sdLo.toFixed(4)}, ${sdHi.toFixed(4)}])`});
  }

  async function lossesSection(ctx) {
    const {values, selfChecks, fx} = ctx;
    const t = (a, shape) => tf.tensor2d(a, shape);
    const cases = [
      ['bernoulliNLL(fromLogits) binary', tfv.losses.bernoulliNLL({fromLogits: true}), t(fx.binary, [B, E]), t(fx.logits, [B, E])],
      ['bernoulliNLL(fromLogits) soft', tfv.losses.bernoulliNLL({fromLogits: true}), t(fx.soft, [B, E]), t(fx.logits, [B, E])],
      ['bernoulliNLL(probs)', tfv.losses.bernoulliNLL({fromLogits: false}), t(fx.binary, [B, E]), t(fx.probs, [B, E])],
      ['gaussianNLL(default)', tfv.losses.gaussianNLL({}), t(fx.target, [B, E]), t(fx.mean, [B, E])],
      ['gaussianNLL(scale=0.5)', tfv.losses.gaussianNLL({scale: 0.5}), t(fx.target, [B, E]), t(fx.mean, [B, E])],
      ['gaussianNLL(learnedVariance)', tfv.losses.gaussianNLL({learnedVariance: true}), t(fx.target, [B, E]),
        tf.concat([t(fx.mean, [B, E]), t(fx.predLogVar, [B, E])], 1)],
      ['categoricalNLL(fromLogits)', tfv.losses.categoricalNLL({fromLogits: true}), t(fx.oneHot, [B, C]), t(fx.classLogits, [B, C])],
      ['categoricalNLL(probs)', tfv.losses.categoricalNLL({fromLogits: false}), t(fx.oneHot, [B, C]), t(fx.classProbs, [B, C])],
    ];
    for (const [name, fn, yTrue, yPred] of cases) {
      const out = fn(yTrue, yPred);
      selfChecks.push({name: `losses.${name} returns shape [batch]`, ok: out.shape.length === 1 && out.shape[0] === B,
        detail: `shape [${out.shape}]`});
      values[`losses.${name}`] = await flat(out);
    }
    // analytic reference for two of them (float64 in JS)
    let bce = 0;
    let cat = 0;
    const bern = values['losses.bernoulliNLL(fromLogits) binary'];
    const catv = values['losses.categoricalNLL(fromLogits)'];
    let worstB = 0;
    let worstC = 0;
    for (let b = 0; b < B; b++) {
      bce = 0;
      for (let e = 0; e < E; e++) {
        const l = fx.logits[b * E + e];
        const y = fx.binary[b * E + e];
        bce += Math.max(l, 0) - l * y + Math.log1p(Math.exp(-Math.abs(l)));
      }
      worstB = Math.max(worstB, Math.abs(bern[b] - bce) / bce);
      let lse = -Infinity;
      const row = Array.from(fx.classLogits.slice(b * C, b * C + C));
      const mx = Math.max(...row);
      lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      const cls = Array.from(fx.oneHot.slice(b * C, b * C + C)).indexOf(1);
      cat = lse - row[cls];
      worstC = Math.max(worstC, Math.abs(catv[b] - cat) / Math.max(cat, 1e-3));
    }
    selfChecks.push({name: 'losses.bernoulliNLL(fromLogits) equals the analytic value', ok: worstB < 1e-5,
      detail: `max rel ${worstB.toExponential(2)}`});
    selfChecks.push({name: 'losses.categoricalNLL(fromLogits) equals the analytic value', ok: worstC < 1e-4,
      detail: `max rel ${worstC.toExponential(2)}`});
  }

  // The VAE: 784 -> 32 -> (mu, logVar) in 2 -> 32 -> 784 logits.
  const VAE_BATCH = 16;
  const VAE_LR = 1e-3;

  function buildVae() {
    const x = tf.input({shape: [784]});
    const h = tf.layers.dense({units: 32, activation: 'relu', name: 'enc_h'}).apply(x);
    let mu = tf.layers.dense({units: 2, name: 'enc_mu'}).apply(h);
    let lv = tf.layers.dense({units: 2, name: 'enc_logvar'}).apply(h);
    [mu, lv] = tfv.layers.klDivergence({name: 'kl'}).apply([mu, lv]);
    const z = tfv.layers.reparameterize({seed: 7, inferenceMode: 'mean', name: 'z'}).apply([mu, lv]);
    const d = tf.layers.dense({units: 32, activation: 'relu', name: 'dec_h'}).apply(z);
    const out = tf.layers.dense({units: 784, name: 'dec_out'}).apply(d);
    const model = tf.model({inputs: x, outputs: out});
    // Glorot-uniform kernels and small biases from a seeded PRNG, so every backend
    // starts identically. Only the dense layers: the KL layer's non-trainable
    // kl_weight keeps its value 1.
    const rng = mulberry32(31337);
    for (const name of ['enc_h', 'enc_mu', 'enc_logvar', 'dec_h', 'dec_out']) {
      const layer = model.getLayer(name);
      layer.setWeights(layer.getWeights().map((w) => {
        const lim = w.shape.length === 2 ? Math.sqrt(6 / (w.shape[0] + w.shape[1])) : 0.05;
        return tf.tensor(uniform(rng, w.size, -lim, lim), w.shape);
      }));
    }
    // The encoder alone, to compute the analytic KL of the posterior it outputs.
    const encoder = tf.model({inputs: x, outputs: [model.getLayer('enc_mu').output, model.getLayer('enc_logvar').output]});
    return {model, encoder};
  }

  function vaeData() {
    const rng = mulberry32(4242);
    const xs = new Float32Array(VAE_BATCH * 784);
    for (let i = 0; i < xs.length; i++) {
      const u = rng();
      xs[i] = u < 0.25 ? 0.2 + 0.8 * rng() : 0;  // sparse, MNIST-like intensities
    }
    return tf.tensor2d(xs, [VAE_BATCH, 784]);
  }

  async function vaeSection(ctx) {
    const {values, selfChecks, profileKernels} = ctx;
    const {model, encoder} = buildVae();
    const x = vaeData();
    const lossFn = tfv.losses.bernoulliNLL({fromLogits: true});
    model.compile({optimizer: tf.train.sgd(VAE_LR), loss: lossFn});

    const run = async () => {
      const before = await tfv.evaluateObjective(model, x, x, {batchSize: VAE_BATCH});
      values['vae.before.loss'] = before.loss;
      values['vae.before.dataTerm'] = before.dataTerm;
      values['vae.before.layerLosses'] = before.layerLosses;
      values['vae.before.predict'] = await flat(model.predict(x));
      const [encMuOut, encLvOut] = encoder.predict(x);
      ctx.vaeAnalyticKL = analyticKL(await flat(encMuOut), await flat(encLvOut), VAE_BATCH, 2);

      // gradient of an explicit negative ELBO (data term + layer losses) on two kernels
      const encMu = model.getLayer('enc_mu').kernel.val;
      const encH = model.getLayer('enc_h').kernel.val;
      const {value, grads} = tf.variableGrads(() => {
        const out = model.apply(x, {training: true});
        const data = tf.mean(lossFn(x, out));
        const extra = model.calculateLosses();
        if (extra.length === 0) return data;
        const layerLoss = tf.addN(extra);
        ctx.vaeTrainingLayerLoss = tf.keep(tf.clone(layerLoss));
        return tf.add(data, layerLoss);
      }, [encMu, encH]);
      values['vae.explicit loss (training)'] = await scalar(value);
      values['vae.layer losses (training)'] = ctx.vaeTrainingLayerLoss ? await scalar(ctx.vaeTrainingLayerLoss) : 0;
      values['vae.grad enc_mu/kernel'] = await flat(grads[encMu.name]);
      values['vae.grad enc_h/kernel'] = await flat(grads[encH.name]);

      const history = await model.fit(x, x, {batchSize: VAE_BATCH, epochs: 1, shuffle: false, verbose: 0});
      values['vae.fit history loss'] = history.history.loss[0];

      const after = await tfv.evaluateObjective(model, x, x, {batchSize: VAE_BATCH});
      values['vae.after.loss'] = after.loss;
      values['vae.after.dataTerm'] = after.dataTerm;
      values['vae.after.layerLosses'] = after.layerLosses;
      values['vae.after enc_mu/kernel'] = await flat(model.getLayer('enc_mu').kernel.read());
      values['vae.after dec_out/bias'] = await flat(model.getLayer('dec_out').bias.read());
    };
    if (profileKernels) {
      const info = await tf.profile(run);
      // kernelNames also lists customGrad op scopes (e.g. fusedMatMul__op): keep real kernels only
      ctx.out.trainingKernels = info.kernelNames.filter((k) => tf.getKernel(k, 'cpu')).sort();
    } else {
      await run();
    }

    // The model's KL term must be the KL of the encoder's posterior, once per forward pass.
    const klRef = ctx.vaeAnalyticKL;
    for (const [what, got] of [['evaluateObjective (inference)', values['vae.before.layerLosses']],
      ['model.apply {training: true} + calculateLosses()', values['vae.layer losses (training)']]]) {
      selfChecks.push({name: `vae: KL term of ${what} equals the analytic KL of the encoder output`,
        ok: Math.abs(got - klRef) <= 1e-4 * klRef, detail: `${got} vs ${klRef} (ratio ${(got / klRef).toFixed(4)})`});
    }
    const before = values['vae.before.loss'];
    const after = values['vae.after.loss'];
    selfChecks.push({name: 'vae: one sgd step lowers the full objective', ok: after < before,
      detail: `${before} -> ${after}`});
    selfChecks.push({name: 'vae: objective = dataTerm + layerLosses',
      ok: Math.abs(before - values['vae.before.dataTerm'] - values['vae.before.layerLosses']) <= 1e-4 * Math.abs(before),
      detail: `${before} vs ${values['vae.before.dataTerm']} + ${values['vae.before.layerLosses']}`});

    // two more steps: the number of live tensors must not grow from one step to the next
    await model.fit(x, x, {batchSize: VAE_BATCH, epochs: 1, shuffle: false, verbose: 0});
    const n1 = tf.memory().numTensors;
    await model.fit(x, x, {batchSize: VAE_BATCH, epochs: 1, shuffle: false, verbose: 0});
    const n2 = tf.memory().numTensors;
    selfChecks.push({name: 'vae: fit does not leak tensors between steps', ok: n2 <= n1, detail: `${n1} -> ${n2} tensors`});
  }

  /**
   * model.save / tf.loadLayersModel with tfjs's own browser handlers: the
   * loaded model has our classes, the same weights and (at inference mode
   * 'mean') the same predictions, and a reloaded model keeps training.
   */
  /**
   * The probabilistic core on this backend: an IWAE bound and its gradient, a
   * planar-flow posterior's Monte Carlo KL, a Gumbel-softmax sample and its
   * KL, all on seeded noise (drawn in JavaScript, so the same on every page)
   * and compared with the cpu page; plus each bound's ordering on the page.
   */
  async function boundsAndFlowsSection(ctx) {
    const {values, selfChecks, fx} = ctx;
    const init = (s) => tf.initializers.randomNormal({mean: 0, stddev: 0.5, seed: 300 + s});
    const x = tf.input({shape: [E]});
    const h = tf.layers.dense({units: 6, activation: 'tanh', kernelInitializer: init(1), biasInitializer: init(2)}).apply(x);
    let mu = tf.layers.dense({units: 2, kernelInitializer: init(3), biasInitializer: init(4)}).apply(h);
    let lv = tf.layers.dense({units: 2, kernelInitializer: init(5), biasInitializer: init(6)}).apply(h);
    [mu, lv] = tfv.layers.klDivergence().apply([mu, lv]);
    const z = tfv.layers.reparameterize({samples: 4, seed: 17, name: 'bf_z'}).apply([mu, lv]);
    const logits = tf.layers.dense({units: E, kernelInitializer: init(7), biasInitializer: init(8)}).apply(z);
    const model = tf.model({inputs: x, outputs: logits});
    const xs = tf.tensor2d(fx.binary, [B, E]);
    const likelihood = tfv.losses.bernoulliNLL({fromLogits: true});
    const bounds = {};
    for (const [name, loss] of [['elbo', tfv.objectives.elbo({likelihood})], ['renyi(0.5)', tfv.objectives.renyi({alpha: 0.5, likelihood})],
                                ['iwae', tfv.objectives.iwae({likelihood})]]) {
      model.compile({optimizer: 'sgd', loss});
      model.getLayer('bf_z').resetSeed();
      const r = model.evaluate(xs, xs, {batchSize: B});
      bounds[name] = await scalar(r);
      values[`bounds.${name} (4 samples)`] = bounds[name];
      r.dispose();
    }
    selfChecks.push({name: 'bounds on the same draws: -ELBO ≥ -Rényi(½) ≥ -IWAE',
      ok: bounds['elbo'] >= bounds['renyi(0.5)'] && bounds['renyi(0.5)'] >= bounds['iwae'],
      detail: JSON.stringify(bounds)});
    model.getLayer('bf_z').resetSeed();
    const iwae = tfv.objectives.iwae({likelihood});
    const {value, grads} = tf.variableGrads(() => tf.mean(iwae(xs, model.apply(xs, {training: true}))), model.trainableWeights.map((w) => w.read()));
    values['bounds.iwae training value'] = await scalar(value);
    values['bounds.iwae grad of the first kernel'] = await flat(grads[model.trainableWeights[0].read().name]);
    tf.dispose([value, ...Object.values(grads), xs]);
    model.dispose();

    const m = tf.tensor2d(fx.mu, [B, D]);
    const v = tf.tensor2d(fx.logVar, [B, D]);
    const flows = [0, 1, 2].map((i) => tfv.flows.planarFlow({kernelInitializer: tf.initializers.randomNormal({mean: 0, stddev: 0.8, seed: 40 + i})}));
    const posterior = tfv.flows.flowPosterior({flows, samples: 2, seed: 23});
    const zK = posterior.apply([m, v], {training: true});
    const [kl] = posterior.calculateLosses();
    values['flows.flowPosterior(planar x3) z'] = await flat(zK);
    values['flows.flowPosterior(planar x3) Monte Carlo KL'] = await scalar(kl);
    tf.dispose([zK, kl]);
    posterior.dispose();

    const logitsK = tf.tensor3d(fx.logits.slice(0, B * 6), [B, 2, 3]);
    const gumbel = tfv.layers.gumbelSoftmax({temperature: 0.5, seed: 31});
    const y = gumbel.apply(logitsK, {training: true});
    const [gkl] = gumbel.calculateLosses();
    const yv = await flat(y);
    values['gumbelSoftmax(τ 0.5) sample'] = yv;
    values['gumbelSoftmax KL to uniform'] = await scalar(gkl);
    let worst = 0;
    for (let r = 0; r < B * 2; r++) worst = Math.max(worst, Math.abs(yv[3 * r] + yv[3 * r + 1] + yv[3 * r + 2] - 1));
    selfChecks.push({name: 'gumbelSoftmax samples lie on the simplex', ok: worst < 1e-5, detail: `largest |Σy − 1| ${worst}`});
    tf.dispose([y, gkl, logitsK, m, v]);
    gumbel.dispose();
  }

  /**
   * BayesianConv2D on this backend: the posterior-mean output equals
   * tf.conv2d with the loc kernel plus bias_loc (checked on the page), a
   * seeded flipout draw and a seeded local-reparameterization draw (the
   * noise comes from the library's generator, the same bits on every page;
   * compared with the cpu page), and a few fit steps lower the loss.
   */
  async function bayesianConv2dSection(ctx) {
    const {values, selfChecks} = ctx;
    const rng = mulberry32(4242);
    const xs = tf.tensor4d(uniform(rng, 4 * 6 * 5 * 2, -1, 1), [4, 6, 5, 2]);
    const kernelInit = tf.initializers.randomNormal({mean: 0, stddev: 0.4, seed: 51});
    const make = (estimator, name, inferenceMode, extra = {}) => tfv.layers.bayesianConv2d({...extra, filters: 3, kernelSize: [3, 2], padding: 'same',
      strides: [2, 1], estimator, numExamples: 64, bayesianBias: true, seed: 61, inferenceMode, name,
      kernelLocInitializer: kernelInit,
      kernelUntransformedScaleInitializer: tf.initializers.randomNormal({mean: -2, stddev: 0.3, seed: 52}),
      biasLocInitializer: tf.initializers.randomNormal({mean: 0, stddev: 0.2, seed: 53}),
      biasUntransformedScaleInitializer: tf.initializers.constant({value: -2})});

    const meanLayer = make('flipout', 'bc_mean', 'mean');
    const yMean = meanLayer.apply(xs);
    const direct = tf.add(tf.conv2d(xs, meanLayer.trainableWeights[0].read(), [2, 1], 'same'), meanLayer.trainableWeights[2].read());
    const a = await flat(yMean);
    const b = await flat(direct);
    const scale = Math.max(1, ...b.map(Math.abs));
    values['bayesianConv2d.posterior mean'] = a;
    selfChecks.push({name: 'bayesianConv2d: posterior-mean output equals tf.conv2d(x, kernel_loc) + bias_loc',
      ok: a.length === b.length && maxAbsDiff(a, b) <= 1e-5 * scale, detail: `max |Δ| ${maxAbsDiff(a, b)}`});
    tf.dispose([yMean, direct]);

    for (const estimator of ['flipout', 'localReparameterization']) {
      const layer = make(estimator, `bc_${estimator}`, 'sample');
      const y = layer.apply(xs, {training: true});
      const [kl] = layer.calculateLosses();
      values[`bayesianConv2d.${estimator} seeded draw`] = await flat(y);
      values[`bayesianConv2d.${estimator} KL/N`] = await scalar(kl);
      tf.dispose([y, kl]);
      layer.dispose();
    }

    // A few training steps of a small conv model (on wasm through the library's Conv2DBackpropFilter).
    const model = tf.sequential({layers: [
      make('flipout', 'bc_fit', 'mean', {inputShape: [6, 5, 2]}),
      tf.layers.flatten(),
      tf.layers.dense({units: 1, kernelInitializer: tf.initializers.randomNormal({mean: 0, stddev: 0.1, seed: 54})}),
    ]});
    model.compile({optimizer: tf.train.adam(0.05), loss: 'meanSquaredError'});
    const ys = tf.tensor2d(uniform(rng, 4, -1, 1), [4, 1]);
    const history = await model.fit(xs, ys, {epochs: 8, batchSize: 4, shuffle: false, verbose: 0});
    const losses = history.history.loss;
    // The first step's loss (initial weights, seeded draw) against cpu; later steps drift apart by
    // rounding amplified by Adam (1e-3 relative on webgl after 8 steps), so they are checked here only.
    values['bayesianConv2d.fit first-step loss'] = losses[0];
    const lastThree = losses.slice(-3).reduce((t, l) => t + l, 0) / 3;
    selfChecks.push({name: 'bayesianConv2d: 8 fit steps lower the loss (mean of the last 3 below the first)',
      ok: losses.every(Number.isFinite) && lastThree < losses[0], detail: losses.map((l) => l.toFixed(4)).join(' -> ')});
    tf.dispose([xs, ys]);
    model.dispose();
    meanLayer.dispose();
  }

  async function saveLoadSection(ctx) {
    const {selfChecks} = ctx;
    const {model} = buildVae();  // inferenceMode 'mean': deterministic predictions
    const x = vaeData();
    model.compile({optimizer: tf.train.sgd(VAE_LR), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    await model.fit(x, x, {batchSize: VAE_BATCH, epochs: 1, shuffle: false, verbose: 0});
    const expected = await flat(model.predict(x));
    const weights = await Promise.all(model.getWeights().map(flat));
    for (const url of [`indexeddb://tfv-${tf.getBackend()}`, `localstorage://tfv-${tf.getBackend()}`]) {
      await model.save(url);
      const loaded = await tf.loadLayersModel(url);
      const names = loaded.layers.map((l) => l.getClassName());
      selfChecks.push({name: `save/load ${url.split(':')[0]}: our layers come back`,
        ok: names.includes('KLDivergenceLayer') && names.includes('Reparameterize'), detail: names.join(',')});
      const loadedWeights = await Promise.all(loaded.getWeights().map(flat));
      const wDiff = Math.max(...loadedWeights.map((w, i) => maxAbsDiff(w, weights[i])));
      selfChecks.push({name: `save/load ${url.split(':')[0]}: weights identical`,
        ok: loadedWeights.length === weights.length && wDiff === 0, detail: `max diff ${wDiff}`});
      const got = await flat(loaded.predict(x));
      selfChecks.push({name: `save/load ${url.split(':')[0]}: predictions identical`,
        ok: maxAbsDiff(got, expected) === 0, detail: `max diff ${maxAbsDiff(got, expected)}`});
      loaded.compile({optimizer: tf.train.sgd(VAE_LR), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
      const h = await loaded.fit(x, x, {batchSize: VAE_BATCH, epochs: 1, shuffle: false, verbose: 0});
      selfChecks.push({name: `save/load ${url.split(':')[0]}: the loaded model trains`,
        ok: Number.isFinite(h.history.loss[0]), detail: `loss ${h.history.loss[0]}`});
      await tf.io.removeModel(url);
    }
  }

  /**
   * API calls that read tensors synchronously (dataSync). tfjs's webgpu backend
   * implements synchronous reads through a canvas copy that, on SwiftShader,
   * returns zeros for some results and then loses the device, so this runs last.
   */
  async function syncReadSection(ctx) {
    const {selfChecks} = ctx;
    if (ctx.annealedLayer) {
      const w = await ctx.annealedLayer.readKLWeight();
      selfChecks.push({name: 'klDivergence.readKLWeight() returns the weight set by setKLWeight(0.25)',
        ok: w === 0.25, detail: `got ${w}`});
      // The synchronous getter is documented as not for webgpu (see above).
      if (tf.getBackend() !== 'webgpu') {
        const ws = ctx.annealedLayer.getKLWeight();
        selfChecks.push({name: 'klDivergence.getKLWeight() returns the weight set by setKLWeight(0.25)',
          ok: ws === 0.25, detail: `got ${ws}`});
      }
    }
  }

  /**
   * The fast wasm kernels (tfv.enableFastWasmKernels, on by default) must not
   * change results: gradients of a small Dense VAE — fused bias + relu in the
   * forward pass, transposed products in the backward pass — and of a batched
   * product, computed with the fast kernels and again without, agree within
   * 1e-4 relative. On wasm the fast path must actually have run (the rewrite
   * counters move); on every other backend switching is a no-op and the
   * counters stay still. The gradients with the fast kernels (the default)
   * and a fused product with transposeB, bias and relu are also compared with
   * cpu by the runner.
   */
  const FK = {batch: 16, input: 64, hidden: 32, latent: 4, rtol: 1e-4};
  let fastKernelRuns = 0;

  function buildFastKernelModel() {
    const x = tf.input({shape: [FK.input]});
    const h = tf.layers.dense({units: FK.hidden, activation: 'relu', name: 'fk_enc'}).apply(x);
    let mu = tf.layers.dense({units: FK.latent, name: 'fk_mu'}).apply(h);
    let lv = tf.layers.dense({units: FK.latent, name: 'fk_logvar'}).apply(h);
    [mu, lv] = tfv.layers.klDivergence({name: 'fk_kl'}).apply([mu, lv]);
    const z = tfv.layers.reparameterize({seed: 17, name: 'fk_z'}).apply([mu, lv]);
    const d = tf.layers.dense({units: FK.hidden, activation: 'relu', name: 'fk_dec'}).apply(z);
    const out = tf.layers.dense({units: FK.input, name: 'fk_out'}).apply(d);
    const model = tf.model({inputs: x, outputs: out});
    const rng = mulberry32(8675309);
    for (const name of ['fk_enc', 'fk_mu', 'fk_logvar', 'fk_dec', 'fk_out']) {
      const layer = model.getLayer(name);
      layer.setWeights(layer.getWeights().map((w) => {
        const lim = w.shape.length === 2 ? Math.sqrt(6 / (w.shape[0] + w.shape[1])) : 0.1;
        return tf.tensor(uniform(rng, w.size, -lim, lim), w.shape);
      }));
    }
    return model;
  }

  /** Gradients of the negative ELBO of a fresh model (same weights, same noise) and of a batched product. */
  async function fastKernelGradients(fx) {
    const model = buildFastKernelModel();
    const x = tf.tensor2d(fx.x, [FK.batch, FK.input]);
    // tfjs-core has no gradient for the broadcast operand of a batched product,
    // so the batched left operand is the variable here.
    const a3 = tf.variable(tf.tensor3d(fx.a3, [2, FK.batch, FK.hidden]), true, `fk_a3_${++fastKernelRuns}`);
    const wb = tf.tensor2d(fx.wb, [FK.hidden, 24]);
    const lossFn = tfv.losses.bernoulliNLL({fromLogits: true});
    const vars = model.trainableWeights.map((w) => w.val);
    const {value, grads} = tf.variableGrads(() => {
      const out = model.apply(x, {training: true});
      const elbo = tf.add(tf.mean(lossFn(x, out)), tf.addN(model.calculateLosses()));
      // [2, 16, 32]·[32, 24]: a batched left operand times a shared right one
      // (its gradient is [2, 16, 24]·[32, 24]ᵀ, batched and transposed)
      const batched = tf.mean(tf.square(tf.relu(tf.matMul(a3, wb))));
      return tf.add(elbo, batched);
    }, [...vars, a3]);
    const result = {loss: await scalar(value)};
    for (const w of model.trainableWeights) result[w.originalName] = await flat(grads[w.val.name]);
    result['batched product operand'] = await flat(grads[a3.name]);
    tf.dispose([value, x, a3, wb, ...Object.values(grads)]);
    model.dispose();
    return result;
  }

  function statsDelta(before, after) {
    const d = {};
    for (const k of Object.keys(after)) d[k] = after[k] - (before[k] || 0);
    return d;
  }

  async function fastKernelsSection(ctx) {
    const {values, selfChecks, out} = ctx;
    const backend = tf.getBackend();
    const rng = mulberry32(1618);
    const fx = {
      x: Float32Array.from(uniform(rng, FK.batch * FK.input, 0, 1), (u) => (u < 0.3 ? u / 0.3 : 0)),
      a3: uniform(rng, 2 * FK.batch * FK.hidden, -1, 1),
      wb: uniform(rng, FK.hidden * 24, -0.3, 0.3),
    };
    const state = {
      enabledAtStart: tfv.isFastWasmKernelsEnabled(),
      activeAtStart: tfv.isFastWasmKernelsActive(),
      flagAtStart: tf.env().getBool(tfv.FAST_WASM_KERNELS_FLAG),
    };
    out.fastKernels = state;
    selfChecks.push({name: 'fast wasm kernels are enabled by default (import of the library)',
      ok: state.enabledAtStart === true && state.flagAtStart === true,
      detail: `isFastWasmKernelsEnabled() ${state.enabledAtStart}, ${tfv.FAST_WASM_KERNELS_FLAG} ${state.flagAtStart}`});
    if (backend === 'wasm') {
      selfChecks.push({name: 'fast wasm kernels are active on the wasm backend', ok: state.activeAtStart === true,
        detail: `isFastWasmKernelsActive() ${state.activeAtStart}`});
    }

    // A fused product with transposeB, bias and relu (the wasm loop's bias and
    // activation bug lives on this path); compared with cpu by the runner.
    const fa = tf.tensor2d(uniform(rng, FK.batch * FK.input, -1, 1), [FK.batch, FK.input]);
    const fb = tf.tensor2d(uniform(rng, FK.hidden * FK.input, -0.3, 0.3), [FK.hidden, FK.input]);
    const fbias = tf.tensor1d(uniform(rng, FK.hidden, -0.5, 0.5));
    values['fastKernels.fused matMul(transposeB, bias, relu)'] =
        await flat(tf.fused.matMul({a: fa, b: fb, transposeB: true, bias: fbias, activation: 'relu'}));

    let on;
    let off;
    let deltaOn;
    let deltaOff;
    try {
      tfv.enableFastWasmKernels();
      let s0 = tfv.getFastWasmKernelsStats();
      on = await fastKernelGradients(fx);
      deltaOn = statsDelta(s0, tfv.getFastWasmKernelsStats());
      tfv.disableFastWasmKernels();
      state.activeWhenDisabled = tfv.isFastWasmKernelsActive();
      s0 = tfv.getFastWasmKernelsStats();
      off = await fastKernelGradients(fx);
      deltaOff = statsDelta(s0, tfv.getFastWasmKernelsStats());
    } finally {
      // back to the default for the rest of the page
      if (state.enabledAtStart) tfv.enableFastWasmKernels(); else tfv.disableFastWasmKernels();
    }
    // Adam: three steps with the fast kernels on and off give the same bits
    // (the one-pass update keeps tfjs's order of float32 operations).
    const adamInit = uniform(rng, 203, -1, 1);
    const adamScale = uniform(rng, 203, 0.5, 2);
    const adamRun = async (fast) => {
      if (fast) tfv.enableFastWasmKernels(); else tfv.disableFastWasmKernels();
      const s0 = tfv.getFastWasmKernelsStats().adam;
      const v = tf.variable(tf.tensor1d(adamInit));
      const scale = tf.tensor1d(adamScale);
      const optimizer = tf.train.adam(0.01);
      for (let i = 0; i < 3; i++) tf.dispose(optimizer.minimize(() => tf.sum(tf.mul(tf.square(v), scale)), true));
      const weights = Array.from(await v.data());
      tf.dispose([v, scale]);
      optimizer.dispose();
      return {weights, fused: tfv.getFastWasmKernelsStats().adam - s0};
    };
    let adamOn;
    let adamOff;
    try {
      adamOn = await adamRun(true);
      adamOff = await adamRun(false);
    } finally {
      if (state.enabledAtStart) tfv.enableFastWasmKernels(); else tfv.disableFastWasmKernels();
    }
    const adamDiffer = adamOn.weights.filter((w, i) => !Object.is(w, adamOff.weights[i])).length;
    selfChecks.push({name: 'Adam with the fast kernels on and off: the same weights bit for bit',
      ok: adamDiffer === 0 && adamOn.weights.length === 203,
      detail: `${adamDiffer} of ${adamOn.weights.length} differ; one-pass updates on ${adamOn.fused}, off ${adamOff.fused}`});
    selfChecks.push({name: backend === 'wasm' ? 'Adam runs its one-pass update on wasm' : `Adam keeps tfjs's update on ${backend}`,
      ok: backend === 'wasm' ? adamOn.fused === 3 && adamOff.fused === 0 : adamOn.fused === 0 && adamOff.fused === 0,
      detail: `one-pass updates with fast kernels on: ${adamOn.fused}, off: ${adamOff.fused}`});

    state.activeAtEnd = tfv.isFastWasmKernelsActive();
    state.rewritesWithFastKernels = deltaOn;

    for (const [key, v] of Object.entries(on)) values[`fastKernels.${key === 'loss' ? 'loss' : `grad ${key}`}`] = v;
    // on vs off on this backend: |on - off| <= rtol * |off| + rtol * 1e-3 * max|off| element-wise
    for (const key of Object.keys(on)) {
      const a = Array.isArray(on[key]) ? on[key] : [on[key]];
      const b = Array.isArray(off[key]) ? off[key] : [off[key]];
      const scale = Math.max(...b.map(Math.abs), 1e-30);
      let ok = a.length === b.length;
      let maxRel = 0;
      let maxAbs = 0;
      for (let i = 0; ok && i < a.length; i++) {
        const d = Math.abs(a[i] - b[i]);
        maxAbs = Math.max(maxAbs, d);
        if (Math.abs(b[i]) >= 1e-3 * scale) maxRel = Math.max(maxRel, d / Math.abs(b[i]));
        if (!(d <= FK.rtol * Math.abs(b[i]) + FK.rtol * 1e-3 * scale)) ok = false;
      }
      selfChecks.push({name: `fast kernels on vs off: ${key === 'loss' ? 'loss' : `gradient of ${key}`} agrees within ${FK.rtol} relative`,
        ok, detail: `n=${a.length}, max abs ${maxAbs.toExponential(2)}, max rel ${maxRel.toExponential(2)}`});
    }
    const moved = (d) => Object.values(d).reduce((s, v) => s + v, 0);
    const fmtStats = (d) => Object.entries(d).map(([k, v]) => `${k} ${v}`).join(', ');
    if (backend === 'wasm') {
      selfChecks.push({name: 'fast kernels on: the gradient pass ran its transposed products through the SIMD module',
        ok: deltaOn.transposed > 0 && deltaOn.simd > 0, detail: fmtStats(deltaOn)});
      selfChecks.push({name: 'fast kernels off: the wasm kernels are tfjs\'s own again',
        ok: moved(deltaOff) === 0 && state.activeWhenDisabled === false,
        detail: `${fmtStats(deltaOff)}; isFastWasmKernelsActive() ${state.activeWhenDisabled}`});
    } else {
      selfChecks.push({name: `fast kernels do not touch the ${backend} backend (no rewrites on or off)`,
        ok: moved(deltaOn) === 0 && moved(deltaOff) === 0, detail: `on: ${fmtStats(deltaOn)}; off: ${fmtStats(deltaOff)}`});
    }
    selfChecks.push({name: 'fast kernels are restored to the default after switching',
      ok: tfv.isFastWasmKernelsEnabled() === state.enabledAtStart && state.activeAtEnd === state.activeAtStart,
      detail: `enabled ${tfv.isFastWasmKernelsEnabled()}, active ${state.activeAtEnd}`});
  }

  // ------------------------------------------------------------ entry point
  /** Names of the wasm binaries this page has fetched. */
  function wasmBinariesLoaded() {
    return performance.getEntriesByType('resource').map((e) => e.name.split('/').pop()).filter((n) => n.endsWith('.wasm'));
  }

  /**
   * Prepares the wasm backend before tf.setBackend('wasm'): where its binaries
   * are served, and how many XNNPACK threads to use. tfjs-backend-wasm 4.22
   * caps the thread pool at navigator.hardwareConcurrency / 2 (it assumes two
   * hardware threads per core), so on a 2-core machine it would run one
   * thread whatever setThreadsCount asks for. To test the threaded build with
   * a real pool, the page reports twice the requested count to tfjs, never
   * more threads than the machine's logical cores.
   */
  function prepareWasm(out, options) {
    if (!tf.wasm || typeof tf.wasm.setWasmPaths !== 'function') {
      out.initError = 'tf.wasm is undefined (tf-backend-wasm.min.js did not load)';
      return false;
    }
    tf.wasm.setWasmPaths(new URL('wasm/', location.href).href);
    const hardware = navigator.hardwareConcurrency || 1;
    out.info.crossOriginIsolated = self.crossOriginIsolated === true;
    out.info.hardwareConcurrency = hardware;
    const wanted = Math.min(options.wasmThreads || 0, hardware);
    if (wanted > 0) {
      if (self.crossOriginIsolated && Math.floor(hardware / 2) < wanted) {
        Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', {get: () => 2 * wanted, configurable: true});
        out.info.hardwareConcurrencyToTfjs = 2 * wanted;
      }
      tf.wasm.setThreadsCount(wanted);
      out.wasmThreadsRequested = wanted;
    }
    return true;
  }

  async function describeWasm(out, options) {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const loaded = wasmBinariesLoaded();
    out.info.build = loaded.join('+') || 'unknown';
    out.info.threads = tf.wasm.getThreadsCount();
    out.info.WASM_HAS_MULTITHREAD_SUPPORT = threads;
    out.info.WASM_HAS_SIMD_SUPPORT = simd;
    if (options.expectThreadedWasm === true) {
      out.selfChecks.push({name: 'cross-origin isolated page: SharedArrayBuffer and the threaded SIMD build',
        ok: self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' && threads === true &&
            loaded.length === 1 && loaded[0] === 'tfjs-backend-wasm-threaded-simd.wasm',
        detail: `crossOriginIsolated ${self.crossOriginIsolated}, WASM_HAS_MULTITHREAD_SUPPORT ${threads}, loaded ${loaded.join(', ')}`});
      if (out.wasmThreadsRequested) {
        out.selfChecks.push({name: `threaded build runs ${out.wasmThreadsRequested} XNNPACK threads (tf.wasm.setThreadsCount)`,
          ok: out.info.threads === out.wasmThreadsRequested,
          detail: `tf.wasm.getThreadsCount() ${out.info.threads}`});
      }
    } else if (options.expectThreadedWasm === false) {
      out.selfChecks.push({name: 'page without cross-origin isolation: the SIMD build with one thread',
        ok: self.crossOriginIsolated !== true && typeof SharedArrayBuffer === 'undefined' && threads === false &&
            loaded.length === 1 && loaded[0] === 'tfjs-backend-wasm-simd.wasm' && out.info.threads === 1,
        detail: `crossOriginIsolated ${self.crossOriginIsolated}, SharedArrayBuffer ${typeof SharedArrayBuffer}, ` +
            `WASM_HAS_MULTITHREAD_SUPPORT ${threads}, loaded ${loaded.join(', ')}, threads ${out.info.threads}`});
    }
  }

  async function initBackend(backend, out, options) {
    if (backend === 'wasm' && !prepareWasm(out, options)) return false;
    if (backend === 'webgpu') {
      if (!navigator.gpu) {
        out.initError = 'navigator.gpu is undefined (WebGPU not exposed)';
        return false;
      }
      const adapter = await navigator.gpu.requestAdapter();
      if (!adapter) {
        out.initError = 'navigator.gpu.requestAdapter() returned null';
        return false;
      }
      const adapterInfo = adapter.info || {};
      out.info.adapter = [adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' ') || 'unknown';
    }
    let ok = false;
    try {
      ok = await tf.setBackend(backend);
      await tf.ready();
    } catch (e) {
      out.initError = `tf.setBackend('${backend}') threw: ${e && e.message || e}`;
      return false;
    }
    if (!ok || tf.getBackend() !== backend) {
      out.initError = `tf.setBackend('${backend}') returned ${ok}; active backend is ${tf.getBackend()}`;
      return false;
    }
    if (backend === 'wasm') await describeWasm(out, options);
    if (backend === 'webgl') {
      out.info.webglVersion = tf.env().getNumber('WEBGL_VERSION');
      out.info.float32 = tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
    }
    out.info.tfjs = tf.version && tf.version['tfjs-core'];
    return true;
  }

  window.runChecks = async function runChecks(backend, trainingKernels, tfOnly, options = {}) {
    const out = {backend, initialised: false, info: {}, values: {}, valueSections: {}, sectionsRun: [],
      selfChecks: [], errors: {}, missingKernels: []};
    out.initialised = await initBackend(backend, out, options);
    if (!out.initialised) return out;
    out.missingKernels = (trainingKernels || []).filter((k) => !tf.getKernel(k, backend));

    const ctx = {out, values: out.values, selfChecks: out.selfChecks, fx: fixtures(),
      profileKernels: backend === 'cpu'};
    let sections = [['env', envSection]];
    if (!tfOnly) {
      if (typeof tfv === 'undefined') {
        out.errors['library bundle'] = 'global tfv is undefined (dist/tfjs-variational.min.js did not load)';
      } else {
        sections.push(['klDivergence', klSection], ['reparameterize', reparameterizeSection],
            ['losses', lossesSection], ['vae training step', vaeSection], ['bounds and flows', boundsAndFlowsSection],
            ['bayesianConv2d', bayesianConv2dSection],
            ['fast wasm kernels', fastKernelsSection],
            ['save and load', saveLoadSection],
            // last: a failed synchronous read can lose the webgpu device for the rest of the page
            ['synchronous reads', syncReadSection]);
      }
    }
    if (Array.isArray(options.sections)) sections = sections.filter(([name]) => options.sections.includes(name));
    for (const [name, fn] of sections) {
      const before = new Set(Object.keys(out.values));
      out.sectionsRun.push(name);
      try {
        await fn(ctx);
      } catch (e) {
        out.errors[name] = String(e && e.message || e);
      }
      for (const key of Object.keys(out.values)) if (!before.has(key)) out.valueSections[key] = name;
    }
    return out;
  };
})();
