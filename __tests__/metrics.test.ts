/**
 * tfv.metrics: hand-computed values, brute-force references (every pair for
 * AUROC, a direct per-bin loop for the calibration errors), edge cases
 * (empty bins, all correct, ties, one class) and argument errors. No
 * statistical assertions: the random data are fixed by mulberry32 seeds.
 */
import * as tf from '@tensorflow/tfjs-core';

import * as tfv from '../src';
import {NODE_BACKENDS, useBackend} from './helpers/backends';
import {mulberry32} from './helpers/random';

const {accuracy, auroc, expectedCalibrationError, negativeLogLikelihood, reliabilityDiagram} = tfv.metrics;

/** `n` rows of `c` probabilities from a seeded generator (some rows sharpened, some ties). */
function randomProbs(n: number, c: number, seed: number): {probs: number[][], labels: number[]} {
  const next = mulberry32(seed);
  const probs: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const sharp = 1 + 8 * next();
    const raw = Array.from({length: c}, () => next() ** sharp);
    const s = raw.reduce((a, b) => a + b, 0);
    probs.push(raw.map((r) => r / s));
    labels.push(Math.floor(next() * c));
  }
  return {probs, labels};
}

/** ECE and MCE by a direct loop: for each bin, scan every example (the reference). */
function bruteCalibration(probs: number[][], labels: number[], bins: number): {ece: number, mce: number, counts: number[]} {
  let ece = 0;
  let mce = 0;
  const counts: number[] = [];
  for (let b = 0; b < bins; b++) {
    const lo = b / bins;
    const hi = (b + 1) / bins;
    let n = 0;
    let hits = 0;
    let conf = 0;
    probs.forEach((row, i) => {
      const c = Math.max(...row);
      const inBin = (c > lo || (b === 0 && c >= 0)) && c <= hi;
      if (!inBin) return;
      n++;
      conf += c;
      if (row.indexOf(c) === labels[i]) hits++;
    });
    counts.push(n);
    if (n === 0) continue;
    const gap = Math.abs(hits / n - conf / n);
    ece += (n / probs.length) * gap;
    mce = Math.max(mce, gap);
  }
  return {ece, mce, counts};
}

