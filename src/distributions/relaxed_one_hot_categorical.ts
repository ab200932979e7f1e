/**
 * The `RelaxedOneHotCategorical` (Concrete, Gumbel-softmax) distribution: a
 * continuous relaxation of one-hot categorical vectors on the probability
 * simplex, reparameterized through Gumbel noise, with its log-density.
 */
import * as tf from '@tensorflow/tfjs-core';

import {deriveSeed} from '../util/seed';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {
  broadcastShapes, checkEventRank, checkLogitsOrProbs, checkOptionalSeed, checkParam, checkSampleShape, Distribution, Param,
  toNumberOrTensor, toTensor,
} from './distribution';
import {gumbelNoise, logOfProbability} from './discrete';
import {FLOAT32_MAX} from './normal';

export interface RelaxedOneHotCategoricalArgs {
  /** The temperature τ > 0 (a number, or a tensor that broadcasts against the parameters' shape without the class axis). */
  temperature: Param;
  /** Unnormalised log-probabilities `[..., K]`, any reals (exactly one of `logits` and `probs`). */
  logits?: Param;
  /** Probabilities `[..., K]` in [0, 1] on the last axis, used through their logarithm (exactly one of `logits` and `probs`). */
  probs?: Param;
  /** Trailing axes (before the class axis) that form one event with it (`logProb` sums over them). Default 0. */
  eventRank?: number;
}

/** `τ` as it multiplies the class axis: a number, or the tensor with a trailing axis of 1. */
function classAxisTemperature(temperature: tf.Tensor|number): tf.Tensor|number {
  return typeof temperature === 'number' || temperature.rank === 0 ? temperature : tf.expandDims(temperature, -1);
}

/**
 * The log of a relaxed one-hot sample for given Gumbel noise `g` (which
 * broadcasts against `logits`, classes on the last axis):
 *
 *     log y = log softmax((l + g)/τ)
 *
 * In log space, and shifted before the division: `s − max s ≤ 0` with one
 * exact 0 per row, so `(s − max s)/τ` cannot overflow to +∞ (at τ = 10⁻³ and
 * logits of 10³⁶ the plain `(l + g)/τ` would), an entry far below the
 * maximum becomes −∞ (y = 0 there, its gradient 0), and the log-softmax of
 * a row holding a 0 is finite at its maximum. Logits are clipped to ±3.4·10³⁸
 * first (±∞ would give ∞ − ∞). The shift does not change the value, and
 * its gradient cancels (softmax is shift-invariant).
 */
export function relaxedLogSample(logits: tf.Tensor, gumbel: tf.Tensor, temperature: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    const s = tf.add(tf.clipByValue(logits, -FLOAT32_MAX, FLOAT32_MAX), gumbel);
    const shifted = tf.sub(s, tf.max(s, -1, true));
    return tf.logSoftmax(tf.div(shifted, classAxisTemperature(temperature)));
  });
}

/** `log Γ(K) = log (K − 1)!` in double precision. */
function logGamma(k: number): number {
  let s = 0;
  for (let i = 2; i < k; i++) s += Math.log(i);
  return s;
}

/**
 * The Concrete log-density of a point `y` of the simplex given `x = log y`,
 * per position (reduces the class axis), with respect to Lebesgue measure on
 * the first K − 1 coordinates (Maddison et al. 2017, Definition 1):
 *
 *     log p(y) = log (K−1)! + (K−1) log τ + Σ_k (l_k − (τ+1)·x_k) − K·logsumexp_k(l_k − τ·x_k)
 *
 * the density of the exp-relaxed variable x (TFP's `ExpRelaxedOneHotCategorical`,
 * `… + Σ_k (l_k − τ x_k) − …`) minus the log-Jacobian `Σ_k x_k` of y = eˣ.
 * Written with x rather than y: where a class's y underflows to 0 its x is
 * still finite, so the density of a sample at τ = 10⁻³ is finite. The
 * logits are shifted by their maximum (the density does not change: the
 * shift adds K·c to the sum and to the log-sum-exp), which keeps the two
 * large terms from cancelling at logits of ±10⁴.
 */
