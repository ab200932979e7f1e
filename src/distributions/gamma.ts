/**
 * The Gamma distribution with concentration α > 0 and rate β > 0:
 * density `β^α x^{α−1} e^{−βx} / Γ(α)` on x > 0, with its log-density,
 * entropy and the closed-form KL divergence between two Gammas (built on
 * the library's `lgamma` and `digamma` ops, which no tfjs backend has).
 */
import * as tf from '@tensorflow/tfjs-core';

import {deriveSeed} from '../util/seed';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkKnownOptions} from '../util/validate';
import {
  broadcastShapes, checkEventRank, checkOptionalSeed, checkParam, checkSampleShape, Distribution, Param, toTensor,
} from './distribution';
import {digamma, lgamma} from './special';

export interface GammaArgs {
  /** The concentration (shape) α > 0. */
  concentration: Param;
  /** The rate β > 0 (the inverse scale; mean α/β). */
  rate: Param;
  /** Trailing axes of the parameters' shape that form one event (`logProb`, `entropy`, `kl` sum over them). Default 0. */
  eventRank?: number;
}

/**
 * `Gamma(α, β)`, element-wise (rate parameterisation):
 *
 *     log p(x) = α log β − log Γ(α) + (α − 1) log x − βx,          x > 0,
 *     E[x] = α/β,   H = α − log β + log Γ(α) + (1 − α) ψ(α).
 *
 * Samples are drawn by Marsaglia & Tsang's method (ACM TOMS 26(3), 2000:
 * `d(1 + cz)³` with d = α − ⅓, c = 1/√(9d), accepted when
 * log u < ½z² + d − d v + d log v), with `Gamma(α + 1)·u^{1/α}` for α < 1;
 * they are not reparameterized (no pathwise gradient).
 */
export class Gamma extends Distribution {
  /** @nocollapse */
  static className = 'Gamma';

  readonly concentration: Param;
  readonly rate: Param;
  override readonly batchShape: number[];
  override readonly eventShape: number[];
  override readonly reparameterized = false;

  constructor(args: GammaArgs) {
    super();
    const where = 'Gamma';
    if (args == null || typeof args !== 'object') {
      throw new Error(`${where}: expected an options object {concentration, rate}. Received: ${String(args)}`);
    }
    checkKnownOptions(where, args, ['concentration', 'rate', 'eventRank']);
    const concentration = checkParam(where, 'concentration', args.concentration, true);
    const rate = checkParam(where, 'rate', args.rate, true);
    this.concentration = concentration.value;
    this.rate = rate.value;
    const shape = broadcastShapes(where, {concentration: concentration.shape, rate: rate.shape});
    const k = checkEventRank(where, args.eventRank, shape.length);
    this.batchShape = shape.slice(0, shape.length - k);
    this.eventShape = shape.slice(shape.length - k);
  }

  override logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const a = toTensor(this.concentration);
      const b = toTensor(this.rate);
      const lp = tf.sub(tf.add(tf.sub(tf.mul(a, tf.log(b)), lgamma(a)), tf.mul(tf.sub(a, 1), tf.log(x))), tf.mul(b, x));
      return this.sumEvent(this.broadcastToParams(lp));
    });
  }

  override mean(): tf.Tensor {
    return tf.tidy(() => this.broadcastToParams(tf.div(toTensor(this.concentration), toTensor(this.rate)), true));
  }

  override entropy(): tf.Tensor {
    return tf.tidy(() => {
      const a = toTensor(this.concentration);
      const h = tf.add(tf.add(tf.sub(a, tf.log(toTensor(this.rate))), lgamma(a)), tf.mul(tf.sub(1, a), digamma(a)));
      return this.sumEvent(this.broadcastToParams(h));
    });
  }

  override sample(sampleShape?: number[], seed?: number): tf.Tensor {
    const where = 'Gamma.sample';
    const shape = [...checkSampleShape(where, sampleShape), ...this.paramShape];
    const s = checkOptionalSeed(where, seed);
    return tf.tidy(() => {
      const a = this.broadcastToParams(toTensor(this.concentration));
      const alpha = tf.broadcastTo(a, shape).dataSync() as Float32Array;
      const standard = standardGammaSamples(alpha, s);
      return tf.div(tf.tensor(standard, shape, 'float32'), toTensor(this.rate));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.configOf({concentration: this.concentration, rate: this.rate}, {eventRank: this.eventRank});
  }
}
tf.serialization.registerClass(Gamma, SERIALIZATION_PACKAGE);

/**
 * Standard Gamma(α, 1) draws, one per entry of `alpha`, by Marsaglia & Tsang
 * (rejection rounds on the still-pending entries until every one is
 * accepted; each round accepts with probability ≥ 0.95 per entry).
 */
function standardGammaSamples(alpha: Float32Array, seed: number|undefined): Float32Array {
  const n = alpha.length;
  const out = new Float32Array(n);
  const boost = alpha.map((a) => (a < 1 ? 1 : 0));
  const d = Array.from(alpha, (a) => (a < 1 ? a + 1 : a) - 1 / 3);
  let pending = Array.from({length: n}, (_, i) => i);
  let round = 0;
  const draw = (kind: 'normal'|'uniform', m: number): Float32Array => tf.tidy(() => {
    const sd = seed === undefined ? undefined : deriveSeed(seed, 2 * round + (kind === 'normal' ? 0 : 1));
    return (kind === 'normal' ? tf.randomNormal([m], 0, 1, 'float32', sd) : tf.randomUniform([m], 0, 1, 'float32', sd)).dataSync() as Float32Array;
  });
  while (pending.length > 0) {
    const z = draw('normal', pending.length);
    const u = draw('uniform', pending.length);
    const next: number[] = [];
    pending.forEach((i, k) => {
      const c = 1 / Math.sqrt(9 * d[i]);
      const v = (1 + c * z[k]) ** 3;
      if (v > 0 && Math.log(u[k]) < 0.5 * z[k] * z[k] + d[i] - d[i] * v + d[i] * Math.log(v)) out[i] = d[i] * v;
      else next.push(i);
    });
    pending = next;
    round++;
  }
  // α < 1: Gamma(α) = Gamma(α + 1)·U^{1/α}, in log space (U^{1/α} underflows for tiny α only where the draw does).
  const boosted = Array.from(boost.keys()).filter((i) => boost[i] === 1);
  if (boosted.length > 0) {
    const u = draw('uniform', boosted.length);
    boosted.forEach((i, k) => {
      out[i] = Math.exp(Math.log(out[i]) + Math.log(u[k]) / alpha[i]);
    });
  }
  return out;
}

/**
 * `KL(Gamma(α₁, β₁) ‖ Gamma(α₂, β₂))` element-wise:
 *
 *     (α₁ − α₂) ψ(α₁) − log Γ(α₁) + log Γ(α₂) + α₂ (log β₁ − log β₂) + α₁ (β₂/β₁ − 1).
 */
export function gammaKL(q: Gamma, p: Gamma): tf.Tensor {
  return tf.tidy(() => {
    const a1 = toTensor(q.concentration);
    const b1 = toTensor(q.rate);
    const a2 = toTensor(p.concentration);
    const b2 = toTensor(p.rate);
    const t1 = tf.mul(tf.sub(a1, a2), digamma(a1));
    const t2 = tf.sub(lgamma(a2), lgamma(a1));
    const t3 = tf.mul(a2, tf.sub(tf.log(b1), tf.log(b2)));
    const t4 = tf.mul(a1, tf.sub(tf.div(b2, b1), 1));
    return tf.add(tf.add(t1, t2), tf.add(t3, t4));
  });
}
