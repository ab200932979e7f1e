/**
 * The filesystem IOHandler and its `file://` router: round trips, atomic
 * saves under injected failures, error messages, and deference to another
 * router claiming the same URLs.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {useBackend} from './helpers/backends';
import {fileSystem, registerFileSystemRouter} from '../src/io';
import {setSaveHookForTesting} from '../src/io/file_system';

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

afterEach(() => setSaveHookForTesting(null));

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
