/**
 * β, the multiplier of a layer's divergence term, kept as the layer's
 * non-trainable weight `kl_weight`: a callback can anneal it between steps
 * without rebuilding the model, and a saved model keeps its current value.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Initializer, LayerVariable} from '../util/tfjs_types';

import {checkNonNegative} from '../util/validate';

/** What `tfv.callbacks.klAnnealing` needs of a layer. */
export interface KLWeighted {
  getKLWeight(): number;
  readKLWeight(): Promise<number>;
  setKLWeight(weight: number): void;
}

/** True for layers whose divergence multiplier can be annealed. */
export function isKLWeighted(layer: unknown): layer is KLWeighted {
  const l = layer as Partial<KLWeighted>|null;
  return l != null && typeof l.setKLWeight === 'function' && typeof l.readKLWeight === 'function';
}

export class KLWeight {
  private variable: LayerVariable|null = null;

  /** `initial` is β before the layer is built; `owner` names the layer in errors. */
  constructor(readonly initial: number, private readonly owner: () => string) {}

  /** The initializer to give `addWeight('kl_weight', [], 'float32', …, undefined, false)`. */
  initializer(): Initializer {
    return tfl.initializers.constant({value: this.initial});
  }

  /** Takes the variable the layer created in `build`. */
  attach(variable: LayerVariable): void {
    this.variable = variable;
  }

  /** `β · divergence` (a new scalar); β = `initial` before build. */
  scale(divergence: tf.Scalar): tf.Scalar {
    return this.variable === null ? tf.mul(this.initial, divergence) : tf.mul(this.variable.read(), divergence);
  }

  /** β, read synchronously (on webgpu prefer `read()`: synchronous reads stall the GPU there). */
  get(): number {
    return this.variable === null ? this.initial : this.variable.read().dataSync()[0];
  }

  /** β, read asynchronously. */
  async read(): Promise<number> {
    return this.variable === null ? this.initial : (await this.variable.read().data())[0];
  }

  /** Sets β for the following steps. */
  set(weight: number): void {
    checkNonNegative('setKLWeight', 'weight', weight);
    if (this.variable === null) {
      throw new Error(`setKLWeight: layer '${this.owner()}' is not built yet; apply it to inputs first`);
    }
    const value = tf.scalar(weight);
    this.variable.write(value);
    value.dispose();
  }
}
