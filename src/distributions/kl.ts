/**
 * `kl(q, p)`: the KL divergence between two distributions, by a closed form
 * registered for their classes, or by an explicit Monte Carlo estimate.
 */
import * as tf from '@tensorflow/tfjs-core';

import {argumentError, checkKnownOptions, checkPositiveInteger} from '../util/validate';
import {Bernoulli} from './bernoulli';
import {Categorical} from './categorical';
import {checkOptionalSeed, Distribution, Param, toNumberOrTensor, toTensor} from './distribution';
import {discreteKL} from './discrete';
import {Gamma, gammaKL} from './gamma';
import {normalKL, standardNormalKL} from './normal';
import {Normal} from './normal_distribution';

/** A closed-form `KL(q ‖ p)`: one value per batch element (summed over the event), `q`'s and `p`'s batch shapes broadcast. */
export type KLFunction<Q extends Distribution = Distribution, P extends Distribution = Distribution> = (q: Q, p: P) => tf.Tensor;

/** A distribution class, as `registerKL` takes it. */
export type DistributionClass<D extends Distribution = Distribution> = abstract new (...args: never[]) => D;

export interface KLOptions {
  /**
   * Without a closed form for the pair, estimate `KL(q ‖ p)` by
   * `mean_s [log q(x_s) − log p(x_s)]` with `x_s` from `q.sampleAndLogProb([samples], seed)`
   * (differentiable in q's parameters when q is reparameterized). Ignored when a closed form exists.
   */
  monteCarlo?: {samples: number, seed?: number};
}

const registry = new Map<DistributionClass, Map<DistributionClass, KLFunction>>();

/**
 * Registers the closed form of `KL(q ‖ p)` for q of class `qClass` and p of
 * class `pClass` (or subclasses; the most derived registered pair wins, q's
 * class first). `fn` returns one value per batch element, summed over the
 * event axes. Registering a pair again replaces its function.
 */
export function registerKL<Q extends Distribution, P extends Distribution>(
    qClass: DistributionClass<Q>, pClass: DistributionClass<P>, fn: KLFunction<Q, P>): void {
  const where = 'registerKL';
  for (const [name, cls] of [['qClass', qClass], ['pClass', pClass]] as const) {
    if (typeof cls !== 'function' || !((cls as unknown) === Distribution || cls.prototype instanceof Distribution)) {
      throw argumentError(where, name, 'a Distribution class', cls);
    }
  }
  if (typeof fn !== 'function') throw argumentError(where, 'fn', 'a function (q, p) => tf.Tensor', fn);
  if (!registry.has(qClass)) registry.set(qClass, new Map());
  (registry.get(qClass) as Map<DistributionClass, KLFunction>).set(pClass, fn as KLFunction);
}

/** The classes of an instance, most derived first, up to Distribution. */
function classChain(d: Distribution): DistributionClass[] {
  const chain: DistributionClass[] = [];
  for (let proto = Object.getPrototypeOf(d); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    chain.push(proto.constructor as DistributionClass);
    if (proto.constructor === Distribution) break;
  }
  return chain;
}

function lookup(q: Distribution, p: Distribution): KLFunction|null {
  const pChain = classChain(p);
  for (const qc of classChain(q)) {
    const row = registry.get(qc);
    if (row === undefined) continue;
    for (const pc of pChain) {
      const fn = row.get(pc);
      if (fn !== undefined) return fn;
    }
  }
  return null;
}

/**
 * `KL(q ‖ p) = E_q[log q(x) − log p(x)]`, one value per batch element (the
 * broadcast of q's and p's batch shapes), summed over q's event axes. p's
 * event rank may be smaller than q's: its independent elements then make up
 * q's event (e.g. a scalar `N(0, 1)` against a posterior over vectors).
 *
 * Closed forms are registered for Normal‖Normal (`normalKL`, or
 * `standardNormalKL` for a log-variance q against N(0, 1)),
 * Bernoulli‖Bernoulli and Categorical‖Categorical (log space: exact at
 * probabilities 0 and 1 and logits ±3.4·10³⁸; +∞ where q puts mass on an
 * outcome p gives none). For other pairs (e.g. a `MixtureOfGaussians`) it
 * throws unless `{monteCarlo: {samples, seed}}` asks for the estimate.
 *
 * ```js
 * const q = new tfv.distributions.Normal({loc: 1, scale: 2});
 * tfv.distributions.kl(q, new tfv.distributions.Normal({loc: 0, scale: 1})).print();  // 1.3069 = ½(4 + 1 − 1) − log 2
 * ```
 */
