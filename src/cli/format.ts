// Small formatting helpers for the CLI's human-readable tables.

export function formatInt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

export function formatMiB(pages: number): string {
  return `${(pages / 256).toFixed(1)} MiB`;
}

export function formatPercent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-";
}

/** Renders rows as an aligned text table; numeric-looking cells are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = /^[-+]?[\d,.]+( ?(%|MiB|s|GiB))?( \/ [\d,.]+%)?$/;
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        return numeric.test(cell) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
