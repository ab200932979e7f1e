/**
 * What a stochastic layer does outside training (`predict`, `evaluate`):
 * draw as in training (`'sample'`: Monte Carlo predictions, an unbiased
 * held-out ELBO, generation) or return its distribution's mean (`'mean'`:
 * deterministic). At training every stochastic layer samples.
 *
 * Stochastic layers are recognised by what they offer, not by class name,
 * so `tfv.setInferenceMode` and `tfv.predictive` cover every such layer,
 * ours and future ones alike: a registered marker (`markStochasticLayer`,
 * set in the constructor), or failing that an `inferenceMode` property with
 * a getter and a setter that accepts `'sample'` and `'mean'`.
 */
import {checkOneOf} from '../util/validate';

export type InferenceMode = 'sample'|'mean';

const INFERENCE_MODES: readonly InferenceMode[] = ['sample', 'mean'];

/** Checks an `inferenceMode` argument, naming `where` in the error. */
export function checkInferenceMode(where: string, mode: unknown): InferenceMode {
  return checkOneOf(where, 'inferenceMode', mode, INFERENCE_MODES);
}

/**
 * A layer that draws noise at inference unless told otherwise. Its
 * `inferenceMode` reads the current mode and accepts at least `'sample'`
 * and `'mean'` (a layer may know more, e.g. `GumbelSoftmax`'s `'mode'`).
 */
export interface StochasticLayer {
  readonly name: string;
  inferenceMode: string;
  getClassName(): string;
}

/**
 * A registered symbol rather than `instanceof`, so that two copies of this
 * library in one process (an ESM and a CJS build) see each other's layers.
 */
const STOCHASTIC_LAYER: unique symbol = Symbol.for('tfjs-variational.stochasticLayer');

/** Marks `layer` as a `StochasticLayer` (call in its constructor). */
export function markStochasticLayer(layer: object): void {
  Object.defineProperty(layer, STOCHASTIC_LAYER, {value: true});
}

/** The `inferenceMode` accessor of `obj` or of its prototypes, if it has a getter and a setter. */
function hasModeAccessor(obj: object): boolean {
  for (let o: object|null = obj; o !== null; o = Object.getPrototypeOf(o) as object|null) {
    const d = Object.getOwnPropertyDescriptor(o, 'inferenceMode');
    if (d !== undefined) return typeof d.get === 'function' && typeof d.set === 'function';
  }
  return false;
}

/**
 * True for a marked layer, or one whose `inferenceMode` is a string read
 * through a getter and written through a setter (duck-typed: layers of
 * other authors that follow the same contract are covered too).
 */
export function isStochasticLayer(layer: unknown): layer is StochasticLayer {
  if (layer == null || typeof layer !== 'object') return false;
  if ((layer as {[STOCHASTIC_LAYER]?: boolean})[STOCHASTIC_LAYER] === true) return true;
  return hasModeAccessor(layer) && typeof (layer as {inferenceMode?: unknown}).inferenceMode === 'string';
}
