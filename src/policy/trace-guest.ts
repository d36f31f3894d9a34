// The guest of a trace-driven VM. A trace names guest physical pages directly, so this model only
// keeps what the host policies need from the guest: which pages the guest holds free (the balloon
// driver takes those: freed pages first, then never-used ones; it cannot page out, since a trace's
// pages cannot be remapped), which pages the balloon holds, which pages were touched this sampling
// period (the true active set), and optionally each page's content seed (to verify content).
import type { Machine } from "../core/machine.ts";

const NEVER_USED = 0;
const IN_USE = 1;
const FREED = 2;
const BALLOON = 3;

export interface TraceGuestCounters {
  /** Accesses to pages the balloon held: the guest took them back (deflated on demand). */
  balloonPagesReclaimedByGuest: number;
}

export class TraceGuest {
  readonly pages: number;
  readonly counters: TraceGuestCounters = { balloonPagesReclaimedByGuest: 0 };
  /** Per GPN: NEVER_USED, IN_USE, FREED or BALLOON. */
  private readonly state: Uint8Array;
  private freedStack: Uint32Array;
  private freedCount = 0;
  private nextNeverUsed = 0;
  /**
   * GPNs given to the balloon, most recent last. A page the guest takes back (a trace touching
   * it) is not searched for: its entry goes stale (its state is no longer BALLOON) and is skipped
   * when popped; the stack is compacted when stale entries outnumber live ones.
   */
  private balloonStack = new Uint32Array(256);
  private balloonStackLength = 0;
  private balloonCount = 0;
  private readonly touched: Uint8Array;
  private touchedCount = 0;
  /** Content seeds (low, high) and whether the page's content is a known seed; only if verifying. */
  private readonly seedLow: Uint32Array | undefined;
  private readonly seedHigh: Uint32Array | undefined;
  private readonly seedKnown: Uint8Array | undefined;

  constructor(
    machine: Machine,
    readonly vm: number,
    options: { trackContent?: boolean } = {},
  ) {
    this.pages = machine.vmPages(vm);
    this.state = new Uint8Array(this.pages);
    this.freedStack = new Uint32Array(Math.min(this.pages, 1024));
    this.touched = new Uint8Array(this.pages);
    if (options.trackContent) {
      this.seedLow = new Uint32Array(this.pages);
      this.seedHigh = new Uint32Array(this.pages);
      this.seedKnown = new Uint8Array(this.pages).fill(1); // never written: zeros, seed 0
    }
  }

  get balloonPages(): number {
    return this.balloonCount;
  }

  get touchedPages(): number {
    return this.touchedCount;
  }

  resetTouched(): void {
    this.touched.fill(0);
    this.touchedCount = 0;
  }

  /**
   * The guest uses page `gpn` (an access or a write): it is in use from now on. Returns true if
   * the balloon held it: the guest took it back, and the caller must deflate it on the host before
   * the access (the model does not call the machine, so callers can batch).
   */
  use(gpn: number): boolean {
    const s = this.state[gpn];
    if (this.touched[gpn] === 0) {
      this.touched[gpn] = 1;
      this.touchedCount++;
    }
    if (s === IN_USE) return false;
    this.state[gpn] = IN_USE;
    if (s === BALLOON) {
      this.balloonCount--; // its stack entry goes stale
      this.counters.balloonPagesReclaimedByGuest++;
      return true;
    }
    return false;
  }

  /**
   * The guest allocates pages (nothing visible to the host). Returns the GPNs the balloon held,
   * which the caller must deflate on the host.
   */
  allocate(gpn: number, count: number): number[] {
    const taken: number[] = [];
    for (let p = gpn; p < gpn + count; p++) {
      if (this.state[p] === BALLOON) {
        this.balloonCount--; // its stack entry goes stale
        this.counters.balloonPagesReclaimedByGuest++;
        taken.push(p);
      }
      this.state[p] = IN_USE;
    }
    return taken;
  }

