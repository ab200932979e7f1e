#!/usr/bin/env node
/**
 * Normalizing flows on the 2-D energy functions of Rezende & Mohamed (2015,
 * arXiv:1505.05770), Table 1 and Figure 3: q = N(0, I₂) pushed through K
 * planar (or radial) flows, fitted to p(z) ∝ exp(−U(z)) by minimizing
 *
 *     F = E_q[log q(z_K) + U(z_K)] = KL(q ‖ p) − log Z,
 *
 * then the KL gap KL(q ‖ p) = F + log Z, with log Z from a float64 grid
 * integral and F from many fresh samples (with its standard error).
 *
 *   node examples/flows-2d/train.mjs                          # U1–U4, planar K = 2, 8, 32, radial K = 32
 *   node examples/flows-2d/train.mjs --energies U1 --planar 32 --radial '' --steps 2000
 *   node examples/flows-2d/train.mjs --help
 *
 * The target. U2, U3 and U4 do not depend on z1 far from the origin (w1 is
 * periodic, w2 → 0, w3 → 3), so exp(−U) has infinite mass over the plane and
 * KL(q ‖ p) is undefined there; the paper's pictures show the box [−4, 4]².
 * Every energy here is therefore the paper's U plus a soft wall at the box,
 *
 *     W(z) = ½ Σ_i (max(|z_i| − 4, 0) / 0.2)²,
 *
 * zero inside the box. For U1 the wall changes nothing measurable (the
 * printed log Z with and without it agree); for U2–U4 it makes p a proper
 * density, essentially exp(−U) on the box. log Z integrates exp(−U − W)
 * on [−6, 6]² (midpoint rule, float64, log-sum-exp), and is checked on a
 * grid twice as fine and on a wider one.
 *
 * Training: Adam on all the flows' weights, a fresh batch of base noise per
 * step (a seeded generator, so runs repeat), the annealed objective of the
 * paper, E_q[log q + β_t (U + W)] with β_t = min(1, 0.01 + t / T_anneal)
 * (T_anneal = --anneal × steps), and a cosine learning-rate decay to
 * 1/20 of --lr over the run.
 */
import * as fs from 'node:fs';
import {createRequire} from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import {performance} from 'node:perf_hooks';
import {fileURLToPath} from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import {PNG} from 'pngjs';

import * as tfv from '../../dist/tfjs-variational.mjs';
import {BACKENDS, chooseBackend} from '../mnist-vae/backend.mjs';
import {CliError, distinctList, nonNegativeInteger, parseFlags, positiveInteger, positiveNumber, UsageError} from '../shared/cli.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ENERGY_NAMES = ['U1', 'U2', 'U3', 'U4'];
/** Half-width of the box the targets live on, and the width of the soft wall around it. */
const BOX = 4;
const WALL = 0.2;
const LOG_2PI = Math.log(2 * Math.PI);

const DEFAULTS = {
  energies: 'U1,U2,U3,U4',
  planar: '2,8,32',
  radial: '32',
  steps: 3000,
  batch: 256,
  lr: 0.01,
  anneal: 0.2,
  seed: 0,
  evalSamples: 100000,
  grid: 1200,
  gridHalfWidth: 6,
  pixels: 128,
  out: path.join(HERE, 'out'),
  logEvery: 500,
};

