/** The `file://` save and load routers that make tfjs reach `fileSystem`. */
import * as tf from '@tensorflow/tfjs-core';

import {fileSystem} from './file_system';
import {getNodeModules} from './node_modules';
import {URL_SCHEME} from './paths';

function isFileUrl(url: string|string[]): boolean {
  return Array.isArray(url) ? url.length > 0 && url.every((u) => u.startsWith(URL_SCHEME)) :
                              url.startsWith(URL_SCHEME);
}

/** True while one of our routers asks the registry which other routers claim a URL. */
let consultingOthers = false;

type Router = (url: string|string[], loadOptions?: tf.io.LoadOptions) => tf.io.IOHandler|null;

/**
 * A router claiming `file://` URLs unless another router (such as
 * tfjs-node's) claims them too: tfjs rejects a URL claimed twice, and routers
 * are consulted at call time, so deferring works whatever the order of
 * registration.
 */
function makeRouter(kind: 'save'|'load'): Router {
  return (url, loadOptions) => {
    if (consultingOthers || !isFileUrl(url)) {
      return null;
    }
    consultingOthers = true;
    let others: tf.io.IOHandler[];
    try {
      others = kind === 'save' ? tf.io.getSaveHandlers(url) : tf.io.getLoadHandlers(url, loadOptions);
    } finally {
      consultingOthers = false;
    }
    return others.length > 0 ? null : fileSystem(url);
  };
}

/** Marks each tfjs-core copy our routers were added to (shared by every copy of this package). */
const REGISTERED_KEY = Symbol.for('tfjs-variational.io.fileSystemRouter');

/**
 * Registers save and load routers so that `model.save('file://dir')` and
 * `tf.loadLayersModel('file://dir/model.json')` work in Node without
 * `@tensorflow/tfjs-node`. Called when the package is imported; calling it
 * again does nothing. In a browser nothing is registered. When another router
 * also claims a `file://` URL, ours steps aside.
 *
 * @returns Whether the routers are registered (false outside Node).
 */
export function registerFileSystemRouter(): boolean {
  if (getNodeModules() == null) {
    return false;
  }
  const global = globalThis as {[REGISTERED_KEY]?: WeakSet<object>};
  const registered = global[REGISTERED_KEY] ?? (global[REGISTERED_KEY] = new WeakSet<object>());
  // One entry per tfjs-core instance: its registry is what must hold one router.
  if (!registered.has(tf.io.registerSaveRouter)) {
    registered.add(tf.io.registerSaveRouter);
    type TfRouter = Parameters<typeof tf.io.registerSaveRouter>[0];
    tf.io.registerSaveRouter(makeRouter('save') as TfRouter);
    tf.io.registerLoadRouter(makeRouter('load') as TfRouter);
  }
  return true;
}
