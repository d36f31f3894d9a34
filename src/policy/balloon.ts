// The balloon driver (vmmemctl) of one VM: it inflates or deflates towards a target set by the
// host, at a bounded rate (reclaim by balloon takes minutes on purpose) and never beyond
// Mem.CtlMaxPercent of the VM's memory. Inflating asks the guest for pages (free ones first, then
// its own page-outs) and lets the host free the frames behind them; deflating gives pages back to
// the guest's free list as untouched memory.
import type { Machine } from "../core/machine.ts";

/** What the driver needs from a guest: its pages, and handing pages to and from the balloon. */
export interface BalloonGuest {
  readonly vm: number;
  readonly pages: number;
  readonly balloonPages: number;
  giveToBalloon(count: number): number[];
  takeFromBalloon(count: number): number[];
}

export class BalloonDriver {
  /** MCTLTGT: the size the host asks for, in pages. */
  targetPages = 0;
  readonly maxPages: number;

  constructor(
    private readonly machine: Machine,
    private readonly guest: BalloonGuest,
    readonly enabled: boolean,
    ctlMaxPercent: number,
    private readonly ratePagesPerSec: number,
  ) {
    this.maxPages = enabled ? Math.floor((guest.pages * ctlMaxPercent) / 100) : 0;
  }

  /** MCTLSZ: pages the balloon holds now. */
  get sizePages(): number {
    return this.guest.balloonPages;
  }

  setTarget(pages: number): void {
    this.targetPages = this.enabled ? Math.max(0, Math.min(this.maxPages, Math.floor(pages))) : 0;
  }

  /** One second of driver work. Returns the change in balloon size (pages). */
  tick(): number {
    const gap = this.targetPages - this.sizePages;
    if (gap > 0) {
      const gpns = this.guest.giveToBalloon(Math.min(gap, this.ratePagesPerSec));
      if (gpns.length > 0) this.machine.inflate(this.guest.vm, gpns);
      return gpns.length;
    }
    if (gap < 0) {
      const gpns = this.guest.takeFromBalloon(Math.min(-gap, this.ratePagesPerSec));
      if (gpns.length > 0) this.machine.deflate(this.guest.vm, gpns);
      return -gpns.length;
    }
    return 0;
  }
}
