/**
 * Running per-example sums over the Monte Carlo passes of one batch, for
 * `predictive`: class probabilities and entropies, or the mean and squared
 * deviations of regression outputs (with a Gaussian head's variances).
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `p log p` is taken with `log max(p, 1e-30)`: 0 log 0 = 0 exactly, a
 * probability below 1e-30 contributes less than 7e-29 nats, and a NaN stays
 * NaN (a `where(p > 0, …)` would turn it into 0).
 */
const LOG_FLOOR = Math.log(1e-30);

/** `−Σ_c p_c log p_c` over the last axis, from log-probabilities. */
export function entropyOfLog(p: tf.Tensor, logP: tf.Tensor): tf.Tensor {
  return tf.neg(tf.sum(tf.mul(p, tf.maximum(logP, LOG_FLOOR)), -1));
}

function entropy(p: tf.Tensor): tf.Tensor {
  return tf.tidy(() => entropyOfLog(p, tf.log(p)));
}

/** Running per-example sums over the draws of one batch. */
export interface Accumulator {
  /** Adds one pass: `outputs` has rows `[b·k, …]` (k draws per example, example-major). */
  add(outputs: tf.Tensor[], k: number): void;
  finish(): tf.Tensor[];
  dispose(): void;
}

/** `[b·k, …] → [b, k, …]`. */
function byExample(t: tf.Tensor, b: number, k: number): tf.Tensor {
  return tf.reshape(t, [b, k, ...t.shape.slice(1)]);
}

export class ClassificationAccumulator implements Accumulator {
  private sumP: tf.Tensor|null = null;
  private sumH: tf.Tensor|null = null;
  private n = 0;

  constructor(private readonly b: number, private readonly fromLogits: boolean) {}

  add(outputs: tf.Tensor[], k: number): void {
    const [sumP, sumH] = tf.tidy(() => {
      const out = byExample(outputs[0], this.b, k);
      // From logits, log p = log softmax(z) (max-subtracted); p = e^{log p}.
      const logP = this.fromLogits ? tf.logSoftmax(out) : tf.log(out);
      const p = this.fromLogits ? tf.exp(logP) : out;
      const h = entropyOfLog(p, logP);
      const dp = tf.sum(p, 1);
      const dh = tf.sum(h, 1);
      return [this.sumP === null ? dp : tf.add(this.sumP, dp), this.sumH === null ? dh : tf.add(this.sumH, dh)];
    });
    this.dispose();
    this.sumP = sumP;
    this.sumH = sumH;
    this.n += k;
  }

  finish(): tf.Tensor[] {
    return tf.tidy(() => {
      const probs = tf.div(this.sumP!, this.n);
      const predictiveEntropy = entropy(probs);
      const expectedEntropy = tf.div(this.sumH!, this.n);
      // H[p̄] ≥ E[H p] by concavity of the entropy; float32 rounding can put it a few ulps below, so clamp at 0.
      const mutualInformation = tf.maximum(tf.sub(predictiveEntropy, expectedEntropy), 0);
      return [probs, predictiveEntropy, expectedEntropy, mutualInformation];
    });
  }

  dispose(): void {
    this.sumP?.dispose();
    this.sumH?.dispose();
    this.sumP = this.sumH = null;
  }
}

/**
 * Mean and sum of squared deviations by Chan et al.'s pairwise update (each
 * pass's k draws merged at once): no `E[y²] − E[y]²`, which cancels
 * catastrophically in float32 when the spread is small against the mean.
 * With a Gaussian head also the sum of the predicted variances.
 */
export class RegressionAccumulator implements Accumulator {
  private mean: tf.Tensor|null = null;
  private m2: tf.Tensor|null = null;
  private sumVar: tf.Tensor|null = null;
  private n = 0;

  constructor(private readonly b: number, private readonly gaussianHead: boolean) {}

  add(outputs: tf.Tensor[], k: number): void {
    const n = this.n + k;
    const next = tf.tidy(() => {
      let mu: tf.Tensor;
      let logVar: tf.Tensor|null = null;
      if (!this.gaussianHead) {
        mu = outputs[0];
      } else if (outputs.length === 2) {
        [mu, logVar] = outputs;
      } else {
        [mu, logVar] = tf.split(outputs[0], 2, -1);
      }
      const y = byExample(mu, this.b, k);
      const meanB = tf.mean(y, 1);
      const m2B = tf.sum(tf.square(tf.sub(y, tf.expandDims(meanB, 1))), 1);
      let mean = meanB;
      let m2 = m2B;
      if (this.mean !== null && this.m2 !== null) {
        const delta = tf.sub(meanB, this.mean);
        mean = tf.add(this.mean, tf.mul(delta, k / n));
        m2 = tf.add(tf.add(this.m2, m2B), tf.mul(tf.square(delta), this.n * k / n));
      }
      const result = [mean, m2];
      if (logVar !== null) {
        const v = tf.sum(tf.exp(byExample(logVar, this.b, k)), 1);
        result.push(this.sumVar === null ? v : tf.add(this.sumVar, v));
      }
      return result;
    });
    this.dispose();
    [this.mean, this.m2] = next;
    this.sumVar = next[2] ?? null;
    this.n = n;
  }

  finish(): tf.Tensor[] {
    return tf.tidy(() => {
      const epistemicVar = tf.div(this.m2!, this.n);
      if (this.sumVar === null) return [tf.clone(this.mean!), tf.sqrt(epistemicVar)];
      const aleatoricVar = tf.div(this.sumVar, this.n);
      // The law of total variance for the S-component mixture.
      return [tf.clone(this.mean!), tf.sqrt(tf.add(aleatoricVar, epistemicVar)), tf.sqrt(epistemicVar), tf.sqrt(aleatoricVar)];
    });
  }

  dispose(): void {
    this.mean?.dispose();
    this.m2?.dispose();
    this.sumVar?.dispose();
    this.mean = this.m2 = this.sumVar = null;
  }
}
