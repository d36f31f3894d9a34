// Opens a trace file of any supported format, recognised by its first bytes.
import { open } from "node:fs/promises";
import { openBinaryTrace, BINARY_MAGIC } from "./binary.ts";
import { TraceFormatError, type TraceSource } from "./events.ts";

export type TraceFormat = TraceSource["format"];

/** Guesses a file's trace format from its first bytes. */
export async function detectFormat(path: string): Promise<TraceFormat> {
  const file = await open(path, "r").catch((cause: unknown) => {
    throw new TraceFormatError(path, "open", cause instanceof Error ? cause.message : String(cause));
  });
  try {
    const head = new Uint8Array(64);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const text = new TextDecoder("latin1").decode(head.subarray(0, bytesRead));
    if (text.startsWith(BINARY_MAGIC)) return "binary";
    throw new TraceFormatError(path, "byte offset 0", `unrecognised trace format: expected a binary trace (starting "${BINARY_MAGIC}"), found ${JSON.stringify(text.slice(0, 16))}`);
  } finally {
    await file.close();
  }
}

/** Opens a trace for streaming, whatever its format. */
export async function openTrace(path: string): Promise<TraceSource> {
  const format = await detectFormat(path);
  switch (format) {
    case "binary":
      return openBinaryTrace(path);
    default:
      throw new TraceFormatError(path, "byte offset 0", `cannot read ${format} traces`);
  }
}
