/**
 * `MixtureOfGaussians`: a finite mixture of diagonal normals over vectors.
 */
import * as tf from '@tensorflow/tfjs-core';

import {deriveSeed} from '../util/seed';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkKnownOptions} from '../util/validate';
import {Categorical} from './categorical';
import {checkOptionalSeed, checkParam, checkSampleShape, Distribution, Param, toTensor} from './distribution';
import {normalNegLogProb, normalSampleFromNoise} from './normal';

export interface MixtureOfGaussiansArgs {
  /** Unnormalised log-weights of the K components, `[K]`. */
  logits: Param;
  /** Component means, `[K, d]`. */
  locs: Param;
  /** Component standard deviations, `[K, d]`, > 0. */
  scales: Param;
}

/**
 * `log Σ_k e^{a_k}` along the last axis, max-shifted, with the gradient
 * `softmax(a)`. A row whose entries are all −∞ (a point beyond every
 * component's float32 range) gives −∞ with a zero gradient, where the
 * max-shifted form would compute `−∞ − (−∞) = NaN`.
 */
const logSumExpLast = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
  const m = tf.max(a, -1, true);
  const shift = tf.where(tf.equal(m, -Infinity), tf.zerosLike(m), m);
  const kept = tf.add(tf.log(tf.sum(tf.exp(tf.sub(a, shift)), -1, true)), shift);  // [..., 1]
  save([a, kept]);
  return {
    value: tf.reshape(kept, a.shape.slice(0, -1)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sKept] = saved;
      const w = tf.where(tf.equal(sKept, -Infinity), tf.zerosLike(sa), tf.exp(tf.sub(sa, sKept)));
      return [tf.mul(tf.expandDims(dy, -1), w)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor) => tf.Tensor;

/**
 * A mixture of K diagonal normals over vectors of d elements:
 *
 *     p(x) = Σ_k π_k Π_i N(x_i; loc_ki, scale_ki²),   π = softmax(logits)
 *     log p(x) = logsumexp_k (log π_k + Σ_i log N(x_i; loc_ki, scale_ki²))
 *
 * evaluated in log space (finite wherever the true value is; −∞, never NaN,
 * far beyond every component). `sample` draws a component from π, then the
 * normal of that component: differentiable in the locations and scales for
 * the drawn component, not in the logits (`reparameterized` is false).
 * No closed-form entropy or KL: `kl(mixture, p, {monteCarlo})` estimates it.
 * The event is the vector (`eventShape` `[d]`); the batch shape is `[]`.
 */
export class MixtureOfGaussians extends Distribution {
  /** @nocollapse */
  static className = 'MixtureOfGaussians';

  readonly logits: Param;
  readonly locs: Param;
  readonly scales: Param;
  /** The number of components K. */
  readonly numComponents: number;
  override readonly batchShape: number[] = [];
  override readonly eventShape: number[];
  override readonly reparameterized = false;

  constructor(args: MixtureOfGaussiansArgs) {
    super();
    const where = 'MixtureOfGaussians';
    if (args == null || typeof args !== 'object') {
      throw new Error(`${where}: expected an options object {logits, locs, scales}. Received: ${String(args)}`);
    }
    checkKnownOptions(where, args, ['logits', 'locs', 'scales']);
    const logits = checkParam(where, 'logits', args.logits);
    const locs = checkParam(where, 'locs', args.locs);
    const scales = checkParam(where, 'scales', args.scales, true);
    if (logits.shape.length !== 1 || logits.shape[0] < 1) {
      throw new Error(`${where}: expected logits of shape [K] (K >= 1 components). Received: logits shape [${logits.shape}]`);
    }
    const k = logits.shape[0];
    for (const [name, p] of [['locs', locs], ['scales', scales]] as const) {
      if (p.shape.length !== 2 || p.shape[0] !== k || p.shape[1] < 1) {
        throw new Error(`${where}: expected ${name} of shape [K, d] with K = ${k} (the length of logits). ` +
            `Received: ${name} shape [${p.shape}]`);
      }
    }
    if (locs.shape[1] !== scales.shape[1]) {
      throw new Error(`${where}: expected locs and scales of one shape [K, d]. Received: locs shape [${locs.shape}], ` +
          `scales shape [${scales.shape}]`);
    }
    this.logits = logits.value;
    this.locs = locs.value;
    this.scales = scales.value;
    this.numComponents = k;
    this.eventShape = [locs.shape[1]];
  }

  /** The mixture weights π = softmax(logits), `[K]`. */
  weights(): tf.Tensor {
    return tf.tidy(() => tf.softmax(toTensor(this.logits)));
  }

  override logProb(x: tf.Tensor): tf.Tensor {
    const d = this.eventShape[0];
    if (x.rank < 1 || x.shape[x.rank - 1] !== d) {
      throw new Error(`MixtureOfGaussians.logProb: expected x of shape [..., ${d}] (the event size d). Received: x shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      // [..., 1, d] against [K, d]: each component's log-density, summed over the d elements → [..., K].
      const perComponent = tf.neg(tf.sum(normalNegLogProb(tf.expandDims(x, -2), toTensor(this.locs), toTensor(this.scales)), -1));
      return logSumExpLast(tf.add(perComponent, tf.logSoftmax(toTensor(this.logits))));
    });
  }

  override sample(sampleShape?: number[], seed?: number): tf.Tensor {
    const where = 'MixtureOfGaussians.sample';
    const shape = checkSampleShape(where, sampleShape);
    const s = checkOptionalSeed(where, seed);
    const n = shape.reduce((a, b) => a * b, 1);
    const d = this.eventShape[0];
    return tf.tidy(() => {
      const component = new Categorical({logits: this.logits}).sample([n], s === undefined ? undefined : deriveSeed(s, 0));
      const eps = tf.randomNormal([n, d], 0, 1, 'float32', s === undefined ? undefined : deriveSeed(s, 1));
      const x = normalSampleFromNoise(tf.gather(toTensor(this.locs), component), tf.gather(toTensor(this.scales), component), eps);
      return tf.reshape(x, [...shape, d]);
    });
  }

  override mean(): tf.Tensor {
    return tf.tidy(() => tf.squeeze(tf.matMul(tf.expandDims(this.weights(), 0), toTensor(this.locs)), [0]));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf({logits: this.logits, locs: this.locs, scales: this.scales});
  }
}
tf.serialization.registerClass(MixtureOfGaussians, SERIALIZATION_PACKAGE);
