/**
 * The `Normal` distribution: independent normals, parameterized by location
 * and scale or by location and log-variance, with reparameterized samples.
 */
import * as tf from '@tensorflow/tfjs-core';

import {deriveSeed} from '../util/seed';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkKnownOptions} from '../util/validate';
import {
  broadcastShapes, checkEventRank, checkOptionalSeed, checkParam, checkSampleShape, Distribution, Param, toNumberOrTensor,
  toTensor,
} from './distribution';
import {normalLogProbOfNoiseFromLogVariance, normalNegLogProbFromLogVariance} from './log_variance';
import {HALF_LOG_TWO_PI, normalLogProb, normalLogProbOfNoise, normalSampleFromNoise, sampleFromLogVariance} from './normal';

export interface NormalArgs {
  /** The mean μ. */
  loc: Param;
  /** The standard deviation σ > 0 (exactly one of `scale` and `logVar`). */
  scale?: Param;
  /** The log-variance v = log σ² (exactly one of `scale` and `logVar`). */
  logVar?: Param;
  /**
   * How many trailing axes of the parameters' shape form one event, over which
   * `logProb` and `entropy` sum (and `kl` sums). Default 0 (every element is its own event).
   */
  eventRank?: number;
}

/**
 * Independent normals `N(loc, scale²)` (or `N(loc, e^logVar)`), element-wise
 * over the parameters' broadcast shape, the last `eventRank` axes forming
 * one event:
 *
 *     log p(x) = Σ_event −½((x − loc)/scale)² − log scale − ½ log 2π
 *     x = loc + scale ⊙ ε,  ε ~ N(0, I)        (reparameterized)
 *     H = Σ_event ½ + ½ log 2π + log scale
 *
 * Built from a log-variance, every method works on v directly (sampling by
 * `sampleFromLogVariance`, densities by `normalNegLogProbFromLogVariance`),
 * so v = ±1000 stays finite where `e^{v/2}` would not.
 *
 * ```js
 * const q = new tfv.distributions.Normal({loc: [0, 1], scale: [1, 0.5], eventRank: 1});
 * q.sample([3], 42).shape;   // [3, 2]
 * q.logProb(tf.tensor1d([0, 1])).print();   // −1.1447 = −log 2π + log 2
 * ```
 */
export class Normal extends Distribution {
  /** @nocollapse */
  static className = 'Normal';

  /** μ as given. */
  readonly loc: Param;
  /** σ as given, or null when built from a log-variance. */
  readonly scale: Param|null;
  /** v = log σ² as given, or null when built from a scale. */
  readonly logVar: Param|null;
  override readonly batchShape: number[];
  override readonly eventShape: number[];
  override readonly reparameterized = true;

  constructor(args: NormalArgs) {
    super();
    const where = 'Normal';
    if (args == null || typeof args !== 'object') {
      throw new Error(`${where}: expected an options object {loc, scale} or {loc, logVar}. Received: ${String(args)}`);
    }
    checkKnownOptions(where, args, ['loc', 'scale', 'logVar', 'eventRank']);
    if ((args.scale === undefined) === (args.logVar === undefined)) {
      throw new Error(`${where}: expected exactly one of scale and logVar. Received: ${
          args.scale === undefined ? 'neither' : 'both'}`);
    }
    const loc = checkParam(where, 'loc', args.loc);
    const spread = args.scale !== undefined ? checkParam(where, 'scale', args.scale, true) : checkParam(where, 'logVar', args.logVar);
    this.loc = loc.value;
    this.scale = args.scale !== undefined ? spread.value : null;
    this.logVar = args.logVar !== undefined ? spread.value : null;
    const shape = broadcastShapes(where, {loc: loc.shape, [args.scale !== undefined ? 'scale' : 'logVar']: spread.shape});
    const k = checkEventRank(where, args.eventRank, shape.length);
    this.batchShape = shape.slice(0, shape.length - k);
    this.eventShape = shape.slice(shape.length - k);
  }

