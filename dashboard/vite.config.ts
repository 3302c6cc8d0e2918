/**
 * Vite config of the dashboard. The browser talks to one origin: `/rpc` is proxied to the chain's JSON-RPC
 * (CERBERUS_RPC_URL, default http://127.0.0.1:8545 — the node of `npm start`) and `/deployment.json` serves the
 * deployments file (CERBERUS_DEPLOYMENT, default deployments/localhost.json), read fresh on every request so a
 * redeploy needs no restart. Same-origin avoids CORS on nodes that do not send it.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { IncomingMessage, ServerResponse } from "node:http";
import { defineConfig, type LogLevel, type Plugin } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..");

export interface DashboardEnv {
  rpcUrl: string;
  deploymentsPath: string;
}

export function dashboardEnv(env: NodeJS.ProcessEnv = process.env): DashboardEnv {
  const rpcUrl = env.CERBERUS_RPC_URL || "http://127.0.0.1:8545";
  if (!/^https?:\/\//.test(rpcUrl)) throw new Error(`CERBERUS_RPC_URL must be an http(s) URL, got ${rpcUrl}`);
  return {
    rpcUrl,
    deploymentsPath: resolve(repoRoot, env.CERBERUS_DEPLOYMENT || "deployments/localhost.json"),
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
    build: { outDir: join(repoRoot, ".cerberus", "dashboard-dist"), emptyOutDir: true, target: "es2022" },
    plugins: [deploymentPlugin(env.deploymentsPath)],
    logLevel: (process.env.DASHBOARD_QUIET ? "warn" : "info") as LogLevel,
  };
});
