/**
 * Failed saves and loads on real filesystems name the real cause with its
 * code. Where the machine allows, the faults are real: a read-only tmpfs
 * (EROFS), a 64 KiB tmpfs (ENOSPC), a 0555 directory written by an
 * unprivileged child process when we are root (root bypasses permission
 * bits) or by this process otherwise (EACCES), a path through a regular file
 * (ENOTDIR, EEXIST), a directory where model.json should be (EISDIR). Where
 * `mount` or switching user is not possible (an unprivileged CI container),
 * the same errors are injected through `setFileSystemForTesting`; each
 * test's name says which it used. TFV_IO_TEST_INJECT=1 forces injection, to
 * exercise that path on a machine where the real faults are possible.
 */
import {spawnSync} from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tfl from '@tensorflow/tfjs-layers';
import {useBackend} from './helpers/backends';
import {fileSystem} from '../src/io';
import {setFileSystemForTesting} from '../src/io/file_system';

const CHILD = path.join(__dirname, 'fixtures', 'io_save_child.cjs');
const NOBODY = 65534;
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const FORCE_INJECT = process.env.TFV_IO_TEST_INJECT === '1';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tfv-io-errors-'));
fs.chmodSync(root, 0o755);  // an unprivileged child must be able to reach its directories
const mounts: string[] = [];
let counter = 0;

function freshDir(): string {
  return path.join(root, `case-${counter++}`);
}

/** Mounts a tmpfs with `options` on `dir` (created); false where mount is not permitted. */
function mountTmpfs(dir: string, options: string): boolean {
  fs.mkdirSync(dir, {recursive: true});
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], {stdio: 'ignore'});
  if (r.status !== 0) return false;
  mounts.push(dir);
  return true;
}

function unmount(dir: string): void {
  spawnSync('umount', [dir], {stdio: 'ignore'});
}

/** Whether this machine lets us mount a tmpfs (root with CAP_SYS_ADMIN). */
const CAN_MOUNT = !FORCE_INJECT && (() => {
  const probe = freshDir();
  if (!mountTmpfs(probe, 'size=64k')) return false;
  unmount(probe);
  mounts.pop();
  return true;
})();

/** Whether a child process can run the fixture as an unprivileged user (we are root). */
const CAN_RUN_AS_NOBODY = IS_ROOT && !FORCE_INJECT && (() => {
  const r = spawnSync(process.execPath, [CHILD, 'probe'], {uid: NOBODY, gid: NOBODY, encoding: 'utf8'});
  return r.status === 0 && r.stdout.trim() === 'ok';
})();

const MOUNT_MODE = CAN_MOUNT ? 'real tmpfs mount' :
    FORCE_INJECT ? 'injected: TFV_IO_TEST_INJECT=1' : 'injected: mount not permitted here';
/** EACCES for real: as an unprivileged user, or as root through a child switched to nobody. */
const REAL_EACCES = !FORCE_INJECT && (!IS_ROOT || CAN_RUN_AS_NOBODY);
const EACCES_MODE = FORCE_INJECT ? 'injected: TFV_IO_TEST_INJECT=1' :
    !REAL_EACCES ? 'injected: root bypasses permission bits and cannot switch user here' :
    !IS_ROOT ? 'real: 0555 directory' :
    `real: 0555 directory, child process as uid ${NOBODY}`;

beforeAll(async () => {
  await useBackend('cpu');
});

afterEach(() => setFileSystemForTesting(null));

afterAll(() => {
  for (const dir of mounts.reverse()) unmount(dir);
  for (const dir of fs.readdirSync(root)) {
    try {
      fs.chmodSync(path.join(root, dir), 0o755);
    } catch {
      // a mount that could not be unmounted: left for the system's tmp cleaning
    }
  }
  fs.rmSync(root, {recursive: true, force: true});
});

function denseModel(seed: number, inputs = 4, units = 3): tfl.Sequential {
  return tfl.sequential({
    layers: [tfl.layers.dense({inputShape: [inputs], units,
                               kernelInitializer: tfl.initializers.glorotNormal({seed})})],
  });
}

function weightValues(model: tfl.LayersModel): number[][] {
  return model.weights.map((w) => Array.from(w.read().dataSync()));
}

async function loadWeights(dir: string): Promise<number[][]> {
  return weightValues(await tfl.loadLayersModel(fileSystem(dir)));
}

/** Runs the fixture as uid nobody; its one-line JSON answer. */
function asNobody(args: string[]): {ok: boolean, message?: string} {
  const r = spawnSync(process.execPath, [CHILD, ...args], {uid: NOBODY, gid: NOBODY, encoding: 'utf8'});
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`the child run as uid ${NOBODY} printed ${JSON.stringify(r.stdout)}: ${r.stderr}`);
  }
}

