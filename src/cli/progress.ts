// Progress bars on stderr, only when stderr is a terminal (quiet in pipes, logs and CI), so stdout
// stays clean for tables and `--json`.
import cliProgress from "cli-progress";

export interface Progress {
  /** Starts (or restarts) a bar for a phase of `total` units. */
  start(label: string, total: number, unit: string): void;
  update(done: number): void;
  stop(): void;
}

class TerminalProgress implements Progress {
  private bar: cliProgress.SingleBar | undefined;
  private label = "";

  start(label: string, total: number, unit: string): void {
    this.stop();
    this.label = label;
    this.bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `{label} [{bar}] {percentage}% {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { label: this.label, rate: "0" });
    this.started = performance.now();
  }

  private started = 0;

  update(done: number): void {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds).toLocaleString("en-US") : "0";
    this.bar?.update(done, { label: this.label, rate });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

class SilentProgress implements Progress {
  start(): void {}
  update(): void {}
  stop(): void {}
}

/** A bar on stderr if it is a terminal and `enabled`, else nothing. */
export function createProgress(enabled = true): Progress {
  return enabled && process.stderr.isTTY ? new TerminalProgress() : new SilentProgress();
}
