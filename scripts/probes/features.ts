/**
 * Everything a miner sees of one session, as numbers: built only from the miner's own request log
 * (MinerService.onRequest events), never from anything the harness knows about who sent what.
 */
import { createHash } from "node:crypto";
import type { RequestEvent } from "../../nodes/miner/service.ts";
import type { Dataset, FeatureSpec } from "./discriminators.ts";

export interface SessionView {
  sessionId: string;
  peerId: string;
  open: RequestEvent;
  steps: RequestEvent[];
  close: RequestEvent | undefined;
  all: RequestEvent[];
}

export const FEATURES: FeatureSpec[] = [
  { name: "peer_prior_sessions" }, { name: "peer_total_sessions" },
  { name: "remote_ip", categorical: true }, { name: "remote_port" },
  { name: "connections" }, { name: "connection_shared" }, { name: "streams" }, { name: "open_first_on_stream" },
  { name: "open_header_fields", categorical: true }, { name: "open_header_bytes" },
  { name: "galois_key_bytes" }, { name: "relin_key_bytes" },
  { name: "steps" }, { name: "step_bytes_mean" }, { name: "step_bytes_sd" }, { name: "step_errors" },
  { name: "seq_contiguous" },
  { name: "gap_mean_ms" }, { name: "gap_sd_ms" }, { name: "gap_min_ms" }, { name: "gap_max_ms" },
  { name: "open_to_first_step_ms" }, { name: "closed" }, { name: "last_step_to_close_ms" },
  { name: "duration_ms" }, { name: "epoch_phase" }, { name: "concurrency_at_open" },
];

/** Groups infer events into sessions (an `open` that created no session is not a session). */
export function sessionsFrom(events: readonly RequestEvent[]): SessionView[] {
  const byId = new Map<string, SessionView>();
  for (const e of events) {
    const type = (e.header as { type?: string } | undefined)?.type;
    if (type === "open" && e.outcome === "opened" && e.sessionId !== undefined) {
      byId.set(e.sessionId, { sessionId: e.sessionId, peerId: e.peerId, open: e, steps: [], close: undefined, all: [e] });
    }
  }
  for (const e of events) {
    const type = (e.header as { type?: string } | undefined)?.type;
    const s = e.sessionId === undefined ? undefined : byId.get(e.sessionId);
    if (s === undefined || type === "open") continue;
    s.all.push(e);
    if (type === "step") s.steps.push(e);
    if (type === "close") s.close = e;
  }
  const at = (e: RequestEvent) => e.receivedAt ?? 0;
  return [...byId.values()].map((s) => ({ ...s, steps: s.steps.sort((a, b) => at(a) - at(b)) }))
    .sort((a, b) => at(a.open) - at(b.open));
}

const code = (text: string) => parseInt(createHash("sha256").update(text).digest("hex").slice(0, 8), 16);
const mean = (v: number[]) => (v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length);
const sd = (v: number[]) => {
  const m = mean(v);
  return Math.sqrt(mean(v.map((x) => (x - m) ** 2)));
};

/** One feature row per session; `epochStart`/`epochMs` place each session within its epoch. */
export function featureRows(sessions: readonly SessionView[], epochStart: number, epochMs: number): number[][] {
  const at = (e: RequestEvent) => e.receivedAt ?? 0;
  const lastAt = (s: SessionView) => Math.max(...s.all.map(at));
  const totalByPeer = new Map<string, number>();
  for (const s of sessions) totalByPeer.set(s.peerId, (totalByPeer.get(s.peerId) ?? 0) + 1);
  const usersOfConnection = new Map<string, Set<string>>();
  for (const s of sessions) {
    for (const e of s.all) {
      const set = usersOfConnection.get(e.connectionId) ?? new Set<string>();
      set.add(s.sessionId);
      usersOfConnection.set(e.connectionId, set);
    }
  }
  const priorByPeer = new Map<string, number>();
  return sessions.map((s) => {
    const prior = priorByPeer.get(s.peerId) ?? 0;
    priorByPeer.set(s.peerId, prior + 1);
    const [ip = "", port = "0"] = /\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(s.open.remoteAddr)?.slice(1) ?? [];
    const connections = new Set(s.all.map((e) => e.connectionId));
    const stepTimes = s.steps.map(at);
    const gaps = stepTimes.slice(1).map((t, i) => t - stepTimes[i]!);
    const stepBytes = s.steps.map((e) => e.partSizes.reduce((a, b) => a + b, 0));
    const seqs = s.steps.map((e) => Number((e.header as { seq?: number } | undefined)?.seq ?? -1));
    const openAt = at(s.open);
    const concurrency = sessions.filter((o) => o !== s && at(o.open) <= openAt && lastAt(o) >= openAt).length;
    const phase = epochMs > 0 ? (((openAt - epochStart) % epochMs) + epochMs) % epochMs / epochMs : 0;
    return [
      prior, totalByPeer.get(s.peerId)!,
      code(ip), Number(port),
      connections.size, [...connections].some((c) => usersOfConnection.get(c)!.size > 1) ? 1 : 0,
      new Set(s.all.map((e) => e.streamId)).size, s.open.requestOnStream === 0 ? 1 : 0,
      code(Object.keys(JSON.parse(s.open.headerJson ?? "{}") as object).sort().join(",")), (s.open.headerJson ?? "").length,
      s.open.partSizes[0] ?? 0, s.open.partSizes[1] ?? 0,
      s.steps.length, mean(stepBytes), sd(stepBytes), s.steps.filter((e) => e.outcome !== "result").length,
      seqs.every((v, i) => v === i) ? 1 : 0,
      gaps.length === 0 ? -1 : mean(gaps), gaps.length === 0 ? -1 : sd(gaps),
      gaps.length === 0 ? -1 : Math.min(...gaps), gaps.length === 0 ? -1 : Math.max(...gaps),
      stepTimes.length === 0 ? -1 : stepTimes[0]! - openAt,
      s.close === undefined ? 0 : 1,
      s.close === undefined || stepTimes.length === 0 ? -1 : at(s.close) - stepTimes.at(-1)!,
      lastAt(s) - openAt, phase, concurrency,
    ];
  });
}

export function datasetOf(sessions: readonly SessionView[], isProbe: (s: SessionView) => boolean, epochStart: number,
  epochMs: number): Dataset {
  return { features: FEATURES, x: featureRows(sessions, epochStart, epochMs), y: sessions.map((s) => (isProbe(s) ? 1 : 0)) };
}