function sysError(code: string, syscall: string, p: unknown): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected, ${syscall} '${String(p)}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  return e;
}

/** Makes the handler use `fs` with some of `fs.promises` replaced. */
function injecting(overrides: Partial<typeof fs.promises>): void {
  setFileSystemForTesting({...fs, promises: {...fs.promises, ...overrides}} as typeof fs);
}

/** `open` as fs.promises.open, but new files (flag 'wx') fail with `code`. */
function failingCreate(code: string): Partial<typeof fs.promises> {
  return {
    open: (async (p: fs.PathLike, flags?: string|number, mode?: fs.Mode) => {
      if (flags === 'wx') throw sysError(code, 'open', p);
      return fs.promises.open(p, flags, mode);
    }) as typeof fs.promises.open,
    mkdir: (async (p: fs.PathLike) => {
      throw sysError(code, 'mkdir', p);
    }) as typeof fs.promises.mkdir,
  };
}

describe('saving', () => {
  it(`into a read-only filesystem names EROFS and keeps the earlier save (${MOUNT_MODE})`, async () => {
    const dir = freshDir();
    const first = denseModel(1);
    if (CAN_MOUNT) {
      expect(mountTmpfs(dir, 'size=1m')).toBe(true);
      await first.save(fileSystem(dir));
      expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0);
    } else {
      await first.save(fileSystem(dir));
      injecting(failingCreate('EROFS'));
    }
    const before = fs.readdirSync(dir).sort();
    const saving = denseModel(2).save(fileSystem(dir));
    await expect(saving).rejects.toThrow(
        new RegExp(`^Cannot save model to ${dir}: read-only file system \\(EROFS\\) creating weights\\.`));
    await expect(saving).rejects.toThrow(/its earlier contents are unchanged/);

    const sub = path.join(dir, 'sub', 'model');
    const nested = denseModel(3).save(fileSystem(sub));
    await expect(nested).rejects.toThrow(
        `Cannot save model to ${sub}: read-only file system (EROFS) creating the directory ${path.join(dir, 'sub')}.`);
    await expect(nested).rejects.not.toThrow(/not a directory|ENOENT/);

    setFileSystemForTesting(null);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    expect(await loadWeights(dir)).toEqual(weightValues(first));
  });

  it(`onto a full disk names ENOSPC and leaves no temporary behind (${CAN_MOUNT ? 'real 64 KiB tmpfs mount' : MOUNT_MODE})`, async () => {
    const dir = freshDir();
    const first = denseModel(4);
    if (CAN_MOUNT) {
      expect(mountTmpfs(dir, 'size=64k')).toBe(true);
      await first.save(fileSystem(dir));
    } else {
      await first.save(fileSystem(dir));
      injecting({
        open: (async (p: fs.PathLike, flags?: string|number, mode?: fs.Mode) => {
          const handle = await fs.promises.open(p, flags, mode);
          if (flags !== 'wx') return handle;
          return new Proxy(handle, {
            get(target, key) {
              if (key === 'write') return async () => { throw sysError('ENOSPC', 'write', p); };
              const value = Reflect.get(target, key);
              return typeof value === 'function' ? value.bind(target) : value;
            },
          });
        }) as typeof fs.promises.open,
      });
    }
    const before = fs.readdirSync(dir).sort();
    const big = denseModel(5, 200, 200);  // 160 KB of weights
    await expect(big.save(fileSystem(dir))).rejects.toThrow(
        new RegExp(`^Cannot save model to ${dir}: no space left on device \\(ENOSPC\\) ` +
                   '(writing|flushing) weights\\.[^ ]+\\.bin.*; its earlier contents are unchanged\\.$'));
    setFileSystemForTesting(null);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    expect(await loadWeights(dir)).toEqual(weightValues(first));
  });

  it(`without write permission names EACCES and keeps the earlier save (${EACCES_MODE})`, async () => {
    const locked = freshDir();
    const first = denseModel(6);
    await first.save(fileSystem(locked));
    const before = fs.readdirSync(locked).sort();
    const sub = path.join(locked, 'sub');
    let messages: string[];
    if (REAL_EACCES) {
      fs.chmodSync(locked, 0o555);
      if (!IS_ROOT) {
        messages = await Promise.all([locked, sub].map(
            (d) => denseModel(7).save(fileSystem(d)).then(() => 'saved', (e: Error) => e.message)));
      } else {
        const spec = path.join(root, `spec-${counter++}.json`);
        const w = first.weights[0];
        fs.writeFileSync(spec, JSON.stringify({
          modelTopology: first.toJSON(null, false),
          weightSpecs: [{name: w.originalName, shape: w.shape, dtype: 'float32'}],
          floats: w.shape.reduce((a, b) => a! * b!, 1),
        }));
        messages = [locked, sub].map((d) => {
          const out = asNobody(['save', d, spec, '7']);
          return out.ok ? 'saved' : out.message!;
        });
      }
    } else {
      injecting(failingCreate('EACCES'));
      messages = await Promise.all([locked, sub].map(
          (d) => denseModel(7).save(fileSystem(d)).then(() => 'saved', (e: Error) => e.message)));
    }
    expect(messages[0]).toMatch(new RegExp(
        `^Cannot save model to ${locked}: permission denied \\(EACCES\\) creating weights\\.[^ ]+\\.bin; ` +
        'its earlier contents are unchanged\\.$'));
    expect(messages[1]).toBe(`Cannot save model to ${sub}: permission denied (EACCES) creating the directory.`);
    setFileSystemForTesting(null);
    fs.chmodSync(locked, 0o755);
    expect(fs.readdirSync(locked).sort()).toEqual(before);
    expect(await loadWeights(locked)).toEqual(weightValues(first));
  });

  it('through a regular file names ENOTDIR and that file (real)', async () => {
    const file = path.join(root, `plain-${counter++}.txt`);
    fs.writeFileSync(file, 'notes');
    const target = path.join(file, 'a', 'model');
    await expect(denseModel(8).save(fileSystem(target))).rejects.toThrow(
        `Cannot save model to ${target}: ${file} is a file, not a directory (ENOTDIR), ` +
        'so the directory cannot be created inside it.');
    expect(fs.readFileSync(file, 'utf8')).toBe('notes');
  });

  it('onto a regular file names EEXIST (real)', async () => {
    const file = path.join(root, `plain-${counter++}.txt`);
    fs.writeFileSync(file, 'notes');
    await expect(denseModel(9).save(fileSystem(file))).rejects.toThrow(
        `Cannot save model to ${file}: it exists and is not a directory (EEXIST).`);
    expect(fs.readFileSync(file, 'utf8')).toBe('notes');
  });
});

