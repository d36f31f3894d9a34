// Number and time formats of the report page (pure; tested in Node).

/** Simulated seconds as m:ss, h:mm:ss or Nd hh:mm. */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "";
  const sign = seconds < 0 ? "-" : "";
  const tenths = Math.round(Math.abs(seconds) * 10);
  const frac = tenths % 10;
  const s = (tenths - frac) / 10;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (v: number): string => String(v).padStart(2, "0");
  const tail = frac > 0 ? `.${frac}` : "";
  if (d > 0) return `${sign}${d}d ${two(h)}:${two(m)}`;
  if (h > 0) return `${sign}${h}:${two(m)}:${two(sec)}${tail}`;
  return `${sign}${m}:${two(sec)}${tail}`;
}

/** A value for a legend: grouped, with 3 significant digits below 1 and up to 2 decimals above. */
export function number(v: number | null | undefined, unit = ""): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "--";
  const a = Math.abs(v);
  const text =
    a > 0 && a < 1
      ? v.toLocaleString("en-US", { maximumSignificantDigits: 3 })
      : v.toLocaleString("en-US", { maximumFractionDigits: a >= 100 ? 0 : a >= 10 ? 1 : 2 });
  return unit ? `${text} ${unit}` : text;
}

/** Four significant digits (rho). */
export function significant(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "--";
  return v === 0 ? "0" : v.toPrecision(4);
}

/** Axis tick labels with as many decimals as the tick step needs (k and M for large values). */
export function axisValues(splits: readonly number[], incr: number): string[] {
  const largest = Math.max(0, ...splits.map((v) => Math.abs(v)));
  const [divisor, suffix] = largest >= 1e6 ? [1e6, "M"] : largest >= 1e4 ? [1e3, "k"] : [1, ""];
  const step = incr / divisor;
  const digits = step > 0 && step < 1 ? Math.min(10, Math.ceil(-Math.log10(step) - 1e-9)) : 0;
  return splits.map((v) => `${(v / divisor).toLocaleString("en-US", { maximumFractionDigits: digits })}${v === 0 ? "" : suffix}`);
}
