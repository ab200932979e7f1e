/**
 * The example's command line, parsed by commander: every option, its default
 * and its check in one place. `--help` is commander's, generated from these
 * definitions; a bad value or an unknown option is a `UsageError` naming it
 * (exit code 2 through runMain).
 */
import {Command, CommanderError, Option} from 'commander';

import {BACKENDS} from './backend.mjs';
import {nonNegativeInteger, nonNegativeNumber, positiveInteger, positiveNumber, UsageError} from '../shared/cli.mjs';

export const DEFAULT_OUT = 'examples/mnist-vae/out';

/** Defaults of the options whose default depends on another option. */
const DEFAULT_FLOWS = {planar: 8, iaf: 2};
const DEFAULT_IWAE_SAMPLES = 5;

export const SHORT_USAGE = 'Usage: npm run mnist-vae -- [options]   (or: node examples/mnist-vae/train.mjs [options])\n' +
    'Run with --help for the list of options.';

function nonEmpty(flag) {
  return (value) => {
    if (value.trim() === '') throw new UsageError(`--${flag} must not be empty`);
    return value;
  };
}

/** The commander program (a fresh one per call: commander keeps parsed values on it). */
export function program() {
  const p = new Command();
  p.name('mnist-vae')
      .usage('[options]')
      .description('Trains the Keras write-up\'s VAE (784-hidden-latent, Bernoulli likelihood) on MNIST with model.fit, ' +
          'shows a progress bar per epoch and one line of figures per epoch, then writes latent.png, manifold.png, ' +
          'loss.png, metrics.json and the model to --out, and reports the test negative ELBO and -log p(x).')
      .helpOption('-h, --help', 'show this help')
      .allowExcessArguments(false)
      .showSuggestionAfterError(true)
      .exitOverride()
      .configureOutput({outputError: () => {}});
  p.option('--epochs <n>', 'training epochs', (v) => positiveInteger('epochs', v), 30)
      .option('--batch-size <n>', 'examples per step', (v) => positiveInteger('batch-size', v), 128)
      .option('--latent <n>', 'latent dimensions', (v) => positiveInteger('latent', v), 2)
      .option('--hidden <n>', 'units of the encoder\'s and the decoder\'s hidden layer', (v) => positiveInteger('hidden', v), 512)
      .option('--lr <rate>', 'Adam learning rate', (v) => positiveNumber('lr', v), 1e-3)
      .option('--kl-weight <beta>', 'weight beta of the KL term in the training loss (the logged -ELBO stays unweighted)',
          (v) => nonNegativeNumber('kl-weight', v), 1)
      .option('--seed <n>', 'seed of the initial weights and of the sampling noise', (v) => nonNegativeInteger('seed', v), 0)
      .addOption(new Option('--posterior <kind>', 'approximate posterior q(z|x): a Gaussian, or one refined by flows')
          .choices(['gaussian', 'planar', 'iaf']).default('gaussian'))
      .option('--flows <K>', `flow steps of --posterior planar (default ${DEFAULT_FLOWS.planar}) or iaf (default ${DEFAULT_FLOWS.iaf})`,
          (v) => positiveInteger('flows', v))
      .addOption(new Option('--objective <bound>', 'training objective: the ELBO or the importance-weighted bound')
          .choices(['elbo', 'iwae']).default('elbo'))
      .option('--samples <k>', `latent samples per example (default 1 with elbo, ${DEFAULT_IWAE_SAMPLES} with iwae)`,
          (v) => positiveInteger('samples', v))
      .option('--data <dir>', 'a directory of MNIST-format IDX files (gzipped or not) instead of the embedded digits; ' +
          '\'fashion\' = Fashion-MNIST ($FASHION_MNIST_DIR or Debian\'s dataset-fashion-mnist), \'mnist\' = $MNIST_DIR',
      nonEmpty('data'))
      .option('--train-count <n>', 'use the first n training images (default: all)', (v) => positiveInteger('train-count', v))
      .option('--test-count <n>', 'use the first n test images (default: all)', (v) => positiveInteger('test-count', v))
      .addOption(new Option('--backend <name>', 'tfjs backend (auto: the fastest available)').choices(BACKENDS).default('auto'))
      .option('--out <dir>', 'where the pictures, metrics.json and the model go', nonEmpty('out'), DEFAULT_OUT)
      .option('--resume <dir>', 'continue training the model saved in <dir> (an earlier --out), appending to its metrics',
          nonEmpty('resume'))
      .option('--ll-samples <S>', 'importance samples per test image for -log p(x) (0: skip it)',
          (v) => nonNegativeInteger('ll-samples', v), 1000)
      .option('--ll-count <n>', 'test images for -log p(x)', (v) => positiveInteger('ll-count', v), 2000)
      .option('--no-progress', 'no progress bar (there is none when stdout is not a terminal)')
      .option('--quiet', 'print only the final results', false);
  p.addHelpText('after', `
Examples:
  npm run example                                        the defaults: 30 epochs on the 8,000/2,000 embedded digits
  npm run mnist-vae -- --posterior planar --flows 8
  npm run mnist-vae -- --objective iwae --samples 5
  npm run mnist-vae -- --data /usr/share/datasets/fashion-mnist --train-count 20000
  npm run mnist-vae -- --resume examples/mnist-vae/out --epochs 10

Exit codes: 0 done, 1 failure (message on stderr), 2 bad command line.`);
  return p;
}

/**
 * Parses argv (without node and the script).
 * @returns {{help: true} | {help: false, opts: object, explicit: Set<string>}} `explicit`: options given on the command line.
 */
export function parseOptions(argv) {
  const p = program();
  try {
    p.parse(argv, {from: 'user'});
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return {help: true};
      throw new UsageError(e.message.replace(/^error: /, ''));
    }
    throw e;
  }
  const v = p.opts();
  const explicit = new Set(Object.keys(v).filter((k) => p.getOptionValueSource(k) === 'cli'));
  const opts = {...v};
  if (opts.flows !== undefined && opts.posterior === 'gaussian' && !opts.resume) {
    throw new UsageError(`--flows needs --posterior planar or iaf. Received: --flows=${opts.flows} with --posterior gaussian`);
  }
  opts.flows = opts.flows ?? DEFAULT_FLOWS[opts.posterior] ?? 0;
  opts.samples = opts.samples ?? (opts.objective === 'iwae' ? DEFAULT_IWAE_SAMPLES : 1);
  if (opts.objective === 'iwae' && opts.klWeight !== 1) {
    throw new UsageError(`--kl-weight applies to the ELBO only (the IWAE bound has no separate KL term). ` +
        `Received: --kl-weight=${opts.klWeight} with --objective iwae`);
  }
  return {help: false, opts, explicit};
}
