/**
 * The radial flow of Rezende & Mohamed (2015): a contraction or expansion of
 * space around a centre z0, `f(z) = z + β h(α, r)(z − z0)`, with β ≥ −α so
 * that it is invertible.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Initializer, LayerArgs, LayerVariable} from '../util/tfjs_types';

import {InitializerSpec, resolveInitializer, serializeInitializer} from '../layers/initializer_spec';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkBoolean, checkKnownOptions, LAYER_ARG_NAMES} from '../util/validate';
import {FlowLayer} from './flow_layer';

const RADIAL_FLOW_ARG_NAMES = ['amortized', 'centerInitializer', ...LAYER_ARG_NAMES];

export interface RadialFlowArgs extends LayerArgs {
  /**
   * `false` (default): the layer owns its parameters, the weights `z0` `[d]`
   * (the centre), `alpha` `[]` and `beta` `[]` (unconstrained: α =
   * softplus(alpha), β = −α + softplus(beta)). `true`: no weights;
   * `forwardAndLogDet(z, params)` (or `apply([z, params])`) takes
   * per-example parameters `params` `[batch, d + 2]`, columns
   * `[z0 (d) | alpha (1) | beta (1)]`, unconstrained as the weights are.
   */
  amortized?: boolean;
  /**
   * Initializer of the centre `z0` (global mode). Default `'zeros'`; `alpha`
   * and `beta` start at 0 (α = log 2, β = 0: the identity map).
   */
  centerInitializer?: InitializerSpec;
}

/**
 * `‖x‖` over the last axis, keeping it, with gradient 0 at x = 0 (the
 * subgradient; `√` alone has the gradient x/‖x‖ = 0/0 = NaN there): the
 * square root of the unselected branch sees 1.
 */
function safeNorm(x: tf.Tensor): tf.Tensor {
  const sq = tf.sum(tf.square(x), -1, true);
  // x = 0 as 0 ≥ ‖x‖² (GreaterEqual is the comparison with a gradient in tfjs).
  const zero = tf.greaterEqual(0, sq);
  return tf.where(zero, tf.zerosLike(sq), tf.sqrt(tf.where(zero, tf.onesLike(sq), sq)));
}

/** The constrained parameters for rows `[n or 1, ·]`: the centre, α = softplus(alpha) and σ = β + α = softplus(beta). */
interface RadialParams {
  z0: tf.Tensor;
  alpha: tf.Tensor;
  sigma: tf.Tensor;
}

/**
 * With σ = β + α = softplus(beta) ≥ 0 (so β ≥ −α), the two factors of the
 * Jacobian's determinant are written without cancellation:
 *
 *     1 + βh = (r + σ)/(α + r),
 *     1 + βh + βh'r = 1 + αβ/(α + r)² = (r(2α + r) + ασ)/(α + r)²,
 *
 * and log|det| = (d − 1) log(1 + βh) + log(1 + βh + βh'r), finite at r = 0
 * (d·log(σ/α)) and for large r (→ 0).
 */
function radialLogDet(r: tf.Tensor, alpha: tf.Tensor, sigma: tf.Tensor, d: number): tf.Tensor {
  const logAlphaR = tf.log(tf.add(alpha, r));
  const first = tf.sub(tf.log(tf.add(r, sigma)), logAlphaR);
  const second = tf.sub(tf.log(tf.add(tf.mul(r, tf.add(tf.mul(2, alpha), r)), tf.mul(alpha, sigma))), tf.mul(2, logAlphaR));
  return tf.reshape(tf.add(tf.mul(d - 1, first), second), [-1]);
}

/**
 * The radial flow (Rezende & Mohamed 2015, arXiv:1505.05770, eq. 14):
 *
 *     f(z) = z + β h(α, r)(z − z0),   h = 1/(α + r),   r = ‖z − z0‖,
 *     log|det ∂f/∂z| = (d − 1) log(1 + βh) + log(1 + βh + βh'(α, r) r),
 *
 * with α = softplus(alpha) > 0 and β = −α + softplus(beta) ≥ −α, which
 * makes f invertible (appendix A). f moves z along the ray from z0, so
 * `f(z) = z0 + (z − z0)(r + σ)/(α + r)` with σ = α + β, the form computed.
 *
 * Global (weights `z0` `[d]`, `alpha`, `beta` `[]`) or amortized
 * (`amortized: true`: `params` `[batch, d + 2]` = `[z0 | alpha | beta]`).
 * The inverse is in closed form: ρ = ‖y − z0‖ = r(r + σ)/(α + r) is a
 * quadratic in r.
 *
 * **Input:** `z` `[batch, d]`, or `[z, params]` (amortized).
 * **Output:** `f(z)` `[batch, d]`.
 */
export class RadialFlow extends FlowLayer {
  /** @nocollapse */
  static className = 'RadialFlow';