describe('loading', () => {
  it('through a regular file names ENOTDIR and that file (real)', async () => {
    const file = path.join(root, `plain-${counter++}.txt`);
    fs.writeFileSync(file, 'notes');
    const target = path.join(file, 'model.json');
    await expect(tfl.loadLayersModel(fileSystem(target))).rejects.toThrow(
        `Cannot load model: ${target} does not exist: ${file} is a file, not a directory (ENOTDIR).`);
  });

  it('a model.json that is a directory names EISDIR (real)', async () => {
    const dir = freshDir();
    fs.mkdirSync(path.join(dir, 'model.json'), {recursive: true});
    await expect(tfl.loadLayersModel(fileSystem(dir))).rejects.toThrow(
        `Cannot load model: it is a directory (EISDIR) reading ${path.join(dir, 'model.json')}.`);
  });

  it(`an unreadable model.json names EACCES, not "does not exist" (${EACCES_MODE.replace('0555 directory', '0600 file')})`,
     async () => {
       const dir = freshDir();
       await denseModel(10).save(fileSystem(dir));
       const jsonPath = path.join(dir, 'model.json');
       let message: string;
       if (REAL_EACCES) {
         fs.chmodSync(jsonPath, 0o600);
         fs.chmodSync(dir, 0o700);  // not even stat-able by others
         if (!IS_ROOT) {
           fs.chmodSync(jsonPath, 0o000);
           message = await fileSystem(jsonPath).load!().then(() => 'loaded', (e: Error) => e.message);
         } else {
           const out = asNobody(['load', jsonPath]);
           message = out.ok ? 'loaded' : out.message!;
         }
         fs.chmodSync(dir, 0o755);
         fs.chmodSync(jsonPath, 0o644);
       } else {
         injecting({
           stat: (async (p: fs.PathLike) => {
             throw sysError('EACCES', 'stat', p);
           }) as typeof fs.promises.stat,
         });
         message = await fileSystem(jsonPath).load!().then(() => 'loaded', (e: Error) => e.message);
       }
       if (REAL_EACCES && !IS_ROOT) {
         expect(message).toBe(`Cannot load model: permission denied (EACCES) reading ${jsonPath}.`);
       } else {
         expect(message).toBe(`Cannot load model: permission denied (EACCES) examining ${jsonPath}.`);
       }
     });

  it('an unreadable weight file names EACCES and the file (injected)', async () => {
    const dir = freshDir();
    await denseModel(11).save(fileSystem(dir));
    const weights = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.bin'))!);
    injecting({
      readFile: (async (p: fs.PathLike, options?: unknown) => {
        if (String(p) === weights) throw sysError('EACCES', 'open', p);
        return fs.promises.readFile(p, options as 'utf8');
      }) as typeof fs.promises.readFile,
    });
    await expect(tfl.loadLayersModel(fileSystem(dir))).rejects.toThrow(
        `Cannot load model: permission denied (EACCES) reading weight file ${weights}.`);
  });
});
