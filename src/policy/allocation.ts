// Share-based allocation with the idle memory tax (Waldspurger, OSDI 2002, section 5).
//
// Under contention memory is revoked from the VM that pays the fewest shares per page,
//     rho = S / (P (f + k (1 - f))),   k = 1 / (1 - tau),
// where S is its shares, P its pages, f its active fraction and tau the tax rate: an idle page
// costs k times an active one. Min-funding revocation repeated until memory fits converges to the
// allocation where every VM not held by its reservation or its demand has the same rho. With A =
// f P active pages held fixed, a VM's cost for P pages is c(P) = P for P <= A and A + k (P - A)
// above, so at a common level rho every VM gets P = c^-1(S / rho), clamped to
// [reservation, min(limit, demand)]. We find rho by bisection so that the targets fill memory.

export interface AllocationRequest {
  readonly shares: number;
  /** Never reclaimed below this. */
  readonly reservationPages: number;
  /** Never allocated above this (configured memory if no limit). */
  readonly limitPages: number;
  /** What the VM would use now if it could (its consumption plus what it waits to allocate). */
  readonly demandPages: number;
  /** Its estimated active pages (f x configured pages). */
  readonly activePages: number;
}

export interface AllocationResult {
  /** Target (entitlement) per VM, in pages. */
  readonly targets: number[];
  /** Shares per taxed page at the target, per VM (the quantity min-funding revocation equalises). */
  readonly rho: number[];
  /** True if demand exceeded what was available. */
  readonly contended: boolean;
}

/** k = 1 / (1 - tau). */
export function idleCostFactor(idleTax: number): number {
  if (!(idleTax >= 0 && idleTax < 1)) throw new RangeError(`idle tax: expected 0 <= tau < 1, found ${idleTax}`);
  return 1 / (1 - idleTax);
}

/** c(P): the taxed cost of holding P pages with A of them active. */
export function taxedPages(pages: number, activePages: number, k: number): number {
  return pages <= activePages ? pages : activePages + k * (pages - activePages);
}

function pagesAtCost(cost: number, activePages: number, k: number): number {
  return cost <= activePages ? cost : activePages + (cost - activePages) / k;
}

/** rho of a VM holding `pages`. */
export function sharesPerPage(shares: number, pages: number, activePages: number, k: number): number {
  const cost = taxedPages(pages, activePages, k);
  return cost > 0 ? shares / cost : Number.POSITIVE_INFINITY;
}

/** Targets for `availablePages` of memory shared by `requests`. */
export function computeTargets(requests: readonly AllocationRequest[], availablePages: number, idleTax: number): AllocationResult {
  const k = idleCostFactor(idleTax);
  // A reservation guarantees memory the VM uses; what it does not use yet stays available to
  // others (as in ESX: reserved memory is never reclaimed once touched, but is not held idle).
  const lo = requests.map((r) => Math.max(0, Math.min(r.reservationPages, r.limitPages, r.demandPages)));
  const hi = requests.map((r, i) => Math.max(lo[i] ?? 0, Math.min(r.limitPages, r.demandPages)));
  const sumHi = hi.reduce((a, b) => a + b, 0);
  const rhoAt = (targets: number[]): number[] =>
    requests.map((r, i) => sharesPerPage(r.shares, targets[i] ?? 0, Math.min(r.activePages, targets[i] ?? 0), k));
  if (sumHi <= availablePages) {
    const targets = hi.map((h) => Math.floor(h));
    return { targets, rho: rhoAt(targets), contended: false };
  }
  const sumLo = lo.reduce((a, b) => a + b, 0);
  if (sumLo >= availablePages) {
    const targets = lo.map((l) => Math.floor(l));
    return { targets, rho: rhoAt(targets), contended: true };
  }
  const at = (level: number): number[] =>
    requests.map((r, i) => {
      const p = r.shares > 0 ? pagesAtCost(r.shares / level, r.activePages, k) : 0;
      return Math.min(hi[i] ?? 0, Math.max(lo[i] ?? 0, p));
    });
  const total = (level: number): number => at(level).reduce((a, b) => a + b, 0);
  // Bisection on log(level): total() falls as the level (shares per page) rises.
  let low = 1e-12;
  let high = 1e12;
  for (let i = 0; i < 200; i++) {
    const mid = Math.sqrt(low * high);
    if (total(mid) > availablePages) low = mid;
    else high = mid;
  }
  const exact = at(high);
  const targets = exact.map((p) => Math.floor(p));
  // Hand out the pages lost to rounding, one each, to VMs still below their upper bound.
  let left = availablePages - targets.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0 && i < targets.length; i++) {
    if ((targets[i] ?? 0) < Math.floor(hi[i] ?? 0)) {
      targets[i] = (targets[i] ?? 0) + 1;
      left--;
    }
  }
  return { targets, rho: rhoAt(targets), contended: true };
}
