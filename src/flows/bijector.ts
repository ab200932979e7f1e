/**
 * The bijector contract of the flows (as distrax's `Bijector`): a map of
 * `[batch, d]` rows with its log-det-Jacobian, an optional inverse, and the
 * chain that composes them and sums their log-dets.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * An invertible map `f` of `[batch, d]` rows with the log-determinant of its
 * Jacobian per row.
 *
 * - `forwardAndLogDet(z, params?)` returns `[f(z), log|det ∂f/∂z|]`, shapes
 *   `[batch, d]` and `[batch]`. `params` are per-example parameters
 *   `[batch, P]` for a bijector that takes them (an amortized flow, or the
 *   context `h` of an inverse autoregressive flow).
 * - `inverseAndLogDet(y, params?)`, where an inverse exists, returns
 *   `[f⁻¹(y), log|det ∂f⁻¹/∂y|]` — the second is minus the forward log-det
 *   at `f⁻¹(y)`. A bijector without one leaves it undefined (or throws,
 *   naming its class).
 */
export interface Bijector {
  forwardAndLogDet(z: tf.Tensor, params?: tf.Tensor): [tf.Tensor, tf.Tensor];
  inverseAndLogDet?(y: tf.Tensor, params?: tf.Tensor): [tf.Tensor, tf.Tensor];
}

/**
 * Per-example parameters of a chain: one tensor that every member receives
 * (e.g. the context `h` of a stack of inverse autoregressive flows), or one
 * entry per member (`undefined` for a member that takes none).
 */
export type ChainParams = tf.Tensor|ReadonlyArray<tf.Tensor|undefined>;

/** The class name of a bijector for messages: its `className` (our layers), else its constructor's name. */
export function bijectorName(b: Bijector): string {
  const ctor = (b as {constructor?: {className?: unknown, name?: unknown}}).constructor;
  if (ctor != null && typeof ctor.className === 'string') return ctor.className;
  if (ctor != null && typeof ctor.name === 'string' && ctor.name !== 'Object') return ctor.name;
  return 'Bijector';
}

/** The error a bijector without an inverse throws (from `inverseAndLogDet`, or from a chain that needs it). */
export function noInverseError(b: Bijector|string): Error {
  const name = typeof b === 'string' ? b : bijectorName(b);
  return new Error(`${name} has no inverse: it defines forwardAndLogDet only (inverseAndLogDet is not available)`);
}

function memberParams(where: string, params: ChainParams|undefined, n: number): Array<tf.Tensor|undefined> {
  if (params === undefined) return new Array<undefined>(n).fill(undefined);
  if (params instanceof tf.Tensor) return new Array<tf.Tensor>(n).fill(params);
  if (!Array.isArray(params) || params.length !== n) {
    throw new Error(`${where}: expected params to be one tensor or an array of ${n} entries (one per bijector). ` +
        `Received: params=${Array.isArray(params) ? `an array of ${params.length}` : String(params)}`);
  }
  return [...params];
}

function checkBijectors(where: string, bijectors: readonly Bijector[]): void {
  if (!Array.isArray(bijectors) || bijectors.length === 0) {
    throw new Error(`${where}: expected a non-empty array of bijectors. Received: bijectors=${
      Array.isArray(bijectors) ? '[]' : String(bijectors)}`);
  }
  bijectors.forEach((b, i) => {
    if (b == null || typeof (b as Partial<Bijector>).forwardAndLogDet !== 'function') {
      throw new Error(`${where}: bijector ${i} has no forwardAndLogDet method. Received: ${String(b)}`);
    }
  });
}

/**
 * `z_K = f_K ∘ … ∘ f_1 (z)` and `Σ_k log|det ∂f_k/∂z_{k−1}|` per row
 * (`[batch, d]`, `[batch]`): the sum a flow posterior subtracts from
 * `log q0(z0)` to get `log q_K(z_K)` (Rezende & Mohamed 2015, eq. 7).
 * `params` as in {@link ChainParams}.
 */
export function chainForwardAndLogDet(bijectors: readonly Bijector[], z: tf.Tensor, params?: ChainParams): [tf.Tensor, tf.Tensor] {
  const where = 'chainForwardAndLogDet';
  checkBijectors(where, bijectors);
  const ps = memberParams(where, params, bijectors.length);
  return tf.tidy(() => {
    let x = z;
    let sum: tf.Tensor|null = null;
    bijectors.forEach((b, i) => {
      const [y, logDet] = b.forwardAndLogDet(x, ps[i]);
      x = y;
      sum = sum === null ? logDet : tf.add(sum, logDet);
    });
    return [x, sum!] as [tf.Tensor, tf.Tensor];
  });
}

/**
 * The inverse of the chain: `z = f_1⁻¹ ∘ … ∘ f_K⁻¹ (y)` and
 * `Σ_k log|det ∂f_k⁻¹/∂y_k|` (minus the forward chain's log-det at z).
 * `params[k]` goes to `bijectors[k]`, as in the forward chain. Throws,
 * naming the class, if a member has no inverse.
 */
export function chainInverseAndLogDet(bijectors: readonly Bijector[], y: tf.Tensor, params?: ChainParams): [tf.Tensor, tf.Tensor] {
  const where = 'chainInverseAndLogDet';
  checkBijectors(where, bijectors);
  for (const b of bijectors) {
    if (typeof b.inverseAndLogDet !== 'function') throw noInverseError(b);
  }
  const ps = memberParams(where, params, bijectors.length);
  return tf.tidy(() => {
    let x = y;
    let sum: tf.Tensor|null = null;
    for (let i = bijectors.length - 1; i >= 0; i--) {
      const [z, logDet] = bijectors[i].inverseAndLogDet!(x, ps[i]);
      x = z;
      sum = sum === null ? logDet : tf.add(sum, logDet);
    }
    return [x, sum!] as [tf.Tensor, tf.Tensor];
  });
}
