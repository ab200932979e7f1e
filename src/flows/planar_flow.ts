/**
 * The planar flow of Rezende & Mohamed (2015): `f(z) = z + û tanh(wᵀz + b)`,
 * with û constrained so that f is invertible for every u and w.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Initializer, LayerArgs, LayerVariable} from '../util/tfjs_types';

import {InitializerSpec, resolveInitializer, serializeInitializer} from '../layers/initializer_spec';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkBoolean, checkKnownOptions, LAYER_ARG_NAMES} from '../util/validate';
import {FlowLayer} from './flow_layer';

const PLANAR_FLOW_ARG_NAMES = ['amortized', 'kernelInitializer', 'biasInitializer', ...LAYER_ARG_NAMES];

/** Iterations of the bisection of the numerical inverse (each halves a bracket of width 2|wᵀû|). */
const INVERSE_BISECTIONS = 60;

export interface PlanarFlowArgs extends LayerArgs {
  /**
   * `false` (default): the layer owns its parameters, the weights `u` `[d]`,
   * `w` `[d]` and `b` `[]`. `true`: no weights; `forwardAndLogDet(z, params)`
   * (or `apply([z, params])`) takes per-example parameters `params`
   * `[batch, 2d + 1]`, columns `[u (d) | w (d) | b (1)]`, e.g. the output of
   * the inference network (Rezende & Mohamed 2015, section 4). u is the
   * unconstrained vector: the layer applies the invertibility constraint.
   */
  amortized?: boolean;
  /** Initializer of `u` and `w` (global mode). Default `randomNormal` with standard deviation 0.1. */
  kernelInitializer?: InitializerSpec;
  /** Initializer of `b` (global mode). Default `'zeros'`. */
  biasInitializer?: InitializerSpec;
}

/** The constrained parameters of a planar map for rows `[n or 1, d]`. */
interface PlanarParams {
  uHat: tf.Tensor;
  w: tf.Tensor;
  b: tf.Tensor;
  /** 1 + wᵀû > 0 (softplus(wᵀu); 1 where w = 0), `[n or 1, 1]`. */
  s: tf.Tensor;
  /** log(1 + wᵀû), finite where s underflows. */
  logS: tf.Tensor;
}

/**
 * û = u + (m(wᵀu) − wᵀu) w/‖w‖² with m(x) = −1 + softplus(x), so that
 * wᵀû = m(wᵀu) ≥ −1 for every u and w (Rezende & Mohamed 2015, appendix A).
 * `m(x) − x` is written `softplus(−x) − 1` (the same number: softplus(x) − x
 * = softplus(−x)) so that it does not cancel for large wᵀu. With ‖w‖² = 0
 * (underflowed), f = z + u tanh(b) has det 1 for any u, and û = u.
 */
function constrain(u: tf.Tensor, w: tf.Tensor, b: tf.Tensor): PlanarParams {
  const wu = tf.sum(tf.mul(w, u), -1, true);
  const wNorm2 = tf.sum(tf.square(w), -1, true);
  // ‖w‖² = 0 as 0 ≥ ‖w‖² (GreaterEqual is the comparison with a gradient in tfjs, so it may sit on a
  // differentiated path). The denominator of the unselected branch is 1, so neither it nor its gradient is 0/0.
  const zero = tf.greaterEqual(0, wNorm2);
  const safeNorm2 = tf.where(zero, tf.onesLike(wNorm2), wNorm2);
  const coef = tf.where(zero, tf.zerosLike(wNorm2), tf.div(tf.sub(tf.softplus(tf.neg(wu)), 1), safeNorm2));
  // 1 + wᵀû: softplus(wᵀu) under the constraint, 1 where w = 0 (û = u, wᵀû = 0).
  const s = tf.where(zero, tf.onesLike(wu), tf.softplus(wu));
  const logS = tf.where(zero, tf.zerosLike(wu), logSoftplus(wu));
  return {uHat: tf.add(u, tf.mul(coef, w)), w, b, s, logS};
}

/**
 * `log softplus(x)`: for x < −20 it is x (softplus(x) = e^x (1 − e^x/2 + …),
 * the difference below 10⁻⁹), where softplus(x) itself underflows from
 * x ≈ −104 and its log would be −∞. The other branch sees max(x, −20), so
 * neither branch's gradient is 0/0.
 */
function logSoftplus(x: tf.Tensor): tf.Tensor {
  const small = tf.greaterEqual(-20, x);
  return tf.where(small, x, tf.log(tf.softplus(tf.maximum(x, -20))));
}

