/**
 * A progress bar per epoch (cli-progress): steps done, the running mean of
 * the batch losses, elapsed time and ETA. Drawn only when stdout is a
 * terminal and not switched off, so piped or logged output holds the epoch
 * lines alone, with no control characters. The bar is cleared at the end of
 * each epoch, where the caller prints the epoch's line.
 */
import cliProgress from 'cli-progress';

export class EpochProgress {
  /**
   * @param {{enabled: boolean, epochs: number, steps: number}} options `epochs`: the last epoch's number
   *   (a resumed run counts on from the saved epochs); `steps` per epoch.
   */
  constructor({enabled, epochs, steps}) {
    this.enabled = enabled && process.stdout.isTTY === true;
    this.epochs = epochs;
    this.steps = steps;
    this.bar = null;
    this.sum = 0;
    this.count = 0;
  }

  /** Starts epoch `epoch` (1-based). */
  start(epoch) {
    this.sum = 0;
    this.count = 0;
    if (!this.enabled) return;
    const width = String(this.epochs).length;
    this.bar = new cliProgress.SingleBar({
      format: `epoch ${String(epoch).padStart(width)}/${this.epochs} [{bar}] {value}/{total} steps | loss {loss} | ` +
          '{duration_formatted} elapsed, ETA {eta_formatted}',
      stream: process.stdout,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      fps: 10,
    }, cliProgress.Presets.shades_classic);
    this.bar.start(this.steps, 0, {loss: '…'});
  }

  /** After a step: its batch loss. */
  step(loss) {
    if (Number.isFinite(loss)) {
      this.sum += loss;
      this.count++;
    }
    if (this.bar) this.bar.increment(1, {loss: this.count ? (this.sum / this.count).toFixed(2) : String(loss)});
  }

  /** Clears the bar (before the epoch's line is printed, or on an error). */
  stop() {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}
