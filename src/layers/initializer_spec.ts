/**
 * Weight initializers given as tfjs-layers accepts them — a name
 * (`'glorotNormal'`), an initializer object, or a serialized
 * `{className, config}` — resolved through tfjs's serialization registry,
 * so a layer's config can hold them and a loaded model rebuilds them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Initializer, InitializerIdentifier} from '../util/tfjs_types';

import {argumentError} from '../util/validate';

/** An initializer: a tfjs name, an instance (`tf.initializers.randomNormal({...})`), or its serialized form. @inline */
export type InitializerSpec = InitializerIdentifier|Initializer|{className: string, config?: tf.serialization.ConfigDict};

function isInitializer(value: unknown): value is Initializer {
  return value instanceof tf.serialization.Serializable &&
      typeof (value as unknown as {apply?: unknown}).apply === 'function';
}

/**
 * The initializer `spec` names: `'glorotNormal'` → `GlorotNormal`, etc.
 * (tfjs's camelCase names are its class names with a lower-case first
 * letter); `where` and `name` label the error for an unknown one.
 */
export function resolveInitializer(where: string, name: string, spec: InitializerSpec): Initializer {
  if (isInitializer(spec)) return spec;
  let className: string|undefined;
  let config: tf.serialization.ConfigDict = {};
  if (typeof spec === 'string' && spec.length > 0) {
    className = spec[0].toUpperCase() + spec.slice(1);
  } else if (spec != null && typeof spec === 'object' && typeof (spec as {className?: unknown}).className === 'string') {
    className = (spec as {className: string}).className;
    config = (spec as {config?: tf.serialization.ConfigDict}).config ?? {};
  }
  const entry = className === undefined ? undefined : tf.serialization.SerializationMap.getMap().classNameMap[className];
  const made = entry === undefined ? undefined : entry[1](entry[0], config);
  if (!isInitializer(made)) {
    throw argumentError(where, name, 'an initializer name (e.g. \'glorotNormal\'), object or {className, config}',
        typeof spec === 'string' || className === undefined ? spec : className);
  }
  return made;
}

/**
 * The serialized form `{className, config}` that `resolveInitializer` reads
 * back, with unset fields (`seed: undefined`) written as `null`, as a saved
 * model's JSON holds them.
 */
export function serializeInitializer(init: Initializer): tf.serialization.ConfigDict {
  const config: tf.serialization.ConfigDict = {};
  for (const [key, value] of Object.entries(init.getConfig())) config[key] = value === undefined ? null : value;
  return {className: init.getClassName(), config};
}
