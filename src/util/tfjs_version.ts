/**
 * Which tfjs versions this library's replacements of tfjs internals were
 * tested on, and the switch that lets them run on others.
 *
 * The fast wasm kernels (`src/perf/`) replace kernels in tfjs's registry and
 * `AdamOptimizer.prototype.applyGradients`; the full objective
 * (`src/patches/full_objective.ts`, with the per-term logs and `compile` in `src/patches/model_patches.ts`) patch methods of tfjs-layers. Each
 * relies on the inner workings of one tfjs release: the wasm backend's memory
 * layout and kernel attributes, the optimizer's private fields, the order of
 * its float32 operations. They are tested on tfjs-core and tfjs-layers 4.22.x
 * and switched on only there. With any other version each is left off, and a
 * `console.warn` (once per feature) names the versions found, what was
 * switched off, and how to force it on:
 *
 *   tf.env().set('TFV_ALLOW_UNTESTED_TFJS', true)   // after importing this library
 *   ?tfjsflags=TFV_ALLOW_UNTESTED_TFJS:true         // in a page's URL
 *   tfv.enableFastWasmKernels({force: true})        // the wasm kernels alone
 */
import * as tf from '@tensorflow/tfjs-core';
import {version_layers} from '@tensorflow/tfjs-layers';

/** The tfjs-core and tfjs-layers release line the replacements were tested on. */
export const TESTED_TFJS = '4.22';

/** Name of the tfjs environment flag that allows the replacements on untested tfjs versions. */
export const ALLOW_UNTESTED_TFJS_FLAG = 'TFV_ALLOW_UNTESTED_TFJS';

/** The versions of tfjs-core and tfjs-layers in use. */
export interface TfjsVersions {
  core: string;
  layers: string;
}

let fakeVersions: TfjsVersions|null = null;
const warned = new Set<string>();
const listeners: Array<() => void> = [];
let flagRegistered = false;

/** The tfjs-core and tfjs-layers versions in use (or those set by `_setTfjsVersionsForTests`). */
export function tfjsVersions(): TfjsVersions {
  return fakeVersions ?? {core: tf.version_core, layers: version_layers};
}

/** Whether `version` belongs to the tested release line (`4.22.x`, pre-releases included). */
export function isTestedVersion(version: string): boolean {
  return version === TESTED_TFJS || version.startsWith(`${TESTED_TFJS}.`);
}

/** Whether both tfjs-core and tfjs-layers are versions the replacements were tested on. */
export function isTestedTfjs(): boolean {
  const {core, layers} = tfjsVersions();
  return isTestedVersion(core) && isTestedVersion(layers);
}

/** Whether the `TFV_ALLOW_UNTESTED_TFJS` flag is set to true. */
export function untestedTfjsAllowed(): boolean {
  registerFlag();
  return tf.env().getBool(ALLOW_UNTESTED_TFJS_FLAG);
}

/**
 * Whether `feature` (a replacement of tfjs internals, named for the warning)
 * may be installed: on tested tfjs versions, with the `TFV_ALLOW_UNTESTED_TFJS`
 * flag set, or with `force`. Otherwise prints, once per feature, a
 * `console.warn` naming the versions found, the feature and how to force it
 * (`howToForce`: an extra way, such as a function's option), and returns false.
 */
export function patchesAllowed(feature: string, options: {force?: boolean; howToForce?: string} = {}): boolean {
  if (options.force === true || isTestedTfjs() || untestedTfjsAllowed()) return true;
  if (!warned.has(feature)) {
    warned.add(feature);
    const {core, layers} = tfjsVersions();
    const extra = options.howToForce == null ? '' : `, or ${options.howToForce}`;
    console.warn(
        `tfjs-variational: ${feature} switched off: tested with @tensorflow/tfjs-core and ` +
        `@tensorflow/tfjs-layers ${TESTED_TFJS}.x, found tfjs-core ${core} and tfjs-layers ${layers}. ` +
        `To use it anyway: tf.env().set('${ALLOW_UNTESTED_TFJS_FLAG}', true) (in a browser also ` +
        `?tfjsflags=${ALLOW_UNTESTED_TFJS_FLAG}:true)${extra}; see docs/performance.md.`);
  }
  return false;
}

/** Calls `listener` whenever the `TFV_ALLOW_UNTESTED_TFJS` flag is set to true (to install what was left off). */
export function onUntestedTfjsAllowed(listener: () => void): void {
  registerFlag();
  listeners.push(listener);
}

/**
 * @internal Test hook: pretend these tfjs versions are in use (`null`: the real
 * ones again). Also forgets which features have warned.
 */
export function _setTfjsVersionsForTests(versions: TfjsVersions|null): void {
  fakeVersions = versions;
  warned.clear();
}

// Registered on import, so that `tf.env().set(...)` finds it.
registerFlag();

function registerFlag(): void {
  if (flagRegistered) return;
  flagRegistered = true;
  tf.env().registerFlag(ALLOW_UNTESTED_TFJS_FLAG, () => false, (value) => {
    if (value) for (const listener of listeners) listener();
  });
}