  /** `N(loc, e^logVar)`: the posterior a VAE encoder outputs. */
  static fromLogVariance(loc: Param, logVar: Param, eventRank?: number): Normal {
    return new Normal({loc, logVar, ...(eventRank === undefined ? {} : {eventRank})});
  }

  /** σ as a tensor (`e^{v/2}` for a log-variance: +∞ from v = 177). */
  stddev(): tf.Tensor {
    return tf.tidy(() => {
      const s = this.logVar === null ? toTensor(this.scale as Param) : tf.exp(tf.mul(toTensor(this.logVar), 0.5));
      return this.broadcastToParams(s, true);
    });
  }

  /** `loc + scale ⊙ eps` (or `sampleFromLogVariance(loc, logVar, eps)`): the reparameterized sample for a standard-normal `eps`. */
  sampleFromNoise(eps: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      if (this.logVar !== null) return sampleFromLogVariance(toTensor(this.loc), toTensor(this.logVar), eps);
      return normalSampleFromNoise(toNumberOrTensor(this.loc), toNumberOrTensor(this.scale as Param), eps);
    });
  }

  override sample(sampleShape?: number[], seed?: number): tf.Tensor {
    return tf.tidy(() => this.sampleFromNoise(this.noise('Normal.sample', sampleShape, seed)));
  }

  override sampleAndLogProb(sampleShape?: number[], seed?: number): [tf.Tensor, tf.Tensor] {
    return tf.tidy(() => {
      const eps = this.noise('Normal.sampleAndLogProb', sampleShape, seed);
      // log q(x) through the noise (see normalLogProbOfNoise): the same value and gradient, less rounding.
      const lp = this.logVar === null ? normalLogProbOfNoise(eps, toNumberOrTensor(this.scale as Param)) :
          normalLogProbOfNoiseFromLogVariance(eps, toTensor(this.logVar));
      return [this.sampleFromNoise(eps), this.sumEvent(lp)];
    });
  }

  override logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lp = this.logVar === null ? normalLogProb(x, toNumberOrTensor(this.loc), toNumberOrTensor(this.scale as Param)) :
          tf.neg(normalNegLogProbFromLogVariance(x, toNumberOrTensor(this.loc), toTensor(this.logVar)));
      return this.sumEvent(this.broadcastToParams(lp));
    });
  }

  override entropy(): tf.Tensor {
    return tf.tidy(() => {
      let h: tf.Tensor;
      if (this.logVar !== null) {
        h = tf.add(tf.mul(toTensor(this.logVar), 0.5), 0.5 + HALF_LOG_TWO_PI);
      } else if (typeof this.scale === 'number') {
        h = tf.scalar(0.5 + HALF_LOG_TWO_PI + Math.log(this.scale));  // in double precision
      } else {
        h = tf.add(tf.log(toTensor(this.scale as Param)), 0.5 + HALF_LOG_TWO_PI);
      }
      return this.sumEvent(this.broadcastToParams(h));
    });
  }

  override mean(): tf.Tensor {
    return tf.tidy(() => this.broadcastToParams(toTensor(this.loc), true));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf({loc: this.loc, scale: this.scale ?? undefined, logVar: this.logVar ?? undefined},
        {eventRank: this.eventRank});
  }

  /** Standard-normal noise `[...sampleShape, ...batchShape, ...eventShape]`. */
  private noise(where: string, sampleShape: number[]|undefined, seed: number|undefined): tf.Tensor {
    const shape = [...checkSampleShape(where, sampleShape), ...this.paramShape];
    const s = checkOptionalSeed(where, seed);
    return tf.randomNormal(shape, 0, 1, 'float32', s === undefined ? undefined : deriveSeed(s, 0));
  }

}
tf.serialization.registerClass(Normal, SERIALIZATION_PACKAGE);