const USAGE = `Usage: node examples/flows-2d/train.mjs [options]

Fits q = N(0, I) pushed through K planar or radial flows to p ∝ exp(−U) for the
2-D energies of Rezende & Mohamed (2015, Table 1), reports the KL gap
KL(q ‖ p) = E_q[log q + U] + log Z (log Z by a float64 grid integral) and writes
a picture per energy (target | q by the change of variables [| q's sample histogram]).

Options:
  --energies LIST     comma-separated subset of ${ENERGY_NAMES.join(',')} (default ${DEFAULTS.energies})
  --planar LIST       K values for planar flows, comma-separated positive integers; '' for none (default ${DEFAULTS.planar})
  --radial LIST       K values for radial flows, the same; '' for none (default ${DEFAULTS.radial})
  --steps N           Adam steps per fit (default ${DEFAULTS.steps})
  --batch N           base samples per step (default ${DEFAULTS.batch})
  --lr X              initial Adam learning rate, cosine-decayed to X/20 (default ${DEFAULTS.lr})
  --anneal X          fraction of the steps over which β rises from 0.01 to 1, in [0, 1]; 0 = no annealing (default ${DEFAULTS.anneal})
  --seed N            seed of the initial weights and of all the noise (default ${DEFAULTS.seed})
  --eval-samples N    fresh samples for the final KL estimate and the histogram (default ${DEFAULTS.evalSamples})
  --grid N            grid points per axis of the log Z integral on [−${DEFAULTS.gridHalfWidth}, ${DEFAULTS.gridHalfWidth}]² (default ${DEFAULTS.grid})
  --pixels N          side of each picture panel, showing [−4, 4]² (default ${DEFAULTS.pixels})
  --out DIR           where the PNGs and results.json go (default examples/flows-2d/out)
  --histogram         add a third panel per row: a 2-D histogram of the evaluation samples (a check of panel 2;
                      noisy, so it makes the PNG several times larger)
  --log-every N       print the training objective every N steps; 0 = never (default ${DEFAULTS.logEvery})
  --backend NAME      ${BACKENDS.join(' | ')} (default auto: tfjs-node if installed, else wasm, else cpu)
  -h, --help          show this help`;

function kList(flag, value) {
  if (value.trim() === '') return [];
  return distinctList(flag, value, (p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`--${flag} must be a comma-separated list of positive integers (or ''). Received: --${flag}=${value}`);
    }
    return n;
  });
}

function energyList(value) {
  return distinctList('energies', value, (p) => {
    const name = p.toUpperCase();
    if (!ENERGY_NAMES.includes(name)) {
      throw new UsageError(`--energies must be a comma-separated subset of ${ENERGY_NAMES.join(',')}. Received: --energies=${value}`);
    }
    return name;
  });
}