describe('expectedCalibrationError and reliabilityDiagram', () => {
  // Hand-computed, 5 bins (0.2 wide): confidences 0.9 (right), 0.7 (wrong), 0.7 (right), 0.55 (right).
  // (0.8, 1]: acc 1, conf 0.9, gap 0.1; (0.6, 0.8]: acc 0.5, conf 0.7, gap 0.2; (0.4, 0.6]: acc 1,
  // conf 0.55, gap 0.45. ECE = (0.1 + 2·0.2 + 0.45)/4 = 0.2375, MCE = 0.45; bins 0 and 1 empty.
  const probs = [[0.9, 0.1], [0.7, 0.3], [0.3, 0.7], [0.55, 0.45]];
  const labels = [0, 1, 1, 0];

  it('equals the hand-computed diagram, ECE and MCE, with empty bins as null', async () => {
    const d = await reliabilityDiagram(probs, labels, {bins: 5});
    expect(d.numExamples).toBe(4);
    expect(d.bins.map((b) => b.count)).toEqual([0, 0, 1, 2, 1]);
    expect(d.bins[0]).toEqual({lower: 0, upper: 0.2, count: 0, accuracy: null, confidence: null});
    expect(d.bins[2].lower).toBeCloseTo(0.4, 15);
    expect(d.bins[2].upper).toBeCloseTo(0.6, 15);
    expect(d.bins.map((b) => b.accuracy)).toEqual([null, null, 1, 0.5, 1]);
    expect(d.bins[3].confidence).toBeCloseTo(0.7, 14);
    expect(d.bins[4].confidence).toBeCloseTo(0.9, 14);
    expect(d.ece).toBeCloseTo(0.2375, 14);
    expect(d.maxCalibrationError).toBeCloseTo(0.45, 14);
    expect(await expectedCalibrationError(probs, labels, {bins: 5})).toBeCloseTo(0.2375, 14);
  });

  it('takes one-hot labels as class indices', async () => {
    const oneHot = labels.map((l) => [l === 0 ? 1 : 0, l === 1 ? 1 : 0]);
    expect(await expectedCalibrationError(probs, oneHot, {bins: 5})).toBeCloseTo(0.2375, 14);
  });

  it('puts a confidence on a bin edge in the lower bin, (lower, upper]', async () => {
    // 0.6 = 3/5 exactly in float64, though 0.6·5 rounds to 3.0000000000000004.
    const d = await reliabilityDiagram([[0.6, 0.4], [0.4, 0.6], [0.2, 0.8]], [0, 0, 1], {bins: 5});
    expect(d.bins.map((b) => b.count)).toEqual([0, 0, 2, 1, 0]);
  });

  it('equals a direct per-bin loop on 500 random examples of 4 classes, for 1, 7, 15 and 40 bins', async () => {
    const {probs: p, labels: y} = randomProbs(500, 4, 77);
    for (const bins of [1, 7, 15, 40]) {
      const ref = bruteCalibration(p, y, bins);
      const d = await reliabilityDiagram(p, y, {bins});
      expect(d.bins.map((b) => b.count)).toEqual(ref.counts);
      expect(d.ece).toBeCloseTo(ref.ece, 12);
      expect(d.maxCalibrationError).toBeCloseTo(ref.mce, 12);
    }
    // One bin: ECE = |accuracy − mean confidence|.
    const acc = await accuracy(p, y);
    const meanConf = p.reduce((s, row) => s + Math.max(...row), 0) / p.length;
    expect(await expectedCalibrationError(p, y, {bins: 1})).toBeCloseTo(Math.abs(acc - meanConf), 12);
    // Default: 15 bins.
    expect(await expectedCalibrationError(p, y)).toBeCloseTo(bruteCalibration(p, y, 15).ece, 12);
  });

  it('gives 1 − mean confidence when all are correct, counts ties as the first class, and takes one class', async () => {
    const allRight = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]];
    expect(await expectedCalibrationError(allRight, [0, 1, 0])).toBeCloseTo(1 - (0.9 + 0.8 + 0.6) / 3, 14);
    // Ties: argmax is the first maximum (as tf.argMax), so label 1 is a miss.
    const d = await reliabilityDiagram([[0.5, 0.5]], [1], {bins: 2});
    expect(d.bins.map((b) => [b.count, b.accuracy])).toEqual([[1, 0], [0, null]]);
    expect(d.ece).toBeCloseTo(0.5, 15);
    // One class: confidence 1, always right.
    expect(await expectedCalibrationError([[1], [1]], [0, 0])).toBe(0);
    expect(await accuracy([[1], [1]], [0, 0])).toBe(1);
  });

  it('rejects bad arguments, naming them', async () => {
    await expect(expectedCalibrationError(probs, labels, {bins: 0})).rejects.toThrow(/bins to be a positive integer. Received: bins=0/);
    await expect(expectedCalibrationError(probs, labels, {bins: 2.5})).rejects.toThrow(/Received: bins=2.5/);
    await expect(reliabilityDiagram(probs, labels, {bin: 3} as never)).rejects.toThrow(/bin/);
    await expect(expectedCalibrationError([0.5, 0.5] as never, labels)).rejects.toThrow(/probs to be class probabilities/);
    await expect(expectedCalibrationError([[2, -1]], [0])).rejects.toThrow(/probabilities in \[0, 1\].*element 0=2/);
    await expect(expectedCalibrationError([[NaN, 1]], [0])).rejects.toThrow(/element 0=NaN/);
    await expect(expectedCalibrationError([] as never, [])).rejects.toThrow(/probs/);
    await expect(expectedCalibrationError(probs, [0, 1])).rejects.toThrow(/labels of shape \[4\].*Received: labels shape=\[2\]/);
    await expect(expectedCalibrationError(probs, [0, 1, 2, 0])).rejects.toThrow(/class indices in 0..1. Received: labels element 2=2/);
    await expect(expectedCalibrationError(probs, [0, 1, 0.5, 0])).rejects.toThrow(/element 2=0.5/);
    await expect(expectedCalibrationError(probs, [[1, 0], [0, 1], [1, 1], [1, 0]])).rejects.toThrow(/one-hot.*row 2=\[1, 1\]/);
    await expect(expectedCalibrationError(probs, 'abc' as never)).rejects.toThrow(/labels/);
  });
});

