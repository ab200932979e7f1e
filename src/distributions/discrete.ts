/**
 * Element-wise math of the discrete distributions (Bernoulli, categorical):
 * log-probabilities from logits or probabilities, cross-entropies, entropies
 * and KL divergences, all in log space and exact at probabilities 0 and 1
 * and at logits up to ±3.4·10³⁸. The likelihood losses of `tfv.losses` and
 * the `Bernoulli` / `Categorical` distributions share these.
 */
import * as tf from '@tensorflow/tfjs-core';

import {broadcastPair} from './normal';

/** `tf.customGrad` for a function of one tensor (its typing wants a variadic function). */
function customGrad1(
    f: (x: tf.Tensor, save: tf.GradSaveFunc) => {value: tf.Tensor, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[]}):
    (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

/**
 * `log p` with the gradient `dy/p` where dy ≠ 0 and 0 where dy = 0: at p = 0
 * a masked-out term passes dy = 0, and the autodiff `0/0` would be NaN.
 */
export const logOfProbability = customGrad1((p: tf.Tensor, save: tf.GradSaveFunc) => {
  save([p]);
  return {
    value: tf.log(p),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.where(tf.equal(dy, 0), tf.zerosLike(dy), tf.div(dy, saved[0]))],
  };
});

/**
 * `log(1 − p)` as `log1p(−p)` (exact for small p), with the gradient
 * `−dy/(1 − p)`, and 0 where dy = 0 (at p = 1 `0/0` would be NaN).
 */
export const logOfComplement = customGrad1((p: tf.Tensor, save: tf.GradSaveFunc) => {
  save([p]);
  return {
    value: tf.log1p(tf.neg(p)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      [tf.where(tf.equal(dy, 0), tf.zerosLike(dy), tf.neg(tf.div(dy, tf.sub(1, saved[0]))))],
  };
});

/**
 * `c · t` with the convention `0 · t = 0` also for t = ±∞ or NaN (the limit
 * of `c log q` as c → 0), and with zero gradients to both factors there
 * (the inner `where` keeps a non-finite t from reaching the product, whose
 * gradient would otherwise be `0·∞ = NaN`).
 */
export function mulOrZero(c: tf.Tensor, t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [sc, st] = broadcastPair(c, t);
    // c = 0 as 0 ≥ |c| (GreaterEqual has a gradient in tfjs, Equal none, so this may sit on a differentiated path).
    const zero = tf.greaterEqual(0, tf.abs(sc));
    const zeros = tf.zerosLike(st);
    return tf.where(zero, zeros, tf.mul(sc, tf.where(zero, zeros, st)));
  });
}

/**
 * Bernoulli NLL from logits `l`, per element:
 *
 *     −log p(x) = softplus(l) − x·l        (= −x·log σ(l) − (1−x)·log(1−σ(l)))
 *     ∂/∂l = σ(l) − x
 *
 * `tf.softplus` is computed without overflow for any float32 `l` and its
 * gradient is σ(l); the rewrite `max(l, 0) − x·l + log1p(e^{−|l|})` has the
 * same value but autodiff through `max`/`abs` gives a wrong gradient at l = 0.
 * Finite for every finite l and x ∈ [0, 1] (|x·l| ≤ |l|, and softplus(l) ≤
 * max(l, 0) + log 2). For large |l| with x = 1 (or l ≪ 0 with x = 0) the two
 * terms cancel: the error is about 2⁻²⁴·|l| absolute, so a loss of e⁻³⁰ comes
 * out as 0. The cancellation-free `(1 − x)·softplus(l) + x·softplus(−l)` was
 * measured 50–60% slower (loss and gradient on [256, 784]: 8.7 vs 5.9 ms on
 * wasm, 59 vs 37 ms on cpu), for an absolute gain below 2⁻²⁴·|l| per element.
 */
export function bernoulliNegLogProbFromLogits(x: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.softplus(logits), tf.mul(x, logits)));
}

/**
 * `−Σ_c y_c·log softmax(l)_c` over the last axis, with its gradients
 * `∂/∂l = softmax(l)·Σ_c y_c − y` and `∂/∂y = −log softmax(l)`, for y and l of
 * one shape.
 *
 * A custom gradient because of one corner: when two logits of a row are more
 * than 3.4·10³⁸ apart (e.g. ±3·10³⁸), `l_c − max l` overflows float32 and
 * `log softmax(l)_c = −∞`; a class with y_c = 0 there must contribute 0 (the
 * limit of y·log p as y → 0), but `0·(−∞)` is NaN. The forward pass selects
 * 0 for those terms, and the gradients above are finite (∂/∂y is +∞ exactly
 * where the true −log softmax overflows). The logits' gradient is the closed
 * form, as in `tf.logSoftmax`.
 */
