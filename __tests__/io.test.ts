/**
 * The filesystem IOHandler and its `file://` router: round trips, atomic
 * saves under injected failures, error messages, integrity records, the
 * sweep of interrupted saves' temporaries, and deference to another router
 * claiming the same URLs. Real filesystem faults: io_errors.test.ts; SIGKILL
 * mid-save: io_kill.test.ts.
 */
import {spawn, spawnSync} from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {useBackend} from './helpers/backends';
import {fileSystem, registerFileSystemRouter} from '../src/io';
import {STALE_AFTER_MS, setFileSystemForTesting, setSaveHookForTesting} from '../src/io/file_system';

let root: string;
let counter = 0;

/** A fresh directory path (not yet created) under this suite's temporary root. */
function freshDir(): string {
  return path.join(root, `model-${counter++}`);
}

function denseModel(seed: number): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({inputShape: [4], units: 3, activation: 'tanh',
                        kernelInitializer: tfl.initializers.glorotNormal({seed})}),
      tfl.layers.dense({units: 2, biasInitializer: tfl.initializers.randomNormal({seed: seed + 1})}),
    ],
  });
  return model;
}

function weightValues(model: tfl.LayersModel): number[][] {
  return model.weights.map((w) => Array.from(w.read().dataSync()));
}

async function predictValues(model: tfl.LayersModel): Promise<number[]> {
  const x = tf.tensor2d([[0.1, -0.2, 0.3, 0.4], [1, 2, -3, 0.5]]);
  const y = model.predict(x) as tf.Tensor;
  const values = Array.from(await y.data());
  tf.dispose([x, y]);
  return values;
}

