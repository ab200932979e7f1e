/** Types for datasets.cjs (CommonJS): dataset loaders for the examples, tests and benchmarks. */

declare namespace datasets {
  /** Typed array holding the data of an IDX file. */
  type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

  /** Element type of an IDX file. */
  type IdxType = 'ubyte' | 'byte' | 'short' | 'int' | 'float' | 'double';

  /** Decoded IDX file. */
  interface IdxFile {
    /** Dimension sizes, outermost first. */
    dims: number[];
    /** Elements in row-major order. */
    data: IdxData;
    /** Element type from the header. */
    type: IdxType;
  }

  /** A set of images with integer labels. */
  interface ImageDataset {
    /** Row-major pixels, shape [n, rows * cols]. */
    images: Float32Array;
    /** Class of each image, shape [n]. */
    labels: Int32Array;
    /** Number of examples. */
    n: number;
    /** Image height. */
    rows: number;
    /** Image width. */
    cols: number;
  }

  interface EmbeddedMnistOptions {
    /** Number of examples (default: the whole split). */
    count?: number;
    /** Order of the examples within the split (default 0: the partition order). */
    seed?: number;
    /** 'train' (10,000 − testSize), 'test' (testSize) or 'all' (10,000, default). */
    split?: 'train' | 'test' | 'all';
    /** Digits in the 'test' split, the last of the fixed partition order: an integer in [1, 9999] (default 1,000; examples/mnist-vae uses 2,000). */
    testSize?: number;
  }

  interface IdxDatasetOptions {
    /** 'train' (default) or 'test' (the t10k files). */
    split?: 'train' | 'test';
    /** Divide unsigned-byte pixels by 255 (default true). */
    normalize?: boolean;
  }

  /** Number of digits in the `mnist` package (10,000). */
  const EMBEDDED_MNIST_SIZE: number;
  /** Default size of the embedded 'test' split (1,000). */
  const EMBEDDED_MNIST_TEST_SIZE: number;

  /** Seeded PRNG returning floats in [0, 1). */
  function mulberry32(seed: number): () => number;
  /** Real MNIST digits from the `mnist` package, shuffled, with a fixed train/test partition. */
  function loadEmbeddedMnist(options?: EmbeddedMnistOptions): ImageDataset;
  /** Parses IDX bytes (gunzipping if gzip). */
  function parseIdx(buffer: Uint8Array, name?: string): IdxFile;
  /** Reads an IDX file, plain or gzipped. */
  function readIdx(file: string): IdxFile;
  /** File names accepted for a split, in search order. */
  function idxFileNames(split: 'train' | 'test'): {images: string[]; labels: string[]};
  /** Loads one split of an MNIST-format dataset from a directory. */
  function loadIdxDataset(dir: string, options?: IdxDatasetOptions): ImageDataset;
  /** Fashion-MNIST directory (FASHION_MNIST_DIR or Debian's location), or null. */
  function fashionMnistDir(): string | null;
  /** MNIST directory from MNIST_DIR, or null. */
  function mnistIdxDir(): string | null;
}

export = datasets;
