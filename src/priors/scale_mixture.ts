/**
 * The scale-mixture weight prior of Bayes by Backprop (Blundell et al. 2015):
 * two zero-mean Gaussians, one wide and one narrow.
 */
import * as tf from '@tensorflow/tfjs-core';

import {HALF_LOG_TWO_PI, mulByPositiveConstant, normalNegLogProb} from '../distributions/normal';
import {MixturePassParams, posteriorKernels} from '../perf/posterior_kernels';
import {argumentError, checkFiniteNumber, checkKnownOptions, checkPositive} from '../util/validate';
import {mcSamplesOption, Prior, registerBuiltinPrior} from './prior';

export interface ScaleMixturePriorArgs {
  /** Weight π of the first component, 0 < π < 1. Default 0.5. */
  pi?: number;
  /** Standard deviation σ₁ of the first (wide) component, > 0. Default 1 (= e⁰). */
  scale1?: number;
  /** Standard deviation σ₂ of the second (narrow) component, > 0. Default e⁻⁶ ≈ 0.00248. */
  scale2?: number;
  /** Monte Carlo draws S averaged per divergence (a positive integer). Default 1. */
  mcSamples?: number;
}

/**
 * `p(w) = Π_i [ π N(w_i; 0, σ₁²) + (1 − π) N(w_i; 0, σ₂²) ]`
 * (Blundell et al. 2015, arXiv:1505.05424, eq. 7; their grid searched
 * π ∈ {¼, ½, ¾}, −log σ₁ ∈ {0, 1, 2}, −log σ₂ ∈ {6, 7, 8}; the defaults are
 * π = ½, σ₁ = 1, σ₂ = e⁻⁶). The narrow component concentrates many weights
 * near zero, the wide one leaves room for large weights.
 *
 * The density is evaluated in log space,
 *
 *     log p(w_i) = logsumexp( log π + log N(w_i; 0, σ₁²),  log(1 − π) + log N(w_i; 0, σ₂²) ),
 *
 * so a weight far in the tails of the narrow component (density below
 * float32's range) still has a finite log-density and gradient. The KL
 * divergence has no closed form: layers use the Monte Carlo estimate
 * `(1/S) Σ_s [log q(w_s) − log p(w_s)]` over `mcSamples` = S draws, the
 * first at their sampled weights (see `divergenceOf`).
 */
export class ScaleMixturePrior extends Prior {
  /** @nocollapse */
  static className = 'ScaleMixturePrior';

  readonly pi: number;
  readonly scale1: number;
  readonly scale2: number;
  private readonly samples: number;

  constructor(args: ScaleMixturePriorArgs = {}) {
    super();
    const where = 'scaleMixturePrior';
    checkKnownOptions(where, args, ['pi', 'scale1', 'scale2', 'mcSamples']);
    this.pi = args.pi === undefined ? 0.5 : checkFiniteNumber(where, 'pi', args.pi);
    if (!(this.pi > 0 && this.pi < 1)) {
      throw argumentError(where, 'pi', 'a number strictly between 0 and 1', args.pi);
    }
    this.scale1 = args.scale1 === undefined ? 1 : checkPositive(where, 'scale1', args.scale1);
    this.scale2 = args.scale2 === undefined ? Math.exp(-6) : checkPositive(where, 'scale2', args.scale2);
    this.samples = mcSamplesOption(where, args.mcSamples);
  }

  override get mcSamples(): number {
    return this.samples;
  }