function listDir(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

beforeAll(async () => {
  await useBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-io-'));
  expect(registerFileSystemRouter()).toBe(true);
  expect(registerFileSystemRouter()).toBe(true);  // idempotent: a second router would clash
});

afterAll(() => {
  fs.rmSync(root, {recursive: true, force: true});
});

afterEach(() => {
  setSaveHookForTesting(null);
  setFileSystemForTesting(null);
});

function readJSON(file: string) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function editJSON(file: string, edit: (json: {[key: string]: unknown}) => void): void {
  const json = readJSON(file);
  edit(json);
  fs.writeFileSync(file, JSON.stringify(json));
}

function weightsFileOf(dir: string): string {
  return readJSON(path.join(dir, 'model.json')).weightsManifest[0].paths[0];
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('fileSystem round trip', () => {
  it('saves via file:// and loads weights and predictions exactly', async () => {
    const dir = freshDir();
    const model = denseModel(1);
    const result = await model.save(`file://${dir}`);
    expect(result.modelArtifactsInfo.modelTopologyType).toBe('JSON');
    expect(result.modelArtifactsInfo.weightDataBytes).toBe((4 * 3 + 3 + 3 * 2 + 2) * 4);

    const files = listDir(dir);
    expect(files.length).toBe(2);
    expect(files).toContain('model.json');
    expect(files.filter((f) => /^weights\..+\.bin$/.test(f)).length).toBe(1);

    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.generatedBy).toMatch(/TensorFlow\.js/);
    expect(json.convertedBy).toBeNull();
    expect(json.modelTopology.class_name).toBe('Sequential');
    expect(json.weightsManifest.length).toBe(1);
    expect(json.weightsManifest[0].weights.map((w: {name: string}) => w.name).length).toBe(4);

    const loaded = await tfl.loadLayersModel(`file://${dir}/model.json`);
    expect(weightValues(loaded)).toEqual(weightValues(model));
    expect(await predictValues(loaded)).toEqual(await predictValues(model));
  });

  it('loads from a plain path, a directory and a file:// directory URL', async () => {
    const dir = freshDir();
    const model = denseModel(2);
    await model.save(fileSystem(dir));
    const expected = weightValues(model);
    for (const source of [fileSystem(path.join(dir, 'model.json')), fileSystem(dir)]) {
      expect(weightValues(await tfl.loadLayersModel(source))).toEqual(expected);
    }
    expect(weightValues(await tfl.loadLayersModel(`file://${dir}`))).toEqual(expected);
  });

  it('overwrites an earlier save and removes its weight file', async () => {
    const dir = freshDir();
    await denseModel(3).save(`file://${dir}`);
    const firstFiles = listDir(dir);
    const second = denseModel(4);
    await second.save(`file://${dir}`);
    const secondFiles = listDir(dir);
    expect(secondFiles.length).toBe(2);
    expect(secondFiles.filter((f) => firstFiles.includes(f))).toEqual(['model.json']);
    expect(weightValues(await tfl.loadLayersModel(`file://${dir}/model.json`)))
        .toEqual(weightValues(second));
  });

  it('keeps the training config, optimizer state and user metadata', async () => {
    const dir = freshDir();
    const model = denseModel(5);
    model.compile({optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError'});
    await model.fit(tf.ones([2, 4]), tf.zeros([2, 2]), {epochs: 1, verbose: 0});
    model.setUserDefinedMetadata({purpose: 'test'});
    await model.save(`file://${dir}`, {includeOptimizer: true});
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(json.trainingConfig.loss).toBe('mean_squared_error');
    expect(json.userDefinedMetadata).toEqual({purpose: 'test'});
    const loaded = await tfl.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded.getUserDefinedMetadata()).toEqual({purpose: 'test'});
    const optimizerValues = async (m: tfl.LayersModel) =>
        (await m.optimizer.getWeights()).map((w) => Array.from(w.tensor.dataSync()));
    expect(await optimizerValues(loaded)).toEqual(await optimizerValues(model));
    expect(weightValues(loaded)).toEqual(weightValues(model));
  });

  it('round-trips non-trainable weights and trainable flags', async () => {
    const dir = freshDir();
    const frozen = tfl.layers.dense({units: 3, inputShape: [4], trainable: false});
    const model = tfl.sequential({
      layers: [frozen, tfl.layers.batchNormalization(), tfl.layers.dense({units: 1})],
    });
    // Give the moving statistics (non-trainable) values other than their initial ones.
    for (const w of model.nonTrainableWeights) {
      w.write(tf.randomUniform(w.shape as number[], 0.5, 2, 'float32', 7));
    }
    expect(model.nonTrainableWeights.length).toBe(4);  // frozen kernel, bias; moving mean, variance
    await model.save(`file://${dir}`);
    const loaded = await tfl.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded.layers[0].trainable).toBe(false);
    expect(loaded.nonTrainableWeights.length).toBe(4);
    expect(loaded.trainableWeights.length).toBe(model.trainableWeights.length);
    expect(weightValues(loaded)).toEqual(weightValues(model));
    expect(await predictValues(loaded)).toEqual(await predictValues(model));
  });

  it('saves weight data given as several ArrayBuffers', async () => {
    const dir = freshDir();
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const specs: tf.io.WeightsManifestEntry[] = [
      {name: 'a', shape: [2, 2], dtype: 'float32'}, {name: 'b', shape: [2], dtype: 'float32'}];
    const buffers = [data.slice(0, 3).buffer, data.slice(3).buffer];
    await fileSystem(dir).save!({modelTopology: {}, weightSpecs: specs, weightData: buffers});
    const artifacts = await fileSystem(dir).load!();
    expect(artifacts.weightSpecs).toEqual(specs);
    const joined = tf.io.CompositeArrayBuffer.join(artifacts.weightData!);
    expect(Array.from(new Float32Array(joined))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('round-trips a model without weights', async () => {
    const dir = freshDir();
    const model = tfl.sequential({layers: [tfl.layers.flatten({inputShape: [2, 2]})]});
    await model.save(`file://${dir}`);
    const loaded = await tfl.loadLayersModel(`file://${dir}/model.json`);
    expect(loaded.outputs[0].shape).toEqual([null, 4]);
  });
});

describe('atomic saves', () => {
  it.each(['weights', 'model.json'] as const)(
      'a failure while writing %s leaves the earlier save intact', async (step) => {
        const dir = freshDir();
        const first = denseModel(10);
        await first.save(`file://${dir}`);
        const before = listDir(dir);
        const modelJsonBefore = fs.readFileSync(path.join(dir, 'model.json'), 'utf8');

        setSaveHookForTesting((s) => {
          if (s === step) throw new Error(`injected disk error at ${s}`);
        });
        await expect(denseModel(11).save(`file://${dir}`))
            .rejects.toThrow(`injected disk error at ${step}`);
        setSaveHookForTesting(null);

        expect(listDir(dir)).toEqual(before);  // no temporary or orphaned files
        expect(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).toBe(modelJsonBefore);
        const loaded = await tfl.loadLayersModel(`file://${dir}/model.json`);
        expect(weightValues(loaded)).toEqual(weightValues(first));
      });

  it('a failed first save leaves nothing loadable behind and no temporary files', async () => {
    const dir = freshDir();
    setSaveHookForTesting(() => {
      throw new Error('injected');
    });
    await expect(denseModel(12).save(`file://${dir}`)).rejects.toThrow(dir);
    expect(listDir(dir)).toEqual([]);
  });

  it('refuses to save where a file stands, naming the path', async () => {
    const file = path.join(root, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    await expect(denseModel(13).save(`file://${file}`)).rejects.toThrow(file);
  });
});

describe('load errors name the path', () => {
  it('missing directory or model.json', async () => {
    const missing = path.join(root, 'nowhere');
    await expect(tfl.loadLayersModel(`file://${missing}/model.json`)).rejects.toThrow(missing);
    const empty = freshDir();
    fs.mkdirSync(empty);
    await expect(fileSystem(empty).load!()).rejects.toThrow(path.join(empty, 'model.json'));
  });

  it('missing weight file', async () => {
    const dir = freshDir();
    await denseModel(20).save(`file://${dir}`);
    const weights = listDir(dir).find((f) => f.endsWith('.bin'))!;
    fs.rmSync(path.join(dir, weights));
    await expect(tfl.loadLayersModel(`file://${dir}/model.json`))
        .rejects.toThrow(/weight file .* does not exist/);
    await expect(tfl.loadLayersModel(`file://${dir}/model.json`)).rejects.toThrow(weights);
  });

  it('truncated weight file', async () => {
    const dir = freshDir();
    await denseModel(21).save(`file://${dir}`);
    const weights = path.join(dir, listDir(dir).find((f) => f.endsWith('.bin'))!);
    fs.truncateSync(weights, 8);
    await expect(tfl.loadLayersModel(`file://${dir}/model.json`)).rejects.toThrow(/hold 8 bytes/);
  });

  it('invalid JSON and JSON without a topology', async () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    const jsonPath = path.join(dir, 'model.json');
    fs.writeFileSync(jsonPath, '{"modelTopology": ');
    await expect(tfl.loadLayersModel(`file://${jsonPath}`)).rejects.toThrow(/not valid JSON/);
    await expect(tfl.loadLayersModel(`file://${jsonPath}`)).rejects.toThrow(jsonPath);
    fs.writeFileSync(jsonPath, '{"weightsManifest": []}');
    await expect(fileSystem(jsonPath).load!()).rejects.toThrow(/has no modelTopology/);
  });

  it('several paths are rejected clearly', async () => {
    await expect(fileSystem(['a.pb', 'b.json']).load!()).rejects.toThrow(/only one path/);
  });
});

describe('router', () => {
  it('claims file:// URLs only', () => {
    expect(tf.io.getSaveHandlers('file:///tmp/x').length).toBe(1);
    expect(tf.io.getLoadHandlers('file:///tmp/x/model.json').length).toBe(1);
    expect(tf.io.getSaveHandlers('foo://x').length).toBe(0);
  });

  it('steps aside when another router registered later claims the URL', async () => {
    let active = false;
    const saved: tf.io.ModelArtifacts[] = [];
    const other: tf.io.IOHandler = {
      save: async (artifacts) => {
        saved.push(artifacts);
        return {modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts)};
      },
      load: async () => saved[saved.length - 1],
    };
    type Router = Parameters<typeof tf.io.registerSaveRouter>[0];
    const router = ((url: string|string[]) =>
        active && typeof url === 'string' && url.startsWith('file://') ? other : null) as Router;
    tf.io.registerSaveRouter(router);
    tf.io.registerLoadRouter(router);
    active = true;
    try {
      const url = `file://${freshDir()}`;
      expect(tf.io.getSaveHandlers(url)).toEqual([other]);
      expect(tf.io.getLoadHandlers(`${url}/model.json`)).toEqual([other]);
      const model = denseModel(30);
      await model.save(url);
      expect(saved.length).toBe(1);
      expect(fs.existsSync(url.slice('file://'.length))).toBe(false);
      const loaded = await tfl.loadLayersModel(`${url}/model.json`);
      expect(weightValues(loaded)).toEqual(weightValues(model));
    } finally {
      active = false;
    }
    expect(tf.io.getSaveHandlers('file:///tmp/x')).not.toEqual([other]);
    expect(tf.io.getSaveHandlers('file:///tmp/x').length).toBe(1);
  });
});

describe('path argument', () => {
  it.each(['', '   ', 'file://', 'file://  '])('%j is refused, naming the argument and the value', (p) => {
    expect(() => fileSystem(p)).toThrow(/^tfv\.io\.fileSystem: path must name a directory/);
    expect(() => fileSystem(p)).toThrow(`received ${JSON.stringify(p)}, which is empty`);
    expect(() => fileSystem(['model.json', p])).toThrow(`received ${JSON.stringify(p)}`);
  });

  it("model.save('file://') and loadLayersModel('file://') fail instead of using the current directory", async () => {
    const cwdBefore = fs.readdirSync(process.cwd()).sort();
    await expect(denseModel(40).save('file://')).rejects.toThrow(
        'received "file://", which is empty after the file:// prefix');
    await expect(tfl.loadLayersModel('file://')).rejects.toThrow(
        'received "file://", which is empty after the file:// prefix');
    await expect(denseModel(40).save('file:// ')).rejects.toThrow('received "file:// "');
    expect(fs.readdirSync(process.cwd()).sort()).toEqual(cwdBefore);
  });

  it('a path that is not a string is refused, naming its type', () => {
    expect(() => fileSystem(null as unknown as string)).toThrow(/path must be a string .* received null\./);
    expect(() => fileSystem([42] as unknown as string[])).toThrow(/received number in an array\./);
  });
});

describe('weights record', () => {
  it('model.json records the count, bytes and SHA-256 of the weights, which tfjs ignores', async () => {
    const dir = freshDir();
    const model = denseModel(41);
    await model.save(fileSystem(dir));
    const jsonPath = path.join(dir, 'model.json');
    const json = readJSON(jsonPath);
    const name = weightsFileOf(dir);
    expect(json.tfvWeights).toEqual({count: 4, bytes: 23 * 4, sha256: {[name]: sha256(path.join(dir, name))}});

    // tfjs's own readers of model.json copy named fields only.
    const artifacts = await tf.io.getModelArtifactsForJSON(
        json, async () => [json.weightsManifest[0].weights, fs.readFileSync(path.join(dir, name)).buffer]);
    expect(Object.keys(artifacts)).not.toContain('tfvWeights');
    const bytes = fs.readFileSync(path.join(dir, name));
    const fromMemory = await tfl.loadLayersModel(tf.io.fromMemory({
      ...json, weightSpecs: json.weightsManifest[0].weights,
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    }));
    expect(weightValues(fromMemory)).toEqual(weightValues(model));
  });

  it('a byte flipped in a weight file is an error naming the file and both hashes', async () => {
    const dir = freshDir();
    await denseModel(42).save(fileSystem(dir));
    const jsonPath = path.join(dir, 'model.json');
    const file = path.join(dir, weightsFileOf(dir));
    const recorded = sha256(file);
    const bytes = fs.readFileSync(file);
    bytes[17] ^= 0x40;
    fs.writeFileSync(file, bytes);
    await expect(tfl.loadLayersModel(`file://${jsonPath}`)).rejects.toThrow(
        `Cannot load model: weight file ${file} is corrupted: its SHA-256 is ${sha256(file)}, ` +
        `but ${jsonPath} records ${recorded}.`);
  });

  it('a model.json without the record (older saves, other tools) loads as before', async () => {
    const dir = freshDir();
    const model = denseModel(43);
    await model.save(fileSystem(dir));
    editJSON(path.join(dir, 'model.json'), (json) => delete json.tfvWeights);
    expect(weightValues(await tfl.loadLayersModel(fileSystem(dir)))).toEqual(weightValues(model));
  });

  it('a malformed record is an error naming the field', async () => {
    const dir = freshDir();
    await denseModel(44).save(fileSystem(dir));
    const jsonPath = path.join(dir, 'model.json');
    editJSON(jsonPath, (json) => (json.tfvWeights = {count: 'four', bytes: 92, sha256: {}}));
    await expect(fileSystem(dir).load!()).rejects.toThrow(
        `Cannot load model: the field tfvWeights in ${jsonPath} is malformed`);
  });

  it('a weight list edited behind the record is an error', async () => {
    const dir = freshDir();
    await denseModel(45).save(fileSystem(dir));
    const jsonPath = path.join(dir, 'model.json');
    editJSON(jsonPath, (json) => {
      (json.tfvWeights as {sha256: {}}).sha256 = {};
    });
    await expect(fileSystem(dir).load!()).rejects.toThrow(/records no SHA-256 for its weight file weights\./);
  });
});

describe('a model.json listing no weights', () => {
  it.each([['no weightsManifest', undefined], ['an empty weightsManifest', []]] as const)(
      'with %s, from a model saved with weights, is an error naming the file', async (state, manifest) => {
        const dir = freshDir();
        await denseModel(50).save(fileSystem(dir));
        const jsonPath = path.join(dir, 'model.json');
        editJSON(jsonPath, (json) => {
          if (manifest === undefined) delete json.weightsManifest; else json.weightsManifest = manifest;
        });
        await expect(tfl.loadLayersModel(`file://${jsonPath}`)).rejects.toThrow(
            `Cannot load model: ${jsonPath} has ${state}, but it was saved with 4 weights (92 bytes)`);
      });

  it('without our record, whose topology names weight initializers, is an error naming the layer', async () => {
    const dir = freshDir();
    await denseModel(51).save(fileSystem(dir));
    const jsonPath = path.join(dir, 'model.json');
    editJSON(jsonPath, (json) => {
      delete json.weightsManifest;
      delete json.tfvWeights;
    });
    await expect(tfl.loadLayersModel(`file://${jsonPath}`)).rejects.toThrow(new RegExp(
        `^Cannot load model: ${jsonPath} has no weightsManifest, but its topology has weights ` +
        '\\(layer "[^"]+" has a kernel_initializer\\)'));
  });

  it('without our record or initializer names, still fails through tfjs strict loading', async () => {
    const dir = freshDir();
    await denseModel(52).save(fileSystem(dir));
    const jsonPath = path.join(dir, 'model.json');
    const stripInitializers = (node: unknown): void => {
      if (node == null || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (/_initializer$/.test(key)) delete (node as {[k: string]: unknown})[key];
        else stripInitializers(value);
      }
    };
    editJSON(jsonPath, (json) => {
      delete json.weightsManifest;
      delete json.tfvWeights;
      stripInitializers(json.modelTopology);
    });
    await expect(tfl.loadLayersModel(`file://${jsonPath}`)).rejects.toThrow(/4 of 4 weights are not set/);
  });

  it('of a model without weights loads, with or without a manifest and record', async () => {
    const dir = freshDir();
    const model = tfl.sequential({layers: [tfl.layers.flatten({inputShape: [2, 2]})]});
    await model.save(fileSystem(dir));
    const jsonPath = path.join(dir, 'model.json');
    expect(readJSON(jsonPath).tfvWeights.count).toBe(0);
    editJSON(jsonPath, (json) => delete json.weightsManifest);
    expect((await tfl.loadLayersModel(fileSystem(dir))).outputs[0].shape).toEqual([null, 4]);
    editJSON(jsonPath, (json) => delete json.tfvWeights);
    expect((await tfl.loadLayersModel(fileSystem(dir))).outputs[0].shape).toEqual([null, 4]);
  });
});

describe('writes', () => {
  it('a short write (a nearly full disk) is completed, not committed truncated (injected)', async () => {
    const dir = freshDir();
    setFileSystemForTesting({...fs, promises: {...fs.promises,
      open: (async (p: fs.PathLike, flags?: string|number, mode?: fs.Mode) => {
        const handle = await fs.promises.open(p, flags, mode);
        return new Proxy(handle, {
          get(target, key) {
            if (key === 'write') {
              return (data: Uint8Array, offset = 0, length = data.byteLength - offset) =>
                  target.write(data, offset, Math.min(length, 7));
            }
            const value = Reflect.get(target, key);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      }) as typeof fs.promises.open}} as typeof fs);
    const model = denseModel(53);
    await model.save(fileSystem(dir));
    setFileSystemForTesting(null);
    expect(fs.statSync(path.join(dir, weightsFileOf(dir))).size).toBe(92);
    expect(weightValues(await tfl.loadLayersModel(fileSystem(dir)))).toEqual(weightValues(model));
  });
});

describe('temporaries of interrupted saves', () => {
  const old = new Date(Date.now() - STALE_AFTER_MS - 60_000);

  /** This host's tag and a fresh id part, taken from a real save's weight file name. */
  function idParts(dir: string): {time: string, host: string} {
    const [time, , host] = weightsFileOf(dir).slice('weights.'.length, -'.bin'.length).split('-');
    return {time, host};
  }

  function touch(dir: string, name: string, mtime?: Date): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, 'partial');
    if (mtime != null) fs.utimesSync(file, mtime, mtime);
    return name;
  }

  it('are removed by the next save when their writer is gone; other files never', async () => {
    const dir = freshDir();
    await denseModel(60).save(fileSystem(dir));
    const {time, host} = idParts(dir);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!.toString(36);
    const mine = process.pid.toString(36);
    const abandoned = [
      touch(dir, `weights.${time}-${dead}-${host}-0123abcd.bin`),
      touch(dir, `model.json.${time}-${dead}-${host}-0123abcd.tmp`),
      touch(dir, `weights.${time}-${mine}-${host}-89abcdef.bin`),  // this process, no save running
    ];
    const others = [
      touch(dir, 'notes.txt', old), touch(dir, 'weights.bin', old), touch(dir, 'group1-shard1of1.bin', old),
      touch(dir, 'weights.custom-name.bin', old), touch(dir, 'model.json.bak', old),
      touch(dir, 'model.json.tmp', old), touch(dir, `weights.${time}-${dead}-${host}-0123abcd.bin.keep`, old),
    ];
    fs.mkdirSync(path.join(dir, `weights.${time}-${dead}-${host}-00000000.bin`));  // not a file
    const model = denseModel(61);
    await model.save(fileSystem(dir));
    const left = listDir(dir);
    for (const f of abandoned) expect(left).not.toContain(f);
    expect(left).toEqual(
        ['model.json', weightsFileOf(dir), `weights.${time}-${dead}-${host}-00000000.bin`, ...others].sort());
    expect(weightValues(await tfl.loadLayersModel(fileSystem(dir)))).toEqual(weightValues(model));
  });

  it('that a live process, another host or an older version may still be writing are kept ' +
     `until ${STALE_AFTER_MS / 60000} minutes old`, async () => {
    const dir = freshDir();
    await denseModel(62).save(fileSystem(dir));
    const {time, host} = idParts(dir);
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'});
    try {
      const live = sleeper.pid!.toString(36);
      const otherHost = host === 'ffffffff' ? '00000000' : 'ffffffff';
      const names = (suffix: string) => [
        `weights.${time}-${live}-${host}-0000${suffix}.bin`,
        `model.json.${time}-${live}-${host}-0000${suffix}.tmp`,
        `weights.${time}-1-${otherHost}-0000${suffix}.bin`,
        `weights.${time}-abc${suffix}.bin`,  // the id format before pids were recorded
        `model.json.${time}-abc${suffix}.tmp`,
      ];
      const fresh = names('aaaa').map((n) => touch(dir, n));
      const stale = names('bbbb').map((n) => touch(dir, n, old));
      await denseModel(63).save(fileSystem(dir));
      const left = listDir(dir);
      for (const f of fresh) expect(left).toContain(f);
      for (const f of stale) expect(left).not.toContain(f);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('of a save still running in this process survive another save, then it commits', async () => {
    const dir = freshDir();
    await denseModel(64).save(fileSystem(dir));
    let release!: () => void;
    let paused!: () => void;
    const isPaused = new Promise<void>((r) => (paused = r));
    let calls = 0;
    setSaveHookForTesting(async (step) => {
      if (step === 'weights' && calls++ === 0) {
        paused();
        await new Promise<void>((r) => (release = r));
      }
    });
    const slow = denseModel(65);
    const slowSave = slow.save(fileSystem(dir));
    await isPaused;
    const pending = listDir(dir).filter((f) => f.endsWith('.bin') && f !== weightsFileOf(dir));
    expect(pending.length).toBe(1);
    await denseModel(66).save(fileSystem(dir));  // sweeps, and must spare the paused save's file
    expect(listDir(dir)).toContain(pending[0]);
    release();
    await slowSave;
    expect(weightsFileOf(dir)).toBe(pending[0]);
    expect(weightValues(await tfl.loadLayersModel(fileSystem(dir)))).toEqual(weightValues(slow));
    expect(listDir(dir)).toEqual(['model.json', pending[0]].sort());
  });

  it('a save whose weight file disappears before its commit fails and keeps the earlier save', async () => {
    const dir = freshDir();
    const first = denseModel(67);
    await first.save(fileSystem(dir));
    const kept = weightsFileOf(dir);
    setSaveHookForTesting((step) => {
      if (step !== 'model.json') return;
      for (const f of listDir(dir)) {
        if (f.endsWith('.bin') && f !== kept) fs.rmSync(path.join(dir, f));
      }
    });
    await expect(denseModel(68).save(fileSystem(dir))).rejects.toThrow(
        /checking weights\.[^ ]+\.bin before the commit failed: weights\.[^ ]+\.bin was removed by another process; its earlier contents are unchanged\./);
    setSaveHookForTesting(null);
    expect(listDir(dir)).toEqual(['model.json', kept].sort());
    expect(weightValues(await tfl.loadLayersModel(fileSystem(dir)))).toEqual(weightValues(first));
  });
});