const categoricalLogitsNLL = tf.customGrad(((y: tf.Tensor, logits: tf.Tensor, save: tf.GradSaveFunc) => {
  const logProbs = tf.logSoftmax(logits);
  const terms = tf.where(tf.equal(y, 0), tf.zerosLike(logProbs), tf.mul(y, logProbs));
  save([y, logProbs]);
  return {
    value: tf.neg(tf.sum(terms, -1)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sy, sLogProbs] = saved;
      const g = tf.expandDims(dy, -1);
      const softmax = tf.exp(sLogProbs);
      return [tf.neg(tf.mul(g, sLogProbs)), tf.mul(g, tf.sub(tf.mul(softmax, tf.sum(sy, -1, true)), sy))];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (y: tf.Tensor, logits: tf.Tensor) => tf.Tensor;

/**
 * The cross-entropy `−Σ_c y_c · log softmax(l)_c` along the last axis (reduces
 * it), y and l broadcast against each other:
 *
 *     log softmax(l) = l − logsumexp(l),   ∂/∂l = softmax(l)·Σ_c y_c − y
 *
 * `tf.logSoftmax` is composed of Max/Sub/Exp/Sum/Log (max-shifted, so no
 * overflow) with a closed-form gradient; no backend needs a LogSoftmax
 * kernel, and it runs on wasm. Classes with y_c = 0 contribute exactly 0,
 * also where their log-probability is below float32's range (logits more
 * than 3.4·10³⁸ apart), so the value is finite wherever the true one is.
 * For one-hot y it is `−log p(class)` of a categorical distribution.
 */
export function categoricalNegLogProbFromLogits(y: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [t, l] = broadcastPair(y.dtype === 'float32' ? y : tf.cast(y, 'float32'), logits);
    return categoricalLogitsNLL(t, l);
  });
}

/**
 * `Σ_c q_c·(log q_c − log p_c)` along the last axis (reduces it), from the
 * probabilities q and the log-probabilities of both distributions. Terms
 * with q_c = 0 are 0 whatever log p_c is (also −∞), and pass no gradient;
 * a class with q_c > 0 and p_c = 0 makes the divergence +∞.
 */
export function discreteKL(q: tf.Tensor, logQ: tf.Tensor, logP: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = tf.backend_util.assertAndGetBroadcastShape(
        tf.backend_util.assertAndGetBroadcastShape(q.shape, logQ.shape), logP.shape);
    const [sq, lq, lp] = [q, logQ, logP].map((t) => tf.broadcastTo(t, shape));
    // Masked before the subtraction too: −∞ − (−∞) is NaN (where q_c = 0 both may be −∞).
    const zero = tf.greaterEqual(0, sq);  // q = 0 for probabilities (see mulOrZero)
    const diff = tf.sub(tf.where(zero, tf.zerosLike(lq), lq), tf.where(zero, tf.zerosLike(lp), lp));
    return tf.sum(mulOrZero(sq, diff), -1);
  });
}

/** `−Σ_c q_c·log q_c` along the last axis (reduces it); classes with q_c = 0 contribute 0. */
export function discreteEntropy(q: tf.Tensor, logQ: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.sum(mulOrZero(q, logQ), -1)));
}

/**
 * The smallest and largest uniforms of a Gumbel draw: `−log(−log u)` is
 * finite on [2⁻¹²⁶, 1 − 2⁻²⁴], from −4.47 to 16.6 (u = 0 would give −∞ and
 * u = 1 +∞, a NaN next to a logit of −∞).
 */
const UNIFORM_MIN = 1.1754943508222875e-38;
const UNIFORM_MAX = 1 - 2 ** -24;

/**
 * Standard Gumbel noise `g = −log(−log u)` of `shape`, from uniforms clamped
 * to [2⁻¹²⁶, 1 − 2⁻²⁴] (finite everywhere): the noise of `Categorical`'s
 * Gumbel-max draw and of the Gumbel-softmax relaxation.
 */
export function gumbelNoise(shape: number[], seed?: number): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.clipByValue(tf.randomUniform(shape, 0, 1, 'float32', seed), UNIFORM_MIN, UNIFORM_MAX);
    return tf.neg(tf.log(tf.neg(tf.log(u))));
  });
}
