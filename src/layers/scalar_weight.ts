/**
 * A scalar kept as a non-trainable weight of its layer — β (`kl_weight`) of
 * every divergence layer, τ (`temperature`) of `GumbelSoftmax` — so that a
 * callback can change it between steps without rebuilding the model
 * (`tfv.callbacks.scheduledScalar`), and a saved model keeps its current
 * value. Before the layer is built it is its initial value.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Initializer, LayerVariable} from '../util/tfjs_types';

export class ScalarWeight {
  private variable: LayerVariable|null = null;

  /**
   * @param initial the value before the layer is built, and the weight's initial value
   * @param setter the layer's setter (`'setKLWeight'`), which labels errors
   * @param check validates a new value (throws naming the argument)
   * @param owner the layer's name, for errors
   */
  constructor(readonly initial: number, private readonly setter: string, private readonly check: (value: number) => void,
              private readonly owner: () => string) {}

  /** Adds the weight through the layer's `addWeight` (call from `build`). */
  attach(addWeight: (name: string, initializer: Initializer) => LayerVariable, name: string): void {
    this.variable = addWeight(name, tfl.initializers.constant({value: this.initial}));
  }

  /** The value for the ops of one call: the variable, or the initial number before build. */
  tensor(): tf.Tensor|number {
    return this.variable === null ? this.initial : this.variable.read();
  }

  /** The value, read synchronously (on webgpu prefer `read()`: synchronous reads stall the GPU there). */
  get(): number {
    return this.variable === null ? this.initial : this.variable.read().dataSync()[0];
  }

  /** The value, read asynchronously. */
  async read(): Promise<number> {
    return this.variable === null ? this.initial : (await this.variable.read().data())[0];
  }

  /** Sets the value for the following steps. */
  set(value: number): void {
    this.check(value);
    if (this.variable === null) {
      throw new Error(`${this.setter}: layer '${this.owner()}' is not built yet; apply it to inputs first`);
    }
    const t = tf.scalar(value);
    this.variable.write(t);
    t.dispose();
  }
}
