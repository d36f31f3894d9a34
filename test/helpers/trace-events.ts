// Reading a whole trace into plain records, for the reader tests to compare against what they
// expect (each test maps these to the view its expectations are written in).
import { opName, type TraceSource } from "../../src/trace/events.ts";

/** One event as read: op by name, the 64-bit argument as a seed, page bytes when it carries them. */
export interface TraceEventRecord {
  t: number;
  vm: number;
  op: string;
  gpn: number;
  pages: number;
  seed: bigint;
  bytes?: Uint8Array;
}

/** Every event of `source`, in order. */
export async function readTraceEvents(source: TraceSource): Promise<TraceEventRecord[]> {
  const out: TraceEventRecord[] = [];
  for await (const chunk of source.chunks()) {
    for (let i = 0; i < chunk.count; i++) {
      const bytes = chunk.bytes.get(i);
      out.push({
        t: chunk.timeMs[i] ?? 0,
        vm: chunk.vm[i] ?? 0,
        op: opName(chunk.op[i] ?? 0) ?? "?",
        gpn: chunk.gpn[i] ?? 0,
        pages: chunk.pages[i] ?? 0,
        seed: chunk.seedAt(i),
        ...(bytes ? { bytes } : {}),
      });
    }
  }
  return out;
}