/** Parses and validates the command line. */
function parseOptions(argv) {
  const v = parseFlags(argv, {
    'energies': {type: 'string'},
    'planar': {type: 'string'},
    'radial': {type: 'string'},
    'steps': {type: 'string'},
    'batch': {type: 'string'},
    'lr': {type: 'string'},
    'anneal': {type: 'string'},
    'seed': {type: 'string'},
    'eval-samples': {type: 'string'},
    'grid': {type: 'string'},
    'pixels': {type: 'string'},
    'out': {type: 'string'},
    'log-every': {type: 'string'},
    'histogram': {type: 'boolean'},
    'backend': {type: 'string'},
    'help': {type: 'boolean', short: 'h'},
  });
  const backend = v.backend ?? 'auto';
  if (!BACKENDS.includes(backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}. Received: --backend=${backend}`);
  }
  let anneal = DEFAULTS.anneal;
  if (v.anneal !== undefined) {
    anneal = Number(v.anneal);
    if (v.anneal.trim() === '' || !Number.isFinite(anneal) || anneal < 0 || anneal > 1) {
      throw new UsageError(`--anneal must be a number in [0, 1]. Received: --anneal=${v.anneal}`);
    }
  }
  const opts = {
    help: v.help ?? false,
    energies: energyList(v.energies ?? DEFAULTS.energies),
    planar: kList('planar', v.planar ?? DEFAULTS.planar),
    radial: kList('radial', v.radial ?? DEFAULTS.radial),
    steps: v.steps === undefined ? DEFAULTS.steps : positiveInteger('steps', v.steps),
    batch: v.batch === undefined ? DEFAULTS.batch : positiveInteger('batch', v.batch),
    lr: v.lr === undefined ? DEFAULTS.lr : positiveNumber('lr', v.lr),
    anneal,
    seed: v.seed === undefined ? DEFAULTS.seed : nonNegativeInteger('seed', v.seed),
    evalSamples: v['eval-samples'] === undefined ? DEFAULTS.evalSamples : positiveInteger('eval-samples', v['eval-samples']),
    grid: v.grid === undefined ? DEFAULTS.grid : positiveInteger('grid', v.grid),
    pixels: v.pixels === undefined ? DEFAULTS.pixels : positiveInteger('pixels', v.pixels),
    out: v.out ?? DEFAULTS.out,
    histogram: v.histogram ?? false,
    logEvery: v['log-every'] === undefined ? DEFAULTS.logEvery : nonNegativeInteger('log-every', v['log-every']),
    backend,
  };
  if (opts.out.trim() === '') throw new UsageError('--out must not be empty');
  if (opts.planar.length + opts.radial.length === 0) throw new UsageError('--planar and --radial are both empty: nothing to fit');
  if (opts.evalSamples < 2) throw new UsageError('--eval-samples must be at least 2 (for a standard error)');
  return opts;
}

// ---------------------------------------------------------------------------
// Energies: float64 scalars (grid integral, evaluation) and tf tensors (training).

function lse2(a, b) {
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

function wall64(z1, z2) {
  const e1 = Math.max(Math.abs(z1) - BOX, 0) / WALL;
  const e2 = Math.max(Math.abs(z2) - BOX, 0) / WALL;
  return 0.5 * (e1 * e1 + e2 * e2);
}

/** The paper's U (Table 1) in float64, without the wall. */
const ENERGY64 = {
  U1(z1, z2) {
    const r = Math.hypot(z1, z2);
    return 0.5 * ((r - 2) / 0.4) ** 2 - lse2(-0.5 * ((z1 - 2) / 0.6) ** 2, -0.5 * ((z1 + 2) / 0.6) ** 2);
  },
  U2(z1, z2) {
    const w1 = Math.sin(2 * Math.PI * z1 / 4);
    return 0.5 * ((z2 - w1) / 0.4) ** 2;
  },
  U3(z1, z2) {
    const w1 = Math.sin(2 * Math.PI * z1 / 4);
    const w2 = 3 * Math.exp(-0.5 * ((z1 - 1) / 0.6) ** 2);
    return -lse2(-0.5 * ((z2 - w1) / 0.35) ** 2, -0.5 * ((z2 - w1 + w2) / 0.35) ** 2);
  },
  U4(z1, z2) {
    const w1 = Math.sin(2 * Math.PI * z1 / 4);
    const w3 = 3 / (1 + Math.exp(-(z1 - 1) / 0.3));
    return -lse2(-0.5 * ((z2 - w1) / 0.4) ** 2, -0.5 * ((z2 - w1 + w3) / 0.35) ** 2);
  },
};

/** log(e^a + e^b) elementwise, stable: max(a, b) + softplus(−|a − b|). */
function tfLse2(a, b) {
  return tf.add(tf.maximum(a, b), tf.softplus(tf.neg(tf.abs(tf.sub(a, b)))));
}

function halfSq(x, s) {
  return tf.mul(0.5, tf.square(tf.div(x, s)));
}

/** The paper's U (Table 1) on `[batch, 2]` rows, `[batch]`, without the wall. */
const ENERGY_TF = {
  U1(z1, z2) {
    const r = tf.sqrt(tf.add(tf.add(tf.square(z1), tf.square(z2)), 1e-12));
    return tf.sub(halfSq(tf.sub(r, 2), 0.4), tfLse2(tf.neg(halfSq(tf.sub(z1, 2), 0.6)), tf.neg(halfSq(tf.add(z1, 2), 0.6))));
  },
  U2(z1, z2) {
    const w1 = tf.sin(tf.mul(z1, 2 * Math.PI / 4));
    return halfSq(tf.sub(z2, w1), 0.4);
  },
  U3(z1, z2) {
    const w1 = tf.sin(tf.mul(z1, 2 * Math.PI / 4));
    const w2 = tf.mul(3, tf.exp(tf.neg(halfSq(tf.sub(z1, 1), 0.6))));
    const d = tf.sub(z2, w1);
    return tf.neg(tfLse2(tf.neg(halfSq(d, 0.35)), tf.neg(halfSq(tf.add(d, w2), 0.35))));
  },
  U4(z1, z2) {
    const w1 = tf.sin(tf.mul(z1, 2 * Math.PI / 4));
    const w3 = tf.mul(3, tf.sigmoid(tf.div(tf.sub(z1, 1), 0.3)));
    const d = tf.sub(z2, w1);
    return tf.neg(tfLse2(tf.neg(halfSq(d, 0.4)), tf.neg(halfSq(tf.add(d, w3), 0.35))));
  },
};

function tfWall(z) {
  const excess = tf.div(tf.relu(tf.sub(tf.abs(z), BOX)), WALL);
  return tf.mul(0.5, tf.sum(tf.square(excess), 1));
}

/** U + W on `[batch, 2]`, `[batch]`. */
function tfEnergy(name, z) {
  const z1 = tf.squeeze(tf.slice(z, [0, 0], [-1, 1]), [1]);
  const z2 = tf.squeeze(tf.slice(z, [0, 1], [-1, 1]), [1]);
  return tf.add(ENERGY_TF[name](z1, z2), tfWall(z));
}

/**
 * log ∫ exp(−U − W) over [−h, h]² by the midpoint rule on n × n cells, float64,
 * log-sum-exp (a running max); `wall: false` leaves out W.
 */
function logZ(name, n, h, wall = true) {
  const u = ENERGY64[name];
  const dx = 2 * h / n;
  const vals = new Float64Array(n * n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const z1 = -h + (i + 0.5) * dx;
    for (let j = 0; j < n; j++) {
      const z2 = -h + (j + 0.5) * dx;
      const v = -u(z1, z2) - (wall ? wall64(z1, z2) : 0);
      vals[i * n + j] = v;
      if (v > max) max = v;
    }
  }
  let s = 0;
  for (let k = 0; k < vals.length; k++) s += Math.exp(vals[k] - max);
  return max + Math.log(s) + 2 * Math.log(dx);
}

// ---------------------------------------------------------------------------
// Noise.

const {mulberry32} = createRequire(import.meta.url)('../shared/datasets.cjs');

/** A 32-bit seed for (seed, stream): distinct streams per run and per purpose. */
function streamSeed(seed, stream) {
  let h = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** n standard normals (Box–Muller) from `rand`. */
function normals(rand, n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rand();
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Flows, training, evaluation.

function makeFlows(type, k, seed) {
  const flows = [];
  for (let i = 0; i < k; i++) {
    const s = streamSeed(seed, 1000 + i);
    flows.push(type === 'planar' ?
      tfv.flows.planarFlow({kernelInitializer: {className: 'RandomNormal', config: {mean: 0, stddev: 0.1, seed: s}}}) :
      // Radial flows start as the identity (α = log 2, β = 0); distinct centres break the symmetry between them.
      tfv.flows.radialFlow({centerInitializer: {className: 'RandomNormal', config: {mean: 0, stddev: 1, seed: s}}}));
  }
  // Build the weights with one call.
  tf.tidy(() => tfv.flows.chainForwardAndLogDet(flows, tf.zeros([1, 2])));
  return flows;
}

/** log N(z; 0, I₂) per row. */
function tfLogBase(z0) {
  return tf.sub(tf.mul(-0.5, tf.sum(tf.square(z0), 1)), LOG_2PI);
}

function train(flows, energy, opts, runSeed) {
  const vars = flows.flatMap((f) => f.trainableWeights.map((w) => w.read()));
  const optimizer = tf.train.adam(opts.lr);
  const rand = mulberry32(streamSeed(runSeed, 1));
  const annealSteps = Math.round(opts.anneal * opts.steps);
  const t0 = performance.now();
  let running = 0;
  let runningN = 0;
  const log = [];
  for (let t = 0; t < opts.steps; t++) {
    const beta = annealSteps > 0 ? Math.min(1, 0.01 + t / annealSteps) : 1;
    optimizer.learningRate = opts.lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * t / opts.steps)));
    const z0 = tf.tensor2d(normals(rand, opts.batch * 2), [opts.batch, 2]);
    const cost = optimizer.minimize(() => {
      const [zK, logDet] = tfv.flows.chainForwardAndLogDet(flows, z0);
      const logQ = tf.sub(tfLogBase(z0), logDet);
      return tf.mean(tf.add(logQ, tf.mul(beta, tfEnergy(energy, zK))));
    }, true, vars);
    const every = opts.logEvery;
    if (every > 0) {
      running += cost.dataSync()[0];
      runningN++;
      if ((t + 1) % every === 0 || t + 1 === opts.steps) {
        const msPerStep = (performance.now() - t0) / (t + 1);
        const line = `    step ${t + 1}/${opts.steps}  β ${beta.toFixed(2)}  mean objective ${(running / runningN).toFixed(4)}  ${msPerStep.toFixed(1)} ms/step`;
        console.log(line);
        log.push({step: t + 1, beta, objective: running / runningN});
        running = 0;
        runningN = 0;
      }
    }
    tf.dispose([z0, cost]);
  }
  optimizer.dispose();
  return {seconds: (performance.now() - t0) / 1000, log};
}

/**
 * F = E_q[log q(z_K) + U(z_K) + W(z_K)] from n fresh samples (the energy in
 * float64 on the float32 samples), its standard error, and the samples.
 */
function evaluate(flows, energy, n, runSeed) {
  const rand = mulberry32(streamSeed(runSeed, 2));
  const chunk = 10000;
  const u = ENERGY64[energy];
  const samples = new Float32Array(2 * n);
  let sum = 0;
  let sumSq = 0;
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    const [zK, logQ] = tf.tidy(() => {
      const z0 = tf.tensor2d(normals(rand, 2 * m), [m, 2]);
      const [y, logDet] = tfv.flows.chainForwardAndLogDet(flows, z0);
      return [y, tf.sub(tfLogBase(z0), logDet)];
    });
    const zs = zK.dataSync();
    const lq = logQ.dataSync();
    tf.dispose([zK, logQ]);
    for (let i = 0; i < m; i++) {
      const z1 = zs[2 * i];
      const z2 = zs[2 * i + 1];
      const f = lq[i] + u(z1, z2) + wall64(z1, z2);
      sum += f;
      sumSq += f * f;
    }
    samples.set(zs, 2 * start);
  }
  const mean = sum / n;
  const variance = Math.max(0, (sumSq - n * mean * mean) / (n - 1));
  return {F: mean, se: Math.sqrt(variance / n), samples};
}

/** Pixel centres of a p × p panel on [−4, 4]², row-major from the top (z2 = +4) down. */
function panelPoints(p) {
  const pts = new Float32Array(2 * p * p);
  const dx = 2 * BOX / p;
  for (let row = 0; row < p; row++) {
    for (let col = 0; col < p; col++) {
      pts[2 * (row * p + col)] = -BOX + (col + 0.5) * dx;
      pts[2 * (row * p + col) + 1] = BOX - (row + 0.5) * dx;
    }
  }
  return pts;
}

/** q on the panel's pixels by the change of variables, through the chain's inverse. */
function flowDensity(flows, p) {
  const pts = panelPoints(p);
  return tf.tidy(() => {
    const y = tf.tensor2d(pts, [p * p, 2]);
    const [z0, logDetInv] = tfv.flows.chainInverseAndLogDet(flows, y);
    return tf.exp(tf.add(tfLogBase(z0), logDetInv)).dataSync();
  });
}

function targetDensity(energy, p) {
  const pts = panelPoints(p);
  const out = new Float64Array(p * p);
  for (let i = 0; i < p * p; i++) out[i] = Math.exp(-ENERGY64[energy](pts[2 * i], pts[2 * i + 1]) - wall64(pts[2 * i], pts[2 * i + 1]));
  return out;
}

function histogram(samples, p) {
  const out = new Float64Array(p * p);
  const dx = 2 * BOX / p;
  for (let i = 0; i < samples.length; i += 2) {
    const col = Math.floor((samples[i] + BOX) / dx);
    const row = Math.floor((BOX - samples[i + 1]) / dx);
    if (col >= 0 && col < p && row >= 0 && row < p) out[row * p + col]++;
  }
  return out;
}

/** A dark-to-bright colour ramp (black, purple, orange, pale yellow), v in [0, 1]. */
const RAMP = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
function colour(v) {
  const x = Math.min(1, Math.max(0, v)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  return RAMP[i].map((c, k) => Math.round(c + f * (RAMP[i + 1][k] - c)));
}

/** Writes a grid of panels (each a p × p array, scaled to its own maximum) as one PNG. */
function writePanels(file, rows, p) {
  const gap = 2;
  const nCols = Math.max(...rows.map((r) => r.length));
  const width = nCols * p + (nCols - 1) * gap;
  const height = rows.length * p + (rows.length - 1) * gap;
  const png = new PNG({width, height, colorType: 2, inputHasAlpha: false});
  png.data.fill(255);
  rows.forEach((panels, r) => {
    panels.forEach((panel, c) => {
      let max = 0;
      for (const v of panel) if (Number.isFinite(v) && v > max) max = v;
      for (let i = 0; i < p * p; i++) {
        // 64 levels: indistinguishable by eye, and the PNG deflates far better than with 256.
        const level = max > 0 && Number.isFinite(panel[i]) ? Math.round(63 * Math.min(1, panel[i] / max)) / 63 : 0;
        const [R, G, B] = colour(level);
        const x = c * (p + gap) + (i % p);
        const y = r * (p + gap) + Math.floor(i / p);
        const o = 4 * (y * width + x);
        png.data[o] = R;
        png.data[o + 1] = G;
        png.data[o + 2] = B;
        png.data[o + 3] = 255;
      }
    });
  });
  // No row filter and the default deflate strategy: for these flat-shaded panels, under half the size of pngjs's defaults (a filter per row, Z_RLE).
  fs.writeFileSync(file, PNG.sync.write(png, {colorType: 2, filterType: 0, deflateLevel: 9, deflateStrategy: 0}));
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const {backend, reason} = await chooseBackend(opts.backend);
  fs.mkdirSync(opts.out, {recursive: true});
  const configs = [...opts.planar.map((k) => ({type: 'planar', k})), ...opts.radial.map((k) => ({type: 'radial', k}))];
  console.log(`backend ${backend} (${reason}); tfjs-core ${tf.version_core}; Node ${process.version}; ${os.cpus().length} cores`);
  console.log(`steps ${opts.steps}, batch ${opts.batch}, Adam lr ${opts.lr} (cosine to ${opts.lr / 20}), anneal over ${Math.round(opts.anneal * opts.steps)} steps, seed ${opts.seed}`);

  // Self-check: the tf energies match the float64 ones.
  {
    const rand = mulberry32(streamSeed(opts.seed, 3));
    const pts = normals(rand, 2000).map((v) => 2.5 * v);
    for (const e of opts.energies) {
      const got = tf.tidy(() => tfEnergy(e, tf.tensor2d(pts, [1000, 2])).dataSync());
      for (let i = 0; i < 1000; i++) {
        const want = ENERGY64[e](pts[2 * i], pts[2 * i + 1]) + wall64(pts[2 * i], pts[2 * i + 1]);
        if (!(Math.abs(got[i] - want) <= 1e-3 * Math.max(1, Math.abs(want)))) {
          throw new CliError(`self-check: ${e} at (${pts[2 * i]}, ${pts[2 * i + 1]}) is ${got[i]} in tf, ${want} in float64`);
        }
      }
    }
  }

  const results = {
    command: `node examples/flows-2d/train.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    backend, tfjsCore: tf.version_core, node: process.version, cores: os.cpus().length, cpu: os.cpus()[0]?.model,
    options: {...opts, out: undefined}, energies: {},
  };
  const h = DEFAULTS.gridHalfWidth;
  for (const energy of opts.energies) {
    const t0 = performance.now();
    const lz = logZ(energy, opts.grid, h);
    const lzFine = logZ(energy, 2 * opts.grid, h);
    const lzWide = logZ(energy, Math.round(opts.grid * (h + 2) / h), h + 2);
    const lzNoWall = logZ(energy, Math.round(opts.grid * 4 / h), 4, false);
    console.log(`\n${energy}: log Z = ${lz.toFixed(6)} (grid ${opts.grid}² on [−${h}, ${h}]²; ` +
      `${2 * opts.grid}² grid: ${lzFine.toFixed(6)}; [−${h + 2}, ${h + 2}]²: ${lzWide.toFixed(6)}; ` +
      `exp(−U) alone on [−4, 4]²: ${lzNoWall.toFixed(6)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const entry = {logZ: lz, logZFine: lzFine, logZWide: lzWide, logZBoxNoWall: lzNoWall, fits: []};
    results.energies[energy] = entry;
    const rows = [];
    const target = targetDensity(energy, opts.pixels);
    for (const {type, k} of configs) {
      const runSeed = streamSeed(opts.seed, ENERGY_NAMES.indexOf(energy) * 10000 + (type === 'planar' ? 0 : 5000) + k);
      console.log(`  ${type} K = ${k}`);
      const flows = makeFlows(type, k, runSeed);
      const {seconds, log} = train(flows, energy, opts, runSeed);
      const te = performance.now();
      const {F, se, samples} = evaluate(flows, energy, opts.evalSamples, runSeed);
      const density = flowDensity(flows, opts.pixels);
      const evalSeconds = (performance.now() - te) / 1000;
      const kl = F + lz;
      // A check of the inverse: q's mass on the box by the grid (change of variables) and by the samples.
      const cell = (2 * BOX / opts.pixels) ** 2;
      let gridMass = 0;
      for (const v of density) gridMass += v * cell;
      let inBox = 0;
      for (let i = 0; i < samples.length; i += 2) if (Math.abs(samples[i]) < BOX && Math.abs(samples[i + 1]) < BOX) inBox++;
      const sampleMass = inBox / opts.evalSamples;
      console.log(`  ${type} K = ${k}: F = ${F.toFixed(4)} ± ${se.toFixed(4)}, KL(q‖p) = ${kl.toFixed(4)} ± ${se.toFixed(4)} nats ` +
        `(${opts.evalSamples} samples); train ${seconds.toFixed(0)} s, eval ${evalSeconds.toFixed(1)} s; ` +
        `q's mass on [−4, 4]²: ${gridMass.toFixed(4)} by the grid, ${sampleMass.toFixed(4)} by the samples`);
      entry.fits.push({type, k, F, se, kl, trainSeconds: seconds, evalSeconds, gridMass, sampleMass, log});
      rows.push(opts.histogram ? [target, density, histogram(samples, opts.pixels)] : [target, density]);
      flows.forEach((f) => f.dispose());
      fs.writeFileSync(path.join(opts.out, 'results.json'), JSON.stringify(results, null, 1));
    }
    writePanels(path.join(opts.out, `${energy}.png`), rows, opts.pixels);
  }
  console.log('\nKL(q ‖ p) in nats (± standard error):');
  console.log(['energy', 'log Z', ...configs.map((c) => `${c.type} K=${c.k}`)].join(' | '));
  for (const energy of opts.energies) {
    const e = results.energies[energy];
    console.log([energy, e.logZ.toFixed(4), ...e.fits.map((f) => `${f.kl.toFixed(3)} ± ${f.se.toFixed(3)}`)].join(' | '));
  }
}

main().catch((e) => {
  if (e instanceof CliError) {
    console.error(e instanceof UsageError ? `${e.message}\n\n${USAGE}` : e.message);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
  console.error(e);
  process.exit(1);
});
