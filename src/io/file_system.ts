/**
 * A `file://` IOHandler for Node.js without `@tensorflow/tfjs-node`.
 *
 * Layout on disk (the tfjs layers-model format, plus one field of ours):
 *
 *     dir/model.json              topology, training config, weightsManifest, tfvWeights
 *     dir/weights.<id>.bin        weight bytes named in weightsManifest
 *
 * Saving, atomic: `save.ts`. Loading, with the integrity checks: `load.ts`.
 * Removing what interrupted saves left: `sweep.ts`. The `file://` router:
 * `router.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';

import {loadModel} from './load';
import {requireNodeModules} from './node_modules';
import {checkedPaths} from './paths';
import {saveModel} from './save';

export {setFileSystemForTesting} from './node_modules';
export type {SaveStep} from './save';
export {setSaveHookForTesting} from './save';
export {STALE_AFTER_MS} from './sweep';

/**
 * An IOHandler that saves a model to a directory and loads it back, in the
 * format tfjs-node writes (`model.json` plus binary weight files).
 *
 * ```js
 * await model.save(tfv.io.fileSystem('out/vae'));
 * const same = await tf.loadLayersModel(tfv.io.fileSystem('out/vae/model.json'));
 * ```
 *
 * Saves are atomic: the weights and the JSON are written to new files,
 * flushed, and the JSON renamed onto `model.json`, so an interrupted save
 * (an error, a full disk, a killed process) leaves the previous model in the
 * directory intact and loadable. A failed save names the step and the
 * system's error code (`permission denied (EACCES)`, `read-only file system
 * (EROFS)`, `no space left on device (ENOSPC)`, ...).
 *
 * What is recorded: besides the tfjs fields, `model.json` holds
 * `tfvWeights` (`count` of weights, `bytes`, and the SHA-256 of each weight
 * file), a field tfjs's own loaders ignore.
 *
 * What is checked on load: each weight file exists, has the size the manifest
 * describes and the recorded SHA-256 (corruption is an error naming the file
 * and both hashes); a `model.json` recording weights but listing none is an
 * error, not a model with fresh weights. Files saved without `tfvWeights`
 * (older versions, other tools) load without the hash check.
 *
 * What is cleaned: after the commit, the weight files the previous
 * `model.json` referenced, and what earlier interrupted saves left in the
 * directory — only files named like ours (`weights.<id>.bin`,
 * `model.json.<id>.tmp`) that the new `model.json` does not reference and
 * that no running save can still be writing (their writer's process on this
 * host is gone, or they were last modified more than an hour ago). Other
 * files are never touched.
 *
 * After `import 'tfjs-variational'` in Node the same handler serves
 * `'file://…'` URLs (see {@link registerFileSystemRouter}).
 *
 * @param path A directory (to save, created if needed) or a `model.json` file
 *   or its directory (to load); a `file://` prefix is accepted. Must not be
 *   empty: use `'.'` for the current directory.
 * @returns An IOHandler for `model.save` and `tf.loadLayersModel`.
 */
export function fileSystem(path: string|string[]): tf.io.IOHandler {
  return new FileSystemHandler(checkedPaths(path));
}

/** IOHandler reading and writing the tfjs layers-model format in a directory. */
class FileSystemHandler implements tf.io.IOHandler {
  constructor(private readonly paths: string[]) {}

  private singlePath(action: string): string {
    if (this.paths.length !== 1) {
      throw new Error(
          `tfv.io.fileSystem can ${action} only one path; received ${this.paths.length}: ` +
          `${JSON.stringify(this.paths)}. Pass the directory or its model.json.`);
    }
    return this.paths[0];
  }

  async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    const modules = requireNodeModules();
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new Error('tfv.io.fileSystem cannot save a binary (GraphDef) model topology.');
    }
    return saveModel(modules, modules.path.resolve(this.singlePath('save to')), artifacts);
  }

  async load(): Promise<tf.io.ModelArtifacts> {
    const modules = requireNodeModules();
    return loadModel(modules, modules.path.resolve(this.singlePath('load from')));
  }
}