export function concreteLogDensityOfLog(x: tf.Tensor, logits: tf.Tensor, temperature: tf.Tensor|number): tf.Tensor {
  return tf.tidy(() => {
    const k = logits.shape[logits.shape.length - 1];
    const clipped = tf.clipByValue(logits, -FLOAT32_MAX, FLOAT32_MAX);
    const l = tf.sub(clipped, tf.max(clipped, -1, true));
    const tau = classAxisTemperature(temperature);
    const a = tf.sub(l, tf.mul(x, tau));
    const logTau = typeof temperature === 'number' ? Math.log(temperature) : tf.log(temperature);
    const constant = tf.add(tf.mul(logTau, k - 1), logGamma(k));
    return tf.add(constant, tf.sub(tf.sum(tf.sub(a, x), -1), tf.mul(tf.logSumExp(a, -1), k)));
  });
}

/**
 * The Concrete or Gumbel-softmax distribution over K classes (the last axis
 * of the parameters), `RelaxedOneHotCategorical(τ, l)`: the distribution of
 *
 *     y = softmax((l + g)/τ),   g_k ~ Gumbel(0, 1) independent,
 *
 * a point of the simplex `{y_k > 0, Σ_k y_k = 1}` (Jang et al. 2017,
 * arXiv:1611.01144; Maddison et al. 2017, arXiv:1611.00712). As τ → 0 it
 * tends to the one-hot categorical with `P(argmax y = c) = softmax(l)_c` for
 * every τ (the Gumbel-max trick); as τ → ∞ to the uniform point `1/K`.
 * Samples are differentiable in l and τ (`reparameterized`). Its density,
 * with respect to Lebesgue measure on the first K − 1 coordinates, is
 *
 *     p(y) = (K−1)! τ^{K−1} Π_k [π_k y_k^{−τ−1}] / (Σ_i π_i y_i^{−τ})^K      (π = softmax(l))
 *
 * Everything is computed in log space on `log y` (TFP's exp-relaxed form):
 * `sampleAndLogProb` and `sampleLog` + `logProbFromLog` never form `log` of
 * an underflowed y, so they stay finite at τ = 10⁻³ and logits ±10⁴.
 * `logProb(y)` takes the simplex point itself and is −∞, +∞ or NaN where a
 * component of y is exactly 0 (the density's boundary); with small τ prefer
 * the log forms. Built from probabilities, a class of probability 0 has y = 0
 * always, and the density is −∞ (it lives on a face of the simplex).
 *
 * `sample` draws `[...sampleShape, ...batchShape, ...eventShape]` with
 * `eventShape = [...event axes, K]`. `mean` has no closed form.
 *
 * ```js
 * const q = new tfv.distributions.RelaxedOneHotCategorical({temperature: 0.5, logits: [0, 1, 2]});
 * const [y, logQ] = q.sampleAndLogProb([4], 42);   // y [4, 3] on the simplex, logQ [4]
 * ```
 */
export class RelaxedOneHotCategorical extends Distribution {
  /** @nocollapse */
  static className = 'RelaxedOneHotCategorical';

  /** τ as given. */
  readonly temperature: Param;
  /** Logits as given, or null when built from probabilities. */
  readonly logits: Param|null;
  /** Probabilities as given, or null when built from logits. */
  readonly probs: Param|null;
  /** The number of classes K. */
  readonly numClasses: number;
  override readonly batchShape: number[];
  override readonly eventShape: number[];
  override readonly reparameterized = true;