/**
 * `log(1 + wᵀû · tanh'(a))` with 1 + wᵀû = s > 0: writing t = e^{−2|a|},
 * tanh²(a) = ((1 − t)/(1 + t))² and tanh'(a) = 4t/(1 + t)², so
 *
 *     1 + (s − 1) tanh'(a) = tanh²(a) + s tanh'(a) = ((1 − t)² + 4 s t) / (1 + t)²,
 *
 * a sum of non-negative terms (no cancellation where 1 + wᵀû·tanh' is
 * near 0). It is taken in log space, `logaddexp(2 log(1 − t), log 4 + log s − 2|a|)
 * − 2 softplus(−2|a|)`, with 1 − t = −expm1(−2|a|) accurate at small |a|
 * and log s given (see logSoftplus), so the log-det stays finite for every
 * parameter — log s at a = 0, e.g. −200 for wᵀu = −200, where s itself
 * underflows — and → 0 for large |a| (|z| = 10⁴: no 0·∞, no overflow).
 * At a = 0 exactly, log(1 − t) = −∞ is a constant branch, so its infinite
 * derivative never meets the zero weight logaddexp gives it.
 */
function planarLogDet(a: tf.Tensor, logS: tf.Tensor): tf.Tensor {
  const absA = tf.abs(a);
  const atZero = tf.greaterEqual(0, absA);
  const safeAbs = tf.where(atZero, tf.onesLike(absA), absA);
  const logOneMinusT = tf.log(tf.neg(tf.expm1(tf.mul(safeAbs, -2))));
  const first = tf.where(atZero, tf.fill(absA.shape, -Infinity), tf.mul(2, logOneMinusT));
  const second = tf.add(tf.sub(logS, tf.mul(2, absA)), Math.log(4));
  const top = tf.maximum(first, second);
  const logSum = tf.add(top, tf.log(tf.add(tf.exp(tf.sub(first, top)), tf.exp(tf.sub(second, top)))));
  // log (1 + t)² = 2 softplus(−2|a|).
  return tf.sub(logSum, tf.mul(2, tf.softplus(tf.mul(absA, -2))));
}

/**
 * The planar flow (Rezende & Mohamed 2015, arXiv:1505.05770, eq. 10):
 *
 *     f(z) = z + û h(wᵀz + b),   h = tanh,
 *     log|det ∂f/∂z| = log|1 + ûᵀ h'(wᵀz + b) w|,
 *
 * with û = u + (m(wᵀu) − wᵀu) w/‖w‖², m(x) = −1 + softplus(x), so that
 * wᵀû ≥ −1 and f is invertible whatever u and w are (appendix A).
 *
 * Global (default: weights `u`, `w` `[d]`, `b` `[]`) or amortized
 * (`amortized: true`: per-example `params` `[batch, 2d + 1]` =
 * `[u | w | b]`). The inverse is numerical: wᵀf(z) + b = a + wᵀû tanh(a)
 * with a = wᵀz + b is increasing in a, solved by bisection and a Newton
 * step (which also gives the implicit gradient), then z = y − û tanh(a).
 *
 * **Input:** `z` `[batch, d]`, or `[z, params]` (amortized).
 * **Output:** `f(z)` `[batch, d]`.
 */
export class PlanarFlow extends FlowLayer {
  /** @nocollapse */
  static className = 'PlanarFlow';

  readonly amortized: boolean;
  protected readonly where = 'planarFlow';
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;
  private u: LayerVariable|null = null;
  private w: LayerVariable|null = null;
  private b: LayerVariable|null = null;

  /** P = 2d + 1, the per-example parameters of an amortized planar flow on rows of size d: `[u | w | b]`. */
  static paramSize(d: number): number {
    return 2 * d + 1;
  }

  constructor(args: PlanarFlowArgs = {}) {
    const where = 'planarFlow';
    checkKnownOptions(where, args, PLANAR_FLOW_ARG_NAMES);
    super(args);
    this.amortized = args.amortized == null ? false : checkBoolean(where, 'amortized', args.amortized);
    this.kernelInitializer = resolveInitializer(where, 'kernelInitializer',
        args.kernelInitializer ?? {className: 'RandomNormal', config: {mean: 0, stddev: 0.1}});
    this.biasInitializer = resolveInitializer(where, 'biasInitializer', args.biasInitializer ?? 'zeros');
  }

