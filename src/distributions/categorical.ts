/**
 * The `Categorical` distribution over class indices 0 … K − 1, classes on
 * the parameters' last axis, from logits or probabilities.
 */
import * as tf from '@tensorflow/tfjs-core';

import {deriveSeed} from '../util/seed';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {
  checkEventRank, checkLogitsOrProbs, checkOptionalSeed, checkSampleShape, Distribution, Param, toTensor,
} from './distribution';
import {categoricalNegLogProbFromLogits, discreteEntropy, gumbelNoise, logOfProbability, mulOrZero} from './discrete';
import {FLOAT32_MAX} from './normal';

export interface CategoricalArgs {
  /** Unnormalised log-probabilities `[..., K]`, any reals (exactly one of `logits` and `probs`). */
  logits?: Param;
  /** Probabilities `[..., K]` in [0, 1] summing to 1 on the last axis, used as given (exactly one of `logits` and `probs`). */
  probs?: Param;
  /** Trailing axes (before the class axis) that form one event (`logProb`, `entropy`, `kl` sum over them). Default 0. */
  eventRank?: number;
}

/**
 * Independent categorical variables over K classes (the last axis of the
 * parameters), `P(x = c) = softmax(l)_c` or `p_c`:
 *
 *     log p(x) = Σ_event log softmax(l)_x      (or log p_x; −∞ for an index outside [0, K))
 *     H = −Σ_event Σ_c p_c·log p_c             (0·log 0 = 0)
 *
 * In log space: exact at logits ±3.4·10³⁸ (classes more than float32's
 * range apart have log-probability −∞ and contribute 0 wherever they should)
 * and at probabilities 0 and 1. `sample` returns int32 class indices
 * `[...sampleShape, ...batchShape, ...eventShape]`, drawn by the Gumbel-max
 * trick (`argmax(l + g)`, g standard Gumbel); it is not reparameterizable
 * (no pathwise gradient: use a Gumbel-softmax relaxation for that). `mean`
 * is not defined for class labels: use `probabilities()`.
 */
export class Categorical extends Distribution {
  /** @nocollapse */
  static className = 'Categorical';

  /** Logits as given, or null when built from probabilities. */
  readonly logits: Param|null;
  /** Probabilities as given, or null when built from logits. */
  readonly probs: Param|null;
  /** The number of classes K. */
  readonly numClasses: number;
  override readonly batchShape: number[];
  override readonly eventShape: number[];
  override readonly reparameterized = false;

  constructor(args: CategoricalArgs) {
    super();
    const where = 'Categorical';
    const param = checkLogitsOrProbs(where, args, ['logits', 'probs', 'eventRank']);
    const name = args.logits !== undefined ? 'logits' : 'probs';
    if (param.shape.length === 0 || param.shape[param.shape.length - 1] < 1) {
      throw new Error(`${where}: expected ${name} of rank >= 1 with the K >= 1 classes on the last axis. ` +
          `Received: ${name} shape [${param.shape}]`);
    }
    if (name === 'probs' && !(param.value instanceof tf.Tensor)) checkRowSums(where, param.value);
    this.logits = name === 'logits' ? param.value : null;
    this.probs = name === 'probs' ? param.value : null;
    const outer = param.shape.slice(0, -1);
    this.numClasses = param.shape[param.shape.length - 1];
    const k = checkEventRank(where, args.eventRank, outer.length);
    this.batchShape = outer.slice(0, outer.length - k);
    this.eventShape = outer.slice(outer.length - k);
  }

  /** `log P(x = c)`, `[..., K]`: `logSoftmax(l)` or `log p` (−∞ where p = 0). */
  logProbabilities(): tf.Tensor {
    return tf.tidy(() => this.logits !== null ? tf.logSoftmax(toTensor(this.logits)) : logOfProbability(toTensor(this.probs as Param)));
  }

  /** `P(x = c)`, `[..., K]`: `softmax(l)` or `p` (a copy). */
  probabilities(): tf.Tensor {
    return tf.tidy(() => this.logits !== null ? tf.exp(tf.logSoftmax(toTensor(this.logits))) : tf.clone(toTensor(this.probs as Param)));
  }

  override sample(sampleShape?: number[], seed?: number): tf.Tensor {
    const where = 'Categorical.sample';
    const shape = [...checkSampleShape(where, sampleShape), ...this.paramShape, this.numClasses];
    const s = checkOptionalSeed(where, seed);
    return tf.tidy(() => {
      // Gumbel-max: argmax_c (l_c + g_c), g standard Gumbel (finite: see gumbelNoise). Probabilities enter as
      // log p (−∞ for 0), logits as they are: l + g rounds to l at |l| = 3e38 and stays finite below the largest float32.
      const g = gumbelNoise(shape, s === undefined ? undefined : deriveSeed(s, 0));
      const scores = this.logits !== null ? tf.clipByValue(toTensor(this.logits), -FLOAT32_MAX, FLOAT32_MAX) : this.logProbabilities();
      return tf.argMax(tf.add(scores, g), -1);
    });
  }

  override logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const oneHot = tf.cast(tf.oneHot(x.dtype === 'int32' ? x : tf.cast(x, 'int32'), this.numClasses), 'float32');
      const lp = this.logits !== null ? tf.neg(categoricalNegLogProbFromLogits(oneHot, toTensor(this.logits))) :
          tf.sum(mulOrZero(oneHot, logOfProbability(toTensor(this.probs as Param))), -1);
      // An index outside [0, K) has an all-zero one-hot row: its mass is 0.
      const outside = tf.equal(tf.sum(oneHot, -1), 0);
      return this.sumEvent(this.broadcastToParams(tf.where(outside, tf.fill(outside.shape, -Infinity), lp)));
    });
  }

  override entropy(): tf.Tensor {
    return tf.tidy(() => this.sumEvent(this.broadcastToParams(discreteEntropy(this.probabilities(), this.logProbabilities()))));
  }

  override mean(): tf.Tensor {
    throw new Error('Categorical.mean: the mean of class labels is not defined; use probabilities() for P(x = c)');
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf({logits: this.logits ?? undefined, probs: this.probs ?? undefined}, {eventRank: this.eventRank});
  }
}
tf.serialization.registerClass(Categorical, SERIALIZATION_PACKAGE);

/** Checks that each row of numeric probabilities sums to 1 (within float32 rounding of K terms). */
function checkRowSums(where: string, probs: Param): void {
  const rows: number[][] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v) && typeof v[0] === 'number') rows.push(v as number[]);
    else if (Array.isArray(v)) v.forEach(walk);
  };
  walk(probs);
  for (const row of rows) {
    const sum = row.reduce((a, b) => a + b, 0);
    if (!(Math.abs(sum - 1) <= 1e-6 * row.length)) {
      throw new Error(`${where}: expected each row of probs (the last axis) to sum to 1. Received: a row [${row}] summing to ${sum}`);
    }
  }
}
