/**
 * The base of every layer that adds a divergence to the model's loss
 * (`KLDivergenceLayer`, `BayesianDense`, …): it owns what they share, so
 * each subclass only computes its divergence.
 *
 * - **β**, the divergence's multiplier, a non-trainable weight `kl_weight`
 *   (annealable by `tfv.callbacks.klAnnealing`, kept by a saved model);
 * - **the loss buffer** and the one `addLoss` closure (see
 *   `engine/layer_losses.ts`): what `call` records lives until tfjs reads it
 *   in the training step, and is freed afterwards;
 * - **the record gate**: a divergence is computed at training and during a
 *   full-objective evaluation, never for `predict`, and once per application
 *   (the application key), however often tfjs's executor calls the layer;
 * - **the logged term**: beside the trained loss `β · surrogate`, each
 *   application records its divergence as it enters the ELBO (no β, no free
 *   bits), which `fit`'s logs and `evaluateObjective` report per layer;
 * - **seeds** (a `SeedStream`) and **disposal**.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {applicationKey, isCollectingLayerLosses, LayerLossBuffer} from '../engine/layer_losses';
import {SeedStream} from '../util/seed';
import type {Kwargs, LayerArgs} from '../util/tfjs_types';
import {checkNonNegative} from '../util/validate';
import type {KLWeighted} from './kl_weight';
import {modelLayers} from './model_layers';
import {ScalarWeight} from './scalar_weight';

/**
 * Marks divergence layers by a registered symbol rather than `instanceof`, so
 * that two copies of this library in one process (an ESM and a CJS build)
 * recognise each other's layers.
 */
const DIVERGENCE_LAYER: unique symbol = Symbol.for('tfjs-variational.divergenceLayer');

/** What the per-term logs need of a divergence layer. */
export interface DivergenceSource extends KLWeighted {
  readonly name: string;
  /** The divergence recorded in the current step, as it enters the ELBO (a new scalar; 0 if none). */
  currentDivergence(): tf.Scalar;
}

/** True for layers derived from `DivergenceLayer` (in this or another copy of the library). */
export function isDivergenceLayer(layer: unknown): layer is DivergenceSource {
  return layer != null && (layer as {[DIVERGENCE_LAYER]?: boolean})[DIVERGENCE_LAYER] === true;
}

/**
 * Every divergence layer of `layers`, searching nested models; each once.
 * Layers whose divergence a bound loss holds per sample (`coveredByBound`)
 * are left out: their term is the bound's `kl`.
 */
export function divergenceLayers(layers: tfl.layers.Layer[]): DivergenceSource[] {
  return modelLayers(layers).filter((layer): layer is DivergenceSource & tfl.layers.Layer =>
    isDivergenceLayer(layer) && (layer as {coveredByBound?: boolean}).coveredByBound !== true);
}

/** The log names of the divergence terms: `kl` for one layer, the layer names for several. */
export function divergenceTermNames(layers: DivergenceSource[]): string[] {
  return layers.length === 1 ? ['kl'] : layers.map((l) => l.name);
}

export abstract class DivergenceLayer extends tfl.layers.Layer implements DivergenceSource {
  /** The seeded noise of the layer (unseeded when `seed` is undefined). */
  protected readonly seeds: SeedStream;
  private readonly beta: ScalarWeight;
  private readonly lossBuffer: LayerLossBuffer;

  /**
   * @param args the layer's arguments
   * @param initialWeight β before the layer is built, and `kl_weight`'s initial value
   * @param seed the seed of `seeds`, or undefined
   */
  protected constructor(args: LayerArgs, initialWeight: number, seed: number|undefined) {
    super(args);
    Object.defineProperty(this, DIVERGENCE_LAYER, {value: true});
    this.seeds = new SeedStream(seed);
    this.beta = new ScalarWeight(initialWeight, 'setKLWeight', (w) => checkNonNegative('setKLWeight', 'weight', w), () => this.name);
    this.lossBuffer = new LayerLossBuffer(`${this.getClassName()} '${this.name}'`);
    // One closure per layer, registered once: it returns everything recorded since its last call.
    this.addLoss(() => this.lossBuffer.take());
  }

  /** Adds the non-trainable weight `kl_weight` (β); call from `build`. */
  protected addDivergenceWeight(): void {
    this.beta.attach((name, init) => this.addWeight(name, [], 'float32', init, undefined, false), 'kl_weight');
  }

  /** β as the layer was constructed with (its config value). */
  protected get initialKLWeight(): number {
    return this.beta.initial;
  }

  /**
   * The key of this application when its divergence must be computed now —
   * at training or during a full-objective evaluation, and not yet recorded
   * for the same inputs in this step — else `null`.
   */
  protected divergenceKey(inputs: tf.Tensor[], kwargs: Kwargs): string|null {
    if (kwargs['training'] !== true && !isCollectingLayerLosses()) return null;
    const key = applicationKey(this.id, inputs);
    return this.lossBuffer.has(key) ? null : key;
  }

  /**
   * Records application `key`: the loss `β · surrogate` that training
   * minimises, and `term`, the divergence as it enters the ELBO, for the
   * logs (often the same tensor as `surrogate`). Call inside `tf.tidy` (as
   * `call` runs): the buffer keeps what it needs, the scope frees the rest.
   */
  protected recordDivergence(key: string, surrogate: tf.Scalar, term: tf.Scalar): void {
    this.lossBuffer.record(key, tf.mul(this.beta.tensor(), surrogate) as tf.Scalar, term);
  }

  currentDivergence(): tf.Scalar {
    return this.lossBuffer.currentTerm();
  }

  /**
   * The current multiplier β, read synchronously (on webgpu prefer
   * `await readKLWeight()`: synchronous reads stall the GPU there).
   */
  getKLWeight(): number {
    return this.beta.get();
  }

  /** The current multiplier β, read asynchronously. */
  readKLWeight(): Promise<number> {
    return this.beta.read();
  }

  /** Sets β (≥ 0) for the following steps (e.g. from an annealing callback). */
  setKLWeight(weight: number): void {
    this.beta.set(weight);
  }

  /** Restarts the seeded noise sequence from its first draw. */
  resetSeed(): void {
    this.seeds.reset();
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    this.lossBuffer.dispose();
    return super.dispose();
  }
}