  /** 2d + 1 when amortized, else 0 (the layer owns its parameters). */
  paramSize(d: number): number {
    return this.amortized ? PlanarFlow.paramSize(d) : 0;
  }

  protected buildWeights(d: number): void {
    if (this.amortized) return;
    this.u = this.addWeight('u', [d], 'float32', this.kernelInitializer);
    this.w = this.addWeight('w', [d], 'float32', this.kernelInitializer);
    this.b = this.addWeight('b', [], 'float32', this.biasInitializer);
  }

  /** The constrained parameters, rows `[batch or 1, ·]`. */
  private params(params: tf.Tensor|null): PlanarParams {
    const d = this.dim;
    if (params !== null) {
      return constrain(tf.slice(params, [0, 0], [-1, d]), tf.slice(params, [0, d], [-1, d]), tf.slice(params, [0, 2 * d], [-1, 1]));
    }
    return constrain(tf.reshape(this.u!.read(), [1, d]), tf.reshape(this.w!.read(), [1, d]), tf.reshape(this.b!.read(), [1, 1]));
  }

  protected forward(z: tf.Tensor, params: tf.Tensor|null): [tf.Tensor, tf.Tensor] {
    const {uHat, w, b, logS} = this.params(params);
    const a = tf.add(tf.sum(tf.mul(z, w), -1, true), b);
    const y = tf.add(z, tf.mul(uHat, tf.tanh(a)));
    return [y, tf.reshape(planarLogDet(a, logS), [-1])];
  }

  /**
   * `[f⁻¹(y), log|det ∂f⁻¹/∂y|]`, numerically: a = wᵀz + b solves
   * g(a) = a + c tanh(a) = wᵀy + b =: τ with c = wᵀû ≥ −1, g increasing, and
   * |g(a) − a| ≤ |c| brackets the root in [τ − |c|, τ + |c|]; 60 bisections,
   * then one Newton step a − (g(a) − τ)/g'(a), whose derivative is the
   * implicit function's (so gradients through the inverse are right).
   * Accurate to float32 rounding except where g' = 1 + c tanh'(a) is tiny.
   */
  override inverseAndLogDet(y: tf.Tensor, params?: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const p = this.checkTensors(y, params);
    return tf.tidy(() => {
      const {uHat, w, b, s, logS} = this.params(p);
      const c = tf.sub(s, 1);
      const tau = tf.add(tf.sum(tf.mul(y, w), -1, true), b);
      const absC = tf.abs(c);
      let lo = tf.sub(tau, absC);
      let hi = tf.add(tau, absC);
      for (let i = 0; i < INVERSE_BISECTIONS; i++) {
        const [nextLo, nextHi] = tf.tidy(() => {
          const mid = tf.mul(tf.add(lo, hi), 0.5);
          // g(mid) ≥ τ: the root is at or below mid (GreaterEqual: the comparison with a gradient in tfjs).
          const above = tf.greaterEqual(tf.add(mid, tf.mul(c, tf.tanh(mid))), tau);
          return [tf.where(above, lo, mid), tf.where(above, mid, hi)];
        });
        if (i > 0) tf.dispose([lo, hi]);
        lo = nextLo;
        hi = nextHi;
      }
      const a0 = tf.mul(tf.add(lo, hi), 0.5);
      const residual = tf.sub(tf.add(a0, tf.mul(c, tf.tanh(a0))), tau);
      const slope = tf.exp(planarLogDet(a0, logS));
      const a = tf.sub(a0, tf.div(residual, slope));
      const z = tf.sub(y, tf.mul(uHat, tf.tanh(a)));
      return [z, tf.neg(tf.reshape(planarLogDet(a, logS), [-1]))] as [tf.Tensor, tf.Tensor];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      amortized: this.amortized,
      kernelInitializer: serializeInitializer(this.kernelInitializer),
      biasInitializer: serializeInitializer(this.biasInitializer),
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(PlanarFlow, SERIALIZATION_PACKAGE);

/**
 * A planar flow `f(z) = z + û tanh(wᵀz + b)`, invertible for all parameters
 * (Rezende & Mohamed 2015); `amortized: true` takes `[u | w | b]` per example.
 *
 * ```js
 * const flow = tfv.flows.planarFlow();
 * const [zK, logDet] = flow.forwardAndLogDet(tf.randomNormal([8, 2]));
 * ```
 */
export function planarFlow(args?: PlanarFlowArgs): PlanarFlow {
  return new PlanarFlow(args);
}