  /** The guest frees pages: still backed on the host, but the balloon may take them. */
  free(gpn: number, count: number): void {
    for (let p = gpn; p < gpn + count; p++) {
      if (this.state[p] !== IN_USE) continue;
      this.state[p] = FREED;
      if (this.freedCount >= this.freedStack.length) {
        const grown = new Uint32Array(Math.min(this.pages, this.freedStack.length * 2));
        grown.set(this.freedStack);
        this.freedStack = grown;
      }
      this.freedStack[this.freedCount++] = p;
    }
  }

  /** Records the content seed written to a page (when tracking content). */
  setSeed(gpn: number, low: number, high: number): void {
    if (!this.seedLow || !this.seedHigh || !this.seedKnown) return;
    this.seedLow[gpn] = low;
    this.seedHigh[gpn] = high;
    this.seedKnown[gpn] = 1;
  }

  /** The page's content is no longer a known seed (written as raw bytes). */
  setUnknownContent(gpn: number): void {
    if (this.seedKnown) this.seedKnown[gpn] = 0;
  }

  /** What the page must read back as (a seed), or undefined if not tracked, unknown, or not in use. */
  expectedSeed(gpn: number): bigint | undefined {
    if (!this.seedLow || !this.seedHigh || !this.seedKnown) return undefined;
    if (this.seedKnown[gpn] !== 1 || this.state[gpn] === BALLOON) return undefined;
    return (BigInt(this.seedHigh[gpn] ?? 0) << 32n) | BigInt(this.seedLow[gpn] ?? 0);
  }

  /** Gives up to `count` free GPNs to the balloon: freed pages first, then never-used ones. */
  giveToBalloon(count: number): number[] {
    const out: number[] = [];
    while (out.length < count && this.freedCount > 0) {
      const gpn = this.freedStack[--this.freedCount] ?? 0;
      if (this.state[gpn] !== FREED) continue;
      this.toBalloon(gpn);
      out.push(gpn);
    }
    while (out.length < count && this.nextNeverUsed < this.pages) {
      const gpn = this.nextNeverUsed++;
      if (this.state[gpn] !== NEVER_USED) continue;
      this.toBalloon(gpn);
      out.push(gpn);
    }
    return out;
  }

  /** Takes up to `count` pages back from the balloon; they are free again (and untouched on the host). */
  takeFromBalloon(count: number): number[] {
    const out: number[] = [];
    while (out.length < count && this.balloonStackLength > 0) {
      const gpn = this.balloonStack[--this.balloonStackLength] ?? 0;
      if (this.state[gpn] !== BALLOON) continue; // stale: the guest took it back
      this.balloonCount--;
      this.state[gpn] = NEVER_USED;
      if (gpn < this.nextNeverUsed) this.nextNeverUsed = gpn;
      if (this.seedKnown) {
        this.seedKnown[gpn] = 1;
        this.setSeed(gpn, 0, 0);
      }
      out.push(gpn);
    }
    return out;
  }

  private toBalloon(gpn: number): void {
    if (this.balloonStackLength >= this.balloonStack.length) {
      if (this.balloonStackLength > 2 * this.balloonCount + 1024) this.compactBalloonStack();
      if (this.balloonStackLength >= this.balloonStack.length) {
        const grown = new Uint32Array(this.balloonStack.length * 2);
        grown.set(this.balloonStack);
        this.balloonStack = grown;
      }
    }
    this.state[gpn] = BALLOON;
    this.balloonStack[this.balloonStackLength++] = gpn;
    this.balloonCount++;
  }

  private compactBalloonStack(): void {
    let kept = 0;
    for (let i = 0; i < this.balloonStackLength; i++) {
      const gpn = this.balloonStack[i] ?? 0;
      if (this.state[gpn] === BALLOON) this.balloonStack[kept++] = gpn;
    }
    this.balloonStackLength = kept;
  }
}