  /**
   * `log p(w)` as `a_wide + softplus(a_narrow − a_wide)`, where `a_c` is
   * `log(weight_c) + log N(w; 0, σ_c²)`, "wide" the component with the larger
   * scale, and the difference is formed analytically,
   *
   *     a_narrow − a_wide = log(π_n σ_w / (π_w σ_n)) − ½ w² (1/σ_n² − 1/σ_w²),
   *
   * (`(w·√(½(1/σ_n² − 1/σ_w²)))²`, the factor in double precision). A
   * max-shifted logsumexp of the two log-densities gives `−∞ − (−∞) = NaN`
   * once both underflow (|w| ≳ 10¹⁹ σ_w, where the true value is −∞); here
   * the difference is bounded above by its constant and tends to −∞, where
   * softplus is 0, so the result is `a_wide` — finite while the true value
   * is, −∞ (never NaN) beyond — and the gradient is finite everywhere (w is
   * clipped inside the difference where softplus has reached 0).
   */
  override logProb(w: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const firstWide = this.scale1 >= this.scale2;
      const [sW, sN] = firstWide ? [this.scale1, this.scale2] : [this.scale2, this.scale1];
      const logPiW = firstWide ? Math.log(this.pi) : Math.log1p(-this.pi);
      const logPiN = firstWide ? Math.log1p(-this.pi) : Math.log(this.pi);
      const wide = tf.sub(logPiW, normalNegLogProb(w, 0, sW));  // log π_w + log N(w; 0, σ_w²)
      const offset = logPiN - logPiW + Math.log(sW) - Math.log(sN);
      // √(½(1/σ_n² − 1/σ_w²)) = √(½(1 − (σ_n/σ_w)²))/σ_n, in double (expm1: exact for σ_n ≈ σ_w).
      const root = Math.sqrt(-0.5 * Math.expm1(2 * (Math.log(sN) - Math.log(sW)))) / sN;
      // |w| beyond `bound` puts the difference below −200, where softplus is 0 in float32 (e^−200): clipping w
      // there changes no value, and keeps (w·root)² and its gradient finite (else σ(−∞)·∞ = NaN at |w| = 3e38).
      const bound = Math.sqrt(Math.max(offset + 200, 1)) / root;
      const cw = 1 / sW;
      const params = this.fusedLogProbParams();
      if (params !== null && posteriorKernels(w) !== null) {
        // The wasm backend: this arithmetic as one fused pass (src/perf/posterior_kernels.ts), gradient
        // dy·(−(w/σ_w)/σ_w − sigmoid(diff)·2u·root) with u = clip(w)·root, in a second pass.
        const k = params.k;
        const fused = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
          save([x]);
          return {
            value: posteriorKernels(x)?.mixtureLogProb(x, cw, k, offset, root, bound) ?? this.logProb(x),
            gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
              const kg = posteriorKernels(dy, saved[0]);
              if (kg !== null) return [kg.mixtureLogProbGrad(dy, saved[0], cw, offset, root, bound)];
              const z = mulByPositiveConstant(saved[0], cw);
              const u = mulByPositiveConstant(tf.clipByValue(saved[0], -bound, bound), root);
              const inside = tf.cast(tf.lessEqual(tf.abs(saved[0]), bound), 'float32');
              const slope = tf.mul(tf.mul(tf.sigmoid(tf.sub(offset, tf.square(u))), tf.mul(u, 2 * root)), inside);
              return [tf.mul(dy, tf.sub(tf.neg(mulByPositiveConstant(z, cw)), slope))];
            },
          };
        }) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
        return fused(w);
      }
      const diff = root > 0 ?
          tf.sub(offset, tf.square(mulByPositiveConstant(tf.clipByValue(w, -bound, bound), root))) :
          tf.fill(w.shape, offset);
      return tf.add(wide, tf.softplus(diff));
    });
  }

  /**
   * The constants of `logProb`'s fused pass (`z = w·cw`, `u = clip(w, ±bound)·root`,
   * `log p = (k − z·(½z)) + softplus(offset − u²)`), or null where they lie outside
   * its range (then `logProb` runs tfjs ops). For the fused posterior passes.
   *
   * @internal
   */
  fusedLogProbParams(): MixturePassParams|null {
    const firstWide = this.scale1 >= this.scale2;
    const [sW, sN] = firstWide ? [this.scale1, this.scale2] : [this.scale2, this.scale1];
    const logPiW = firstWide ? Math.log(this.pi) : Math.log1p(-this.pi);
    const logPiN = firstWide ? Math.log1p(-this.pi) : Math.log(this.pi);
    const offset = logPiN - logPiW + Math.log(sW) - Math.log(sN);
    const root = Math.sqrt(-0.5 * Math.expm1(2 * (Math.log(sN) - Math.log(sW)))) / sN;
    const bound = Math.sqrt(Math.max(offset + 200, 1)) / root;
    const cw = 1 / sW;
    if (!(root > 0 && root <= 1e30 && bound <= 1e30 && cw >= 1e-30 && cw <= 1e30)) return null;
    return {cw, k: logPiW - (Math.log(sW) + HALF_LOG_TWO_PI), offset, root, bound};
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {pi: this.pi, scale1: this.scale1, scale2: this.scale2, mcSamples: this.samples};
  }
}
registerBuiltinPrior('scaleMixture', ScaleMixturePrior);

/**
 * The prior `π N(0, σ₁²) + (1 − π) N(0, σ₂²)` on every weight (Bayes by
 * Backprop); its divergence is estimated by Monte Carlo.
 *
 * ```js
 * tfv.layers.bayesianDense({units: 10, numExamples: 60000,
 *   prior: tfv.priors.scaleMixture({pi: 0.25, scale1: 1, scale2: Math.exp(-7)})});
 * ```
 */
export function scaleMixture(args?: ScaleMixturePriorArgs): ScaleMixturePrior {
  return new ScaleMixturePrior(args);
}
