// Development only (running from TypeScript sources under tsx): a worker thread does not inherit
// tsx's loader, so this plain-JS bootstrap registers it and then loads the TypeScript worker.
// The packaged build starts dist/sweep-worker.js directly and never uses this file.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
