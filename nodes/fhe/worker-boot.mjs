// Worker bootstrap: Node 20 workers do not inherit tsx's loader from `--import tsx`, so register it here and then
// load the TypeScript entry named in workerData.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