describe('negativeLogLikelihood and accuracy', () => {
  it('equal the hand-computed values, with the 1e-7 clip for a probability of 0', async () => {
    const p = [[0.9, 0.1], [0.2, 0.8], [0, 1]];
    expect(await negativeLogLikelihood(p, [0, 0, 0])).toBeCloseTo((-Math.log(0.9) - Math.log(0.2) - Math.log(1e-7)) / 3, 12);
    expect(await negativeLogLikelihood(p, [[1, 0], [0, 1], [0, 1]])).toBeCloseTo((-Math.log(0.9) - Math.log(0.8) - 0) / 3, 12);
    expect(await accuracy(p, [0, 0, 0])).toBeCloseTo(1 / 3, 15);
    expect(await accuracy(p, [0, 1, 1])).toBe(1);
  });

  it('reject labels that do not match', async () => {
    await expect(negativeLogLikelihood([[0.5, 0.5]], [3])).rejects.toThrow(/negativeLogLikelihood: expected labels to be class indices/);
    await expect(accuracy([[0.5, 0.5]], [[0, 0]])).rejects.toThrow(/accuracy: expected one-hot labels/);
  });
});

describe('auroc', () => {
  /** Every pair: P(s⁺ > s⁻) + ½ P(s⁺ = s⁻). */
  function allPairs(pos: number[], neg: number[]): number {
    let u = 0;
    for (const a of pos) for (const b of neg) u += a > b ? 1 : a === b ? 0.5 : 0;
    return u / (pos.length * neg.length);
  }

  it('equals the hand-computed value with a tie counted ½', async () => {
    // Pairs (3,1) (3,2) (2,1) win, (2,2) ties: 3.5 / 4.
    expect(await auroc([3, 2], [1, 2])).toBe(0.875);
    expect(await auroc([5, 6], [1, 2, 3])).toBe(1);
    expect(await auroc([1, 2, 3], [5, 6])).toBe(0);
    expect(await auroc([2, 2], [2, 2, 2])).toBe(0.5);
    expect(await auroc([Infinity], [-Infinity, 1e308, Infinity])).toBeCloseTo(5 / 6, 15);
  });

  it('equals the all-pairs count on random scores with many ties, in any order', async () => {
    const next = mulberry32(2024);
    for (const [np, nn] of [[1, 1], [37, 53], [300, 211]]) {
      // Scores rounded to 0.1, so ties are frequent.
      const pos = Array.from({length: np}, () => Math.round(10 * (next() + 0.3)) / 10);
      const neg = Array.from({length: nn}, () => Math.round(10 * next()) / 10);
      expect(await auroc(pos, neg)).toBeCloseTo(allPairs(pos, neg), 14);
      expect(await auroc(neg, pos)).toBeCloseTo(1 - allPairs(pos, neg), 14);
    }
  });

  it('rejects empty, NaN and non-numeric scores, naming the argument', async () => {
    await expect(auroc([], [1])).rejects.toThrow(/auroc: expected scoresPositive to be a non-empty/);
    await expect(auroc([1], [])).rejects.toThrow(/scoresNegative/);
    await expect(auroc([1, NaN], [1])).rejects.toThrow(/scoresPositive element 1=NaN/);
    await expect(auroc(['a'] as never, [1])).rejects.toThrow(/scoresPositive/);
    await expect(auroc(3 as never, [1])).rejects.toThrow(/scoresPositive/);
  });
});

describe.each(NODE_BACKENDS)('tfv.metrics on %s tensors', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('read tensors (float32 probabilities, int32 or one-hot labels, any score shape) and leak none', async () => {
    const {probs: p, labels: y} = randomProbs(200, 3, 5);
    const probs = tf.tensor2d(p);
    const labels = tf.tensor1d(y, 'int32');
    const oneHot = tf.oneHot(labels, 3);
    const scores = tf.tensor2d([[0.1, 0.7], [0.3, 0.3]]);
    const negative = tf.tensor1d([0.3]);
    const before = tf.memory().numTensors;
    // References on the float32-rounded values, so the only difference is float64 arithmetic.
    const p32 = p.map((row) => Array.from(Float32Array.from(row)));
    const ref = bruteCalibration(p32, y, 15);
    expect(await expectedCalibrationError(probs, labels)).toBeCloseTo(ref.ece, 12);
    expect(await expectedCalibrationError(probs, oneHot)).toBeCloseTo(ref.ece, 12);
    expect((await reliabilityDiagram(probs, labels)).maxCalibrationError).toBeCloseTo(ref.mce, 12);
    expect(await accuracy(probs, labels)).toBe(await accuracy(p32, y));
    expect(await negativeLogLikelihood(probs, oneHot)).toBeCloseTo(await negativeLogLikelihood(p32, y), 12);
    // Scores [0.1, 0.7, 0.3, 0.3] (float32) against [0.3]: 0.7 wins, the two 0.3 tie, 0.1 loses: (1 + 2·½)/4.
    expect(await auroc(scores, negative)).toBe(0.5);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([probs, labels, oneHot, scores, negative]);
  });
});

