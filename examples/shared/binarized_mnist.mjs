/**
 * Dynamically binarized MNIST for the examples: every epoch a seeded row
 * permutation of the training images and a fresh draw x ~ Bernoulli(intensity),
 * so runs repeat for a given seed.
 */
import {createRequire} from 'node:module';

const require = createRequire(import.meta.url);
const datasets = require('./datasets.cjs');

const PIXELS = 784;

/** x ~ Bernoulli(intensity), pixel by pixel, from mulberry32(seed). */
export function binarize(intensities, seed) {
  const rand = datasets.mulberry32(seed);
  const out = new Float32Array(intensities.length);
  for (let i = 0; i < out.length; i++) out[i] = rand() < intensities[i] ? 1 : 0;
  return out;
}

/** The seed of the test images' one binarization: the same for every run and every --seed. */
export const TEST_BINARIZATION_SEED = 1509;

/**
 * The embedded digits split as the binarized examples use them: the first
 * `trainCount` images' intensities (binarized afresh each epoch by
 * `trainingEpoch`) and the last `testCount` images binarized once with
 * `TEST_BINARIZATION_SEED`.
 */
export function embeddedBinarizedSplit(trainCount, testCount) {
  const all = datasets.loadEmbeddedMnist({split: 'all'});
  return {
    trainImages: all.images.subarray(0, trainCount * PIXELS),
    testImages: binarize(all.images.subarray((all.n - testCount) * PIXELS), TEST_BINARIZATION_SEED),
  };
}

/** A 32-bit seed for (seed, epoch): distinct streams per epoch and per --seed. */
function epochSeed(seed, epoch) {
  let h = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** One epoch's training images: a seeded row permutation, then a fresh binarization. */
export function trainingEpoch(images, n, seed, epoch) {
  const s = epochSeed(seed, epoch);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = datasets.mulberry32(s ^ 0x5bd1e995);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const shuffled = new Float32Array(n * PIXELS);
  for (let i = 0; i < n; i++) shuffled.set(images.subarray(order[i] * PIXELS, (order[i] + 1) * PIXELS), i * PIXELS);
  return binarize(shuffled, s);
}
