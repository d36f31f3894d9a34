// Activity sampling (paper section 5.3): each period the host watches a random sample of a VM's
// guest pages (clears their accessed bits) and counts how many the guest touched by the period's
// end. The fraction is smoothed by a fast and a slow moving average; the estimate is the highest of
// the two and of the latest count (the last full period's, or the running period's partial count
// once it is higher), so it rises at once and falls slowly.
import type { Machine } from "../core/machine.ts";
import type { Random } from "../sim/random.ts";

export interface ActivityOptions {
  readonly samplePeriodSec: number;
  readonly samplePages: number;
  /** Gain of the fast average (fraction of a new sample taken in per period). */
  readonly fastGain?: number;
  /** Gain of the slow average. */
  readonly slowGain?: number;
}

/** How often the running period's partial count is taken (it is cheap, but not free at 100s of VMs). */
const PARTIAL_COUNT_EVERY_SEC = 5;

export class ActivitySampler {
  private sample = new Uint32Array(0);
  private fast = 0;
  private slow = 0;
  private current = 0;
  private periodStartSec = Number.NEGATIVE_INFINITY;
  private started = false;
  private readonly fastGain: number;
  private readonly slowGain: number;

  constructor(
    private readonly machine: Machine,
    private readonly vm: number,
    private readonly options: ActivityOptions,
    private readonly random: Random,
  ) {
    this.fastGain = options.fastGain ?? 0.5;
    this.slowGain = options.slowGain ?? 0.1;
  }

  /** The estimated active fraction of the VM's configured memory. */
  get estimate(): number {
    return this.started ? Math.max(this.fast, this.slow, this.current) : 1;
  }

  get fastAverage(): number {
    return this.fast;
  }

  get slowAverage(): number {
    return this.slow;
  }

  /** Called every simulated second. */
  tick(nowSec: number): void {
    if (nowSec - this.periodStartSec >= this.options.samplePeriodSec) {
      if (this.sample.length > 0) this.finishPeriod();
      this.startPeriod(nowSec);
    } else if (this.sample.length > 0 && (nowSec - this.periodStartSec) % PARTIAL_COUNT_EVERY_SEC === 0) {
      // Within a period, the partial count only ever rises: a prompt signal of new activity.
      this.current = Math.max(this.current, this.machine.countAccessed(this.vm, this.sample) / this.sample.length);
    }
  }

  private startPeriod(nowSec: number): void {
    const pages = this.machine.vmPages(this.vm);
    const n = Math.min(this.options.samplePages, pages);
    this.sample = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.sample[i] = this.random.nextInt(pages);
    this.machine.clearAccessed(this.vm, this.sample);
    this.periodStartSec = nowSec;
    // `current` keeps the count of the period just finished until this period's partial count
    // passes it: resetting it here would drop a rise just measured out of the estimate for a while.
  }

  private finishPeriod(): void {
    const fraction = this.machine.countAccessed(this.vm, this.sample) / this.sample.length;
    if (!this.started) {
      this.fast = fraction;
      this.slow = fraction;
      this.started = true;
    } else {
      this.fast += this.fastGain * (fraction - this.fast);
      this.slow += this.slowGain * (fraction - this.slow);
    }
    this.current = fraction;
  }
}
