/**
 * The `Bernoulli` distribution over {0, 1}, from logits or probabilities.
 */
import * as tf from '@tensorflow/tfjs-core';

import {deriveSeed} from '../util/seed';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {
  checkEventRank, checkLogitsOrProbs, checkOptionalSeed, checkSampleShape, Distribution, Param, toTensor,
} from './distribution';
import {bernoulliNegLogProbFromLogits, discreteEntropy, logOfComplement, logOfProbability, mulOrZero} from './discrete';

export interface BernoulliArgs {
  /** The log-odds l = log(p/(1 − p)), any real (exactly one of `logits` and `probs`). */
  logits?: Param;
  /** The probability p ∈ [0, 1] of a 1 (exactly one of `logits` and `probs`). */
  probs?: Param;
  /** Trailing axes of the parameters' shape that form one event (`logProb`, `entropy`, `kl` sum over them). Default 0. */
  eventRank?: number;
}

/**
 * Independent Bernoulli variables, `P(x = 1) = p = σ(l)`:
 *
 *     log p(x) = Σ_event x·l − softplus(l)                  (logits)
 *              = Σ_event x·log p + (1 − x)·log(1 − p)       (probabilities; 0·log 0 = 0)
 *     H = −Σ_event [p·log p + (1 − p)·log(1 − p)]
 *
 * In log space throughout: exact at logits ±3.4·10³⁸ and at probabilities 0
 * and 1 (a mass of exactly 0 is log 0 = −∞, never NaN). `sample` returns
 * float32 zeros and ones (usable as targets of `logProb` and of the
 * Bernoulli NLL); it is not reparameterizable (no pathwise gradient).
 */
export class Bernoulli extends Distribution {
  /** @nocollapse */
  static className = 'Bernoulli';

  /** l as given, or null when built from probabilities. */
  readonly logits: Param|null;
  /** p as given, or null when built from logits. */
  readonly probs: Param|null;
  override readonly batchShape: number[];
  override readonly eventShape: number[];
  override readonly reparameterized = false;

  constructor(args: BernoulliArgs) {
    super();
    const where = 'Bernoulli';
    const param = checkLogitsOrProbs(where, args, ['logits', 'probs', 'eventRank']);
    this.logits = args.logits !== undefined ? param.value : null;
    this.probs = args.probs !== undefined ? param.value : null;
    const k = checkEventRank(where, args.eventRank, param.shape.length);
    this.batchShape = param.shape.slice(0, param.shape.length - k);
    this.eventShape = param.shape.slice(param.shape.length - k);
  }

  /** `[P(x = 0), P(x = 1)]` and their logs, stacked on a new last axis (`σ(∓l)` and `−softplus(±l)` from logits). */
  outcomeLogProbs(): {probs: tf.Tensor, logProbs: tf.Tensor} {
    const [probs, logProbs] = tf.tidy(() => {
      if (this.logits !== null) {
        const l = toTensor(this.logits);
        return [tf.stack([tf.sigmoid(tf.neg(l)), tf.sigmoid(l)], -1), tf.stack([tf.neg(tf.softplus(l)), tf.neg(tf.softplus(tf.neg(l)))], -1)];
      }
      const p = toTensor(this.probs as Param);
      return [tf.stack([tf.sub(1, p), p], -1), tf.stack([logOfComplement(p), logOfProbability(p)], -1)];
    });
    return {probs, logProbs};
  }

  /** p as a tensor (σ(l) from logits). */
  probabilities(): tf.Tensor {
    return tf.tidy(() => this.broadcastToParams(this.logits !== null ? tf.sigmoid(toTensor(this.logits)) : toTensor(this.probs as Param), true));
  }

  override sample(sampleShape?: number[], seed?: number): tf.Tensor {
    const where = 'Bernoulli.sample';
    const shape = [...checkSampleShape(where, sampleShape), ...this.paramShape];
    const s = checkOptionalSeed(where, seed);
    return tf.tidy(() => {
      const u = tf.randomUniform(shape, 0, 1, 'float32', s === undefined ? undefined : deriveSeed(s, 0));
      // u < p: never for p = 0 and always for p = 1 (u ∈ [0, 1)).
      return tf.cast(tf.less(u, this.probabilities()), 'float32');
    });
  }

  override logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
      let lp: tf.Tensor;
      if (this.logits !== null) {
        lp = tf.neg(bernoulliNegLogProbFromLogits(xf, toTensor(this.logits)));
      } else {
        const p = toTensor(this.probs as Param);
        lp = tf.add(mulOrZero(xf, logOfProbability(p)), mulOrZero(tf.sub(1, xf), logOfComplement(p)));
      }
      return this.sumEvent(this.broadcastToParams(lp));
    });
  }

  override entropy(): tf.Tensor {
    return tf.tidy(() => {
      const {probs, logProbs} = this.outcomeLogProbs();
      return this.sumEvent(this.broadcastToParams(discreteEntropy(probs, logProbs)));
    });
  }

  override mean(): tf.Tensor {
    return this.probabilities();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf({logits: this.logits ?? undefined, probs: this.probs ?? undefined}, {eventRank: this.eventRank});
  }
}
tf.serialization.registerClass(Bernoulli, SERIALIZATION_PACKAGE);

