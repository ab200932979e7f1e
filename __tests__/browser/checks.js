/**
 * Page side of the browser suite (loaded by index.html next to tf.min.js,
 * tf-backend-webgpu.min.js and tfjs-variational.min.js).
 *
 * window.runChecks(backend, trainingKernels, tfOnly) switches tfjs to
 * `backend`, computes every value on deterministic inputs and returns plain
 * data to the runner:
 *   {backend, initialised, initError?, info, values, selfChecks, errors, missingKernels, trainingKernels?}
 * `values` are compared by the runner against the cpu page; `selfChecks` are
 * judged here (analytic values, invariants). Every page does the same calls in
 * the same order, so seeded sampling draws the same noise on every backend.
 */
(function () {
  'use strict';

  // ------------------------------------------------------------ utilities
  /** Small seeded PRNG (mulberry32): identical sequences in every page. */
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
    // rows b*k+s belong to example b: standardised noise is finite and mean is near mu
    let worst = 0;
    for (let r = 0; r < B * k; r++) {
      const ex = Math.floor(r / k);
      for (let d = 0; d < D; d++) {
        const e = (zkv[r * D + d] - fx.mu[ex * D + d]) / Math.exp(fx.logVar[ex * D + d] / 2);
        worst = Math.max(worst, Math.abs(e));
      }
    }
    selfChecks.push({name: 'reparameterize(samples=3) rows are example-major (|eps| < 6 under that layout)',
      ok: worst < 6, detail: `max |eps| ${worst.toFixed(3)}`});

    // (b4) noise statistics on a larger batch
    const N = 4096;
    const big = tfv.layers.reparameterize({seed: 5});
    const zeros = tf.zeros([N, 2]);
    const e = await flat(big.apply([zeros, zeros], {training: true}));
    const m = e.reduce((s, v) => s + v, 0) / e.length;
    const sd = Math.sqrt(e.reduce((s, v) => s + (v - m) * (v - m), 0) / e.length);
    selfChecks.push({name: 'reparameterize noise is standard normal (mean, sd of 8192 draws)',
      ok: Math.abs(m) < 0.05 && Math.abs(sd - 1) < 0.05, detail: `mean ${m.toFixed(4)}, sd ${sd.toFixed(4)}`});
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

  // ------------------------------------------------------------ entry point
  async function initBackend(backend, out) {
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
    if (backend === 'webgl') {
      out.info.webglVersion = tf.env().getNumber('WEBGL_VERSION');
      out.info.float32 = tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
    }
    out.info.tfjs = tf.version && tf.version['tfjs-core'];
    return true;
  }

  window.runChecks = async function runChecks(backend, trainingKernels, tfOnly) {
    const out = {backend, initialised: false, info: {}, values: {}, selfChecks: [], errors: {}, missingKernels: []};
    out.initialised = await initBackend(backend, out);
    if (!out.initialised) return out;
    out.missingKernels = (trainingKernels || []).filter((k) => !tf.getKernel(k, backend));

    const ctx = {out, values: out.values, selfChecks: out.selfChecks, fx: fixtures(),
      profileKernels: backend === 'cpu'};
    const sections = [['env', envSection]];
    if (!tfOnly) {
      if (typeof tfv === 'undefined') {
        out.errors['library bundle'] = 'global tfv is undefined (dist/tfjs-variational.min.js did not load)';
      } else {
        sections.push(['klDivergence', klSection], ['reparameterize', reparameterizeSection],
            ['losses', lossesSection], ['vae training step', vaeSection], ['save and load', saveLoadSection],
            // last: a failed synchronous read can lose the webgpu device for the rest of the page
            ['synchronous reads', syncReadSection]);
      }
    }
    for (const [name, fn] of sections) {
      try {
        await fn(ctx);
      } catch (e) {
        out.errors[name] = String(e && e.message || e);
      }
    }
    return out;
  };
})();