  readonly amortized: boolean;
  protected readonly where = 'radialFlow';
  private readonly centerInitializer: Initializer;
  private z0: LayerVariable|null = null;
  private alpha: LayerVariable|null = null;
  private beta: LayerVariable|null = null;

  /** P = d + 2, the per-example parameters of an amortized radial flow on rows of size d: `[z0 | alpha | beta]`. */
  static paramSize(d: number): number {
    return d + 2;
  }

  constructor(args: RadialFlowArgs = {}) {
    const where = 'radialFlow';
    checkKnownOptions(where, args, RADIAL_FLOW_ARG_NAMES);
    super(args);
    this.amortized = args.amortized == null ? false : checkBoolean(where, 'amortized', args.amortized);
    this.centerInitializer = resolveInitializer(where, 'centerInitializer', args.centerInitializer ?? 'zeros');
  }

  /** d + 2 when amortized, else 0 (the layer owns its parameters). */
  paramSize(d: number): number {
    return this.amortized ? RadialFlow.paramSize(d) : 0;
  }

  protected buildWeights(d: number): void {
    if (this.amortized) return;
    this.z0 = this.addWeight('z0', [d], 'float32', this.centerInitializer);
    this.alpha = this.addWeight('alpha', [], 'float32', resolveInitializer(this.where, 'alpha', 'zeros'));
    this.beta = this.addWeight('beta', [], 'float32', resolveInitializer(this.where, 'beta', 'zeros'));
  }

  private params(params: tf.Tensor|null): RadialParams {
    const d = this.dim;
    const [z0, alpha, beta] = params !== null ?
        [tf.slice(params, [0, 0], [-1, d]), tf.slice(params, [0, d], [-1, 1]), tf.slice(params, [0, d + 1], [-1, 1])] :
        [tf.reshape(this.z0!.read(), [1, d]), tf.reshape(this.alpha!.read(), [1, 1]), tf.reshape(this.beta!.read(), [1, 1])];
    return {z0, alpha: tf.softplus(alpha), sigma: tf.softplus(beta)};
  }

  protected forward(z: tf.Tensor, params: tf.Tensor|null): [tf.Tensor, tf.Tensor] {
    const {z0, alpha, sigma} = this.params(params);
    const diff = tf.sub(z, z0);
    const r = safeNorm(diff);
    const scale = tf.div(tf.add(r, sigma), tf.add(alpha, r));
    return [tf.add(z0, tf.mul(diff, scale)), radialLogDet(r, alpha, sigma, this.dim)];
  }

  /**
   * `[f⁻¹(y), log|det ∂f⁻¹/∂y|]` in closed form. With ρ = ‖y − z0‖, r
   * solves r² + (σ − ρ) r − αρ = 0; with q = ρ − σ and D = √(q² + 4αρ),
   * r = (q + D)/2 for q ≥ 0 and r = 2αρ/(D − q) otherwise (the same root
   * without cancellation); then z = z0 + (y − z0)(α + r)/(r + σ).
   */
  override inverseAndLogDet(y: tf.Tensor, params?: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const p = this.checkTensors(y, params);
    return tf.tidy(() => {
      const {z0, alpha, sigma} = this.params(p);
      const diff = tf.sub(y, z0);
      const rho = safeNorm(diff);
      const q = tf.sub(rho, sigma);
      const fourAlphaRho = tf.mul(tf.mul(4, alpha), rho);
      const disc = tf.sqrt(tf.add(tf.square(q), fourAlphaRho));
      const nonNegative = tf.greaterEqual(q, 0);
      // The unselected branch's denominator is 1, so it cannot be 0 (no 0/0 in its gradient).
      const denominator = tf.where(nonNegative, tf.onesLike(q), tf.sub(disc, q));
      const r = tf.where(nonNegative, tf.mul(tf.add(q, disc), 0.5), tf.div(tf.mul(0.5, fourAlphaRho), denominator));
      const z = tf.add(z0, tf.mul(diff, tf.div(tf.add(alpha, r), tf.add(r, sigma))));
      return [z, tf.neg(radialLogDet(r, alpha, sigma, this.dim))] as [tf.Tensor, tf.Tensor];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      amortized: this.amortized,
      centerInitializer: serializeInitializer(this.centerInitializer),
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(RadialFlow, SERIALIZATION_PACKAGE);

/**
 * A radial flow `f(z) = z + β(z − z0)/(α + ‖z − z0‖)` with β ≥ −α
 * (Rezende & Mohamed 2015); `amortized: true` takes `[z0 | alpha | beta]`
 * per example.
 *
 * ```js
 * const flow = tfv.flows.radialFlow();
 * const [zK, logDet] = flow.forwardAndLogDet(tf.randomNormal([8, 2]));
 * ```
 */
export function radialFlow(args?: RadialFlowArgs): RadialFlow {
  return new RadialFlow(args);
}
