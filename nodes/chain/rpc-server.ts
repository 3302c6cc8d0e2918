/**
 * A tiny JSON-RPC HTTP server on 127.0.0.1 in front of Hardhat's in-process provider, so a browser (the dashboard)
 * can reach an in-process chain: `npm start -- --serve` and the browser test use it. It counts HTTP requests and
 * JSON-RPC calls (a batch counts each call) — that is how the browser test measures the RPC cost of a page.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface RpcProxy {
  url: string;
  stats(): { httpRequests: number; calls: number; methods: Record<string, number> };
  reset(): void;
  close(): Promise<void>;
}

interface Call {
  jsonrpc?: string;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

export async function startRpcProxy(provider: Eip1193, port = 0): Promise<RpcProxy> {
  let httpRequests = 0;
  let calls = 0;
  let methods: Record<string, number> = {};
  const handle = async (c: Call) => {
    const id = c.id ?? null;
    if (typeof c.method !== "string") return { jsonrpc: "2.0", id, error: { code: -32600, message: "invalid request" } };
    calls += 1;
    methods[c.method] = (methods[c.method] ?? 0) + 1;
    try {
      const result = await provider.request({ method: c.method, params: Array.isArray(c.params) ? c.params : [] });
      return { jsonrpc: "2.0", id, result: result ?? null };
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown; data?: unknown };
      return {
        jsonrpc: "2.0",
        id,
        error: {
          code: typeof e.code === "number" ? e.code : -32603,
          message: typeof e.message === "string" ? e.message : String(err),
          data: e.data,
        },
      };
    }
  };
  const server: Server = createServer((req, res) => {
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-allow-headers", "content-type");
    if (req.method === "OPTIONS") return void res.end();
    if (req.method !== "POST") {
      res.statusCode = 405;
      return void res.end();
    }
    httpRequests += 1;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.statusCode = 400;
        return void res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } }));
      }
      const out = Array.isArray(body) ? await Promise.all(body.map((c) => handle(c as Call))) : await handle(body as Call);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(out, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/`,
    stats: () => ({ httpRequests, calls, methods: { ...methods } }),
    reset: () => {
      httpRequests = 0;
      calls = 0;
      methods = {};
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