  constructor(args: RelaxedOneHotCategoricalArgs) {
    super();
    const where = 'RelaxedOneHotCategorical';
    const param = checkLogitsOrProbs(where, args, ['temperature', 'logits', 'probs', 'eventRank']);
    const name = args.logits !== undefined ? 'logits' : 'probs';
    if (param.shape.length === 0 || param.shape[param.shape.length - 1] < 1) {
      throw new Error(`${where}: expected ${name} of rank >= 1 with the K >= 1 classes on the last axis. ` +
          `Received: ${name} shape [${param.shape}]`);
    }
    if (args.temperature === undefined) {
      throw new Error(`${where}: expected temperature, a positive number or a tf.Tensor. Received: temperature=undefined`);
    }
    const temperature = checkParam(where, 'temperature', args.temperature, true);
    this.temperature = temperature.value;
    this.logits = name === 'logits' ? param.value : null;
    this.probs = name === 'probs' ? param.value : null;
    this.numClasses = param.shape[param.shape.length - 1];
    const outer = broadcastShapes(where, {[name]: param.shape.slice(0, -1), temperature: temperature.shape});
    const k = checkEventRank(where, args.eventRank, outer.length);
    this.batchShape = outer.slice(0, outer.length - k);
    this.eventShape = [...outer.slice(outer.length - k), this.numClasses];
  }

  /** The scores the formulas use: the logits, or `log p` (−∞ where p = 0). Call inside `tf.tidy`. */
  private scores(): tf.Tensor {
    return this.logits !== null ? toTensor(this.logits) : logOfProbability(toTensor(this.probs as Param));
  }

  /** The shape of a draw: `[...sampleShape, ...batchShape, ...eventShape]`. */
  private drawShape(sampleShape: number[]): number[] {
    return [...sampleShape, ...this.batchShape, ...this.eventShape];
  }

  /**
   * `log y` of a draw, `[...sampleShape, ...batchShape, ...eventShape]`
   * (the exp-relaxed sample: finite where y underflows); `seed` makes it repeatable.
   */
  sampleLog(sampleShape?: number[], seed?: number): tf.Tensor {
    const where = 'RelaxedOneHotCategorical.sampleLog';
    const shape = this.drawShape(checkSampleShape(where, sampleShape));
    const s = checkOptionalSeed(where, seed);
    return tf.tidy(() => relaxedLogSample(this.scores(), gumbelNoise(shape, s === undefined ? undefined : deriveSeed(s, 0)),
        toNumberOrTensor(this.temperature)));
  }

  override sample(sampleShape?: number[], seed?: number): tf.Tensor {
    return tf.tidy(() => tf.exp(this.sampleLog(sampleShape, seed)));
  }

  /** The log-density of each event of `y = e^x`, given `x = log y` (see `concreteLogDensityOfLog`). */
  logProbFromLog(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.sumOuterEvent(concreteLogDensityOfLog(x, this.scores(), toNumberOrTensor(this.temperature))));
  }

  /** The log-density of each event of the simplex points `y`, `log y` taken here (see the class comment at y = 0). */
  override logProb(y: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.logProbFromLog(tf.log(y)));
  }

  /** `[y, log p(y)]`, the density computed from the log-sample (finite at small τ). */
  override sampleAndLogProb(sampleShape?: number[], seed?: number): [tf.Tensor, tf.Tensor] {
    return tf.tidy(() => {
      const x = this.sampleLog(sampleShape, seed);
      return [tf.exp(x), this.logProbFromLog(x)] as [tf.Tensor, tf.Tensor];
    });
  }

  override mean(): tf.Tensor {
    throw new Error('RelaxedOneHotCategorical.mean: no closed form; estimate it by Monte Carlo as the mean of sample([n])');
  }

  /** A per-position density `[..., ...outer]` broadcast to the batch and event axes, summed over the event axes before K. */
  private sumOuterEvent(lp: tf.Tensor): tf.Tensor {
    const outer = [...this.batchShape, ...this.eventShape.slice(0, -1)];
    const shape = tf.backend_util.assertAndGetBroadcastShape(lp.shape, outer);
    const full = shape.length === lp.rank && shape.every((d, i) => d === lp.shape[i]) ? lp : tf.broadcastTo(lp, shape);
    const k = this.eventShape.length - 1;
    return k === 0 ? full : tf.sum(full, Array.from({length: k}, (_, i) => full.rank - k + i));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf({temperature: this.temperature, logits: this.logits ?? undefined, probs: this.probs ?? undefined},
        {eventRank: this.eventShape.length - 1});
  }
}
tf.serialization.registerClass(RelaxedOneHotCategorical, SERIALIZATION_PACKAGE);
