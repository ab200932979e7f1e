/**
 * Types of tfjs-layers that its package root does not export by name,
 * derived from what it does export, so that our code and our public `.d.ts`
 * import only package roots (`@tensorflow/tfjs-layers`), never `dist/` paths.
 */
import * as tfl from '@tensorflow/tfjs-layers';

export type {LayerVariable, Shape, SymbolicTensor} from '@tensorflow/tfjs-layers';

/** The constructor arguments every layer takes (`name`, `inputShape`, `trainable`, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

/** The keyword arguments of `Layer.call` (`training`, …). */
export type Kwargs = Parameters<tfl.layers.Layer['call']>[1];

/** A weight initializer object. */
export type Initializer = ReturnType<typeof tfl.initializers.zeros>;

/** What tfjs-layers accepts as an initializer: a name such as `'glorotNormal'`, or an object. */
export type InitializerIdentifier = NonNullable<Parameters<typeof tfl.layers.dense>[0]['kernelInitializer']>;

/** A tfjs activation name (`'relu'`, `'linear'`, …). @inline */
export type ActivationIdentifier = NonNullable<Parameters<typeof tfl.layers.activation>[0]['activation']>;