export function kl(q: Distribution, p: Distribution, options?: KLOptions): tf.Tensor {
  const where = 'kl';
  if (!(q instanceof Distribution)) throw argumentError(where, 'q', 'a Distribution', q);
  if (!(p instanceof Distribution)) throw argumentError(where, 'p', 'a Distribution', p);
  checkKnownOptions(where, options, ['monteCarlo']);
  if (p.eventRank > q.eventRank) {
    throw new Error(`${where}: expected p's event rank to be at most q's (p's extra batch axes are summed as part of q's event). ` +
        `Received: q (${q.getClassName()}) event shape [${q.eventShape}], p (${p.getClassName()}) event shape [${p.eventShape}]`);
  }
  try {
    tf.backend_util.assertAndGetBroadcastShape([...q.batchShape, ...q.eventShape], [...p.batchShape, ...p.eventShape]);
  } catch {
    throw new Error(`${where}: expected the shapes of q and p to broadcast. Received: q batch [${q.batchShape}] event ` +
        `[${q.eventShape}], p batch [${p.batchShape}] event [${p.eventShape}]`);
  }
  const fn = lookup(q, p);
  if (fn !== null) return fn(q, p);
  const mc = options?.monteCarlo;
  if (mc === undefined) {
    const [qn, pn] = [q.getClassName(), p.getClassName()];
    throw new Error(`${where}: no closed form of KL(${qn} ‖ ${pn}) is registered. Pass {monteCarlo: {samples, seed}} ` +
        `for the Monte Carlo estimate mean_s[log q(x_s) − log p(x_s)], or registerKL(${qn}, ${pn}, fn)`);
  }
  checkKnownOptions(`${where}: monteCarlo`, mc, ['samples', 'seed']);
  const samples = checkPositiveInteger(where, 'monteCarlo.samples', mc.samples);
  const seed = checkOptionalSeed(where, mc.seed);
  return tf.tidy(() => {
    const [x, logQ] = q.sampleAndLogProb([samples], seed);
    // p's log-density of each of q's events: p's own event axes are summed by p.logProb, the rest of q's here.
    const logP = sumLast(p.logProb(x), q.eventRank - p.eventRank);
    return tf.mean(tf.sub(logQ, logP), 0);
  });
}

/** `t` summed over its last `k` axes. */
function sumLast(t: tf.Tensor, k: number): tf.Tensor {
  return k === 0 ? t : tf.sum(t, Array.from({length: k}, (_, i) => t.rank - k + i));
}

/** The element-wise KL broadcast to the parameters of both, then summed over the event. */
function finish(elementwise: tf.Tensor, q: Distribution, qShape: number[], pShape: number[]): tf.Tensor {
  const shape = tf.backend_util.assertAndGetBroadcastShape(tf.backend_util.assertAndGetBroadcastShape(qShape, pShape), elementwise.shape);
  const full = shape.length === elementwise.rank && shape.every((d, i) => d === elementwise.shape[i]) ?
      elementwise : tf.broadcastTo(elementwise, shape);
  return sumLast(full, q.eventRank);
}

function isNumber(v: Param|null, value: number): boolean {
  return typeof v === 'number' && v === value;
}

registerKL(Normal, Normal, (q: Normal, p: Normal) => tf.tidy(() => {
  let e: tf.Tensor;
  const pStandard = isNumber(p.loc, 0) && (isNumber(p.scale, 1) || isNumber(p.logVar, 0));
  if (q.logVar !== null && pStandard) {
    // Against N(0, 1) in the log-variance itself: finite for every float32 v (see standardNormalKL).
    e = standardNormalKL(toTensor(q.loc), toTensor(q.logVar));
  } else {
    const scaleQ = q.scale !== null ? toTensor(q.scale) : tf.exp(tf.mul(toTensor(q.logVar as Param), 0.5));
    // p's numbers stay numbers: normalKL then takes their logs and reciprocals in double precision.
    const scaleP = p.scale !== null ? toNumberOrTensor(p.scale) :
        typeof p.logVar === 'number' ? Math.exp(0.5 * p.logVar) : tf.exp(tf.mul(toTensor(p.logVar as Param), 0.5));
    e = normalKL(toTensor(q.loc), scaleQ, toNumberOrTensor(p.loc), scaleP);
  }
  return finish(e, q, [...q.batchShape, ...q.eventShape], [...p.batchShape, ...p.eventShape]);
}));

registerKL(Bernoulli, Bernoulli, (q: Bernoulli, p: Bernoulli) => tf.tidy(() => {
  const a = q.outcomeLogProbs();
  const b = p.outcomeLogProbs();
  return finish(discreteKL(a.probs, a.logProbs, b.logProbs), q, [...q.batchShape, ...q.eventShape], [...p.batchShape, ...p.eventShape]);
}));

registerKL(Categorical, Categorical, (q: Categorical, p: Categorical) => {
  if (q.numClasses !== p.numClasses) {
    throw new Error(`kl: expected two categoricals over the same number of classes. Received: q ${q.numClasses}, p ${p.numClasses}`);
  }
  return tf.tidy(() => finish(discreteKL(q.probabilities(), q.logProbabilities(), p.logProbabilities()), q,
      [...q.batchShape, ...q.eventShape], [...p.batchShape, ...p.eventShape]));
});

registerKL(Gamma, Gamma, (q: Gamma, p: Gamma) => tf.tidy(() =>
  finish(gammaKL(q, p), q, [...q.batchShape, ...q.eventShape], [...p.batchShape, ...p.eventShape])));
