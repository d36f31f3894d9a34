// Thinning for display only: the page embeds every sample and, each time a chart is drawn (or
// zoomed), picks the rows worth drawing in the visible range. Per pixel column (bucket) it keeps the
// first and last row and the rows of each series' minimum and maximum (M4: Jugel et al., "M4: A
// Visualization-Oriented Time Series Data Aggregation", VLDB 2014), so a line drawn through the kept
// rows covers exactly the pixels the full line would: no spike is lost. All series of a chart share
// the kept rows (uPlot wants one x array), so a stacked area stays exact at every row it draws.
// No Node APIs: the page's script uses these.

/** First index with x[i] >= value (x ascending); x.length if none. */
export function lowerBound(x: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((x[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Last index with x[i] <= value (x ascending); -1 if none. */
export function upperIndex(x: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((x[mid] as number) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** First index i in [lo, hi) with x[i] >= value (x ascending); hi if none. */
function lowerBoundIn(x: ArrayLike<number>, value: number, lo: number, hi: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if ((x[mid] as number) < value) a = mid + 1;
    else b = mid;
  }
  return a;
}

/**
 * The rows to draw for x in [xMin, xMax] across `buckets` pixel columns: one row either side of the
 * range (so lines run to the edges), and per bucket the first and last rows and each series' min and
 * max rows (and its first NaN row, so gaps still show). Ascending, no repeats. When the range has at
 * most `4 * buckets` rows, every row in it. Bucket b holds the rows with
 * xMin + b * w <= x < xMin + (b + 1) * w, w = (xMax - xMin) / buckets (the last one up to xMax).
 */
export function m4Indices(x: ArrayLike<number>, series: readonly ArrayLike<number>[], xMin: number, xMax: number, buckets: number): Uint32Array {
  const n = x.length;
  if (n === 0) return new Uint32Array(0);
  const from = Math.max(0, lowerBound(x, xMin) - 1);
  const to = Math.min(n - 1, upperIndex(x, xMax) + 1);
  if (to < from) return new Uint32Array(0);
  const count = to - from + 1;
  const width = Math.max(1, Math.floor(buckets));
  if (count <= 4 * width) {
    const all = new Uint32Array(count);
    for (let i = 0; i < count; i++) all[i] = from + i;
    return all;
  }
  const out = new Uint32Array(Math.min(count, width * (2 + 3 * series.length) + 2));
  let len = 0;
  let start = from;
  let stop = to;
  if ((x[from] as number) < xMin) out[len++] = start++;
  const trailing = (x[to] as number) > xMax ? to : -1;
  if (trailing >= 0) stop = to - 1;
  const span = xMax - xMin;
  const picks: number[] = [];
  for (let b = 0; b < width && start <= stop; b++) {
    const endRow = b === width - 1 ? stop + 1 : lowerBoundIn(x, xMin + (span * (b + 1)) / width, start, stop + 1);
    if (endRow <= start) continue;
    picks.length = 0;
    picks.push(start, endRow - 1);
    for (const column of series) {
      let minAt = -1;
      let maxAt = -1;
      let nanAt = -1;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (let i = start; i < endRow; i++) {
        const v = column[i] as number;
        if (v !== v) {
          if (nanAt < 0) nanAt = i;
          continue;
        }
        if (v < lo) {
          lo = v;
          minAt = i;
        }
        if (v > hi) {
          hi = v;
          maxAt = i;
        }
      }
      if (minAt >= 0) picks.push(minAt);
      if (maxAt >= 0) picks.push(maxAt);
      if (nanAt >= 0) picks.push(nanAt);
    }
    picks.sort((p, q) => p - q);
    let previous = len > 0 ? (out[len - 1] as number) : -1;
    for (const p of picks) {
      if (p !== previous) out[len++] = p;
      previous = p;
    }
    start = endRow;
  }
  if (trailing >= 0) out[len++] = trailing;
  return out.slice(0, len);
}

/** values[rows[i]] for each i; NaN and infinities as null (uPlot draws null as a gap). */
export function gather(values: ArrayLike<number>, rows: Uint32Array): (number | null)[] {
  const out = new Array<number | null>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const v = values[rows[i] as number] as number;
    out[i] = Number.isFinite(v) ? v : null;
  }
  return out;
}

/**
 * Stacks layers bottom-up: out[k][i] = the sum of the shown layers 0..k at row i (a hidden layer
 * adds nothing, so the others close up). NaN adds nothing; a row where every shown layer so far is
 * NaN stays NaN (a gap).
 */
export function stackColumns(layers: readonly ArrayLike<number>[], shown: readonly boolean[]): Float64Array[] {
  const rows = layers[0]?.length ?? 0;
  const sum = new Float64Array(rows).fill(Number.NaN);
  return layers.map((layer, k) => {
    if (shown[k] ?? true) {
      for (let i = 0; i < rows; i++) {
        const v = layer[i] as number;
        if (Number.isNaN(v)) continue;
        const s = sum[i] as number;
        sum[i] = Number.isNaN(s) ? v : s + v;
      }
    }
    return sum.slice();
  });
}

/** Where a VM's guest pages are, in MiB, from its sample columns; the layers add up to GRANT + ZIP + SWCUR + BALLOONED + UNTOUCHED (= MEMSZ). */
export const PAGE_LAYERS = ["private", "shared", "zero", "compressed", "swapped", "ballooned", "untouched"] as const;
export type PageLayer = (typeof PAGE_LAYERS)[number];

/**
 * The page layers at one sample. ZERO counts zero pages whether shared or not; a zero page is
 * private only while it waits for a partner (at most one page per zero frame in the whole host),
 * so zero pages are taken out of SHRD, and any excess out of the private pages: the layers add up
 * exactly and a layer is never negative.
 */
export function pageLayers(c: { GRANT: number; SHRD: number; ZERO: number; ZIP: number; SWCUR: number; BALLOONED: number; UNTOUCHED: number }): Record<PageLayer, number> {
  const zeroShared = Math.min(c.SHRD, c.ZERO);
  const zeroPrivate = Math.max(0, c.ZERO - c.SHRD);
  return {
    private: Math.max(0, c.GRANT - c.SHRD - zeroPrivate),
    shared: c.SHRD - zeroShared,
    zero: c.ZERO,
    compressed: c.ZIP,
    swapped: c.SWCUR,
    ballooned: c.BALLOONED,
    untouched: c.UNTOUCHED,
  };
}

/** The page layers of every sample (NaN where the VM has no sample); `pageLayers` row by row. */
export function pageLayerColumns(c: Record<"GRANT" | "SHRD" | "ZERO" | "ZIP" | "SWCUR" | "BALLOONED" | "UNTOUCHED", ArrayLike<number>>): Record<PageLayer, Float64Array> {
  const n = c.GRANT.length;
  const privatePages = new Float64Array(n);
  const shared = new Float64Array(n);
  const zero = Float64Array.from(c.ZERO);
  for (let i = 0; i < n; i++) {
    const grant = c.GRANT[i] as number;
    const shrd = c.SHRD[i] as number;
    const z = c.ZERO[i] as number;
    const zeroShared = Math.min(shrd, z);
    privatePages[i] = Math.max(0, grant - shrd - Math.max(0, z - shrd));
    shared[i] = shrd - zeroShared;
  }
  return {
    private: privatePages,
    shared,
    zero,
    compressed: Float64Array.from(c.ZIP),
    swapped: Float64Array.from(c.SWCUR),
    ballooned: Float64Array.from(c.BALLOONED),
    untouched: Float64Array.from(c.UNTOUCHED),
  };
}
