/** One benchmark result: our throughput (or size) against the same measure for each peer library. */
export type BenchRow = {
  name: string;
  unit: string;
  ours: number;
  peers: Record<string, number>;
  target?: string;
};
