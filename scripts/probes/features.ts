/**
 * Everything a miner — or an operator holding several seats — sees of one session, as numbers: built only from the
 * miners' own request logs (MinerService.onRequest events) and the chain clock, never from anything the harness knows
 * about who sent what. Features come in families, so the report can say which kind of knowledge tells probes apart.
 */
import { createHash } from "node:crypto";
import type { RequestEvent } from "../../nodes/miner/service.ts";
import type { Dataset, FeatureSpec } from "./discriminators.ts";

export interface SeatEvent extends RequestEvent {
  /** Which miner (seat) logged the event. */
  seat: number;
}

export interface SessionView {
  seat: number;
  sessionId: string;
  peerId: string;
  open: SeatEvent;
  steps: SeatEvent[];
  close: SeatEvent | undefined;
  all: SeatEvent[];
}

export type Family = "identity" | "address" | "transport" | "shape" | "load" | "chain" | "collusion" | "linkage";

export const FEATURES: (FeatureSpec & { family: Family })[] = [
  { name: "peer_prior_sessions", family: "identity" }, { name: "peer_total_sessions", family: "identity" },
  { name: "remote_ip", categorical: true, family: "address" }, { name: "ip_prior_sessions", family: "address" },
  { name: "ip_distinct_peers", family: "address" }, { name: "ip_at_other_seat", family: "address" },
  { name: "remote_port", family: "transport" },
  { name: "connections", family: "transport" }, { name: "connection_shared", family: "transport" }, { name: "streams", family: "transport" },
  { name: "open_first_on_stream", family: "transport" },
  { name: "open_header_fields", categorical: true, family: "transport" }, { name: "open_header_bytes", family: "transport" },
  { name: "galois_key_bytes", family: "transport" }, { name: "relin_key_bytes", family: "transport" },
  { name: "steps", family: "shape" }, { name: "step_bytes_mean", family: "transport" }, { name: "step_bytes_sd", family: "transport" },
  { name: "step_errors", family: "load" }, { name: "seq_contiguous", family: "transport" },
  { name: "gap_mean_ms", family: "shape" }, { name: "gap_sd_ms", family: "shape" }, { name: "gap_min_ms", family: "shape" },
  { name: "gap_max_ms", family: "shape" }, { name: "open_to_first_step_ms", family: "shape" }, { name: "closed", family: "transport" },
  { name: "last_step_to_close_ms", family: "transport" }, { name: "duration_ms", family: "shape" },
  { name: "health_to_open_ms", family: "shape" }, { name: "concurrency_at_open", family: "load" },
  { name: "epoch_phase", family: "chain" }, { name: "block_in_epoch", family: "chain" }, { name: "blocks_to_deadline", family: "chain" },
  { name: "commits_seen", family: "chain" }, { name: "reveal_window_open", family: "chain" }, { name: "blocks_since_settlement", family: "chain" },
  { name: "peer_at_other_seat", family: "collusion" }, { name: "health_at_seats", family: "collusion" },
  { name: "health_gap_ms", family: "collusion" },
  // A shaped request's next session opens right after the last one closed: how close this open follows a close at
  // any of the operator's seats (what would link a request's sessions, and so tell its length).
  { name: "since_close_ms", family: "linkage" }, { name: "closes_before_open_2s", family: "linkage" },
];

/** The chain as a miner reads it: block time, tempo, and when validators commit (at their deadline: rolling window). */
export interface ChainClock {
  startMs: number;
  blockMs: number;
  tempo: number;
  /** Validators committing each epoch (all at the commit deadline). */
  validators: number;
}

const typeOf = (e: RequestEvent) => (e.header as { type?: string } | undefined)?.type;
const at = (e: RequestEvent) => e.receivedAt ?? 0;

/** Groups infer events into sessions per seat (an `open` that created no session is not a session). */
export function sessionsFrom(events: readonly SeatEvent[]): SessionView[] {
  const byId = new Map<string, SessionView>();
  for (const e of events) {
    if (typeOf(e) === "open" && e.outcome === "opened" && e.sessionId !== undefined) {
      byId.set(`${e.seat}/${e.sessionId}`, { seat: e.seat, sessionId: e.sessionId, peerId: e.peerId, open: e, steps: [], close: undefined, all: [e] });
    }
  }
  for (const e of events) {
    const s = e.sessionId === undefined ? undefined : byId.get(`${e.seat}/${e.sessionId}`);
    if (s === undefined || typeOf(e) === "open") continue;
    s.all.push(e);
    if (typeOf(e) === "step") s.steps.push(e);
    if (typeOf(e) === "close") s.close = e;
  }
  return [...byId.values()].map((s) => ({ ...s, steps: s.steps.sort((a, b) => at(a) - at(b)) }))
    .sort((a, b) => at(a.open) - at(b.open));
}

const code = (text: string) => parseInt(createHash("sha256").update(text).digest("hex").slice(0, 8), 16);
const mean = (v: number[]) => (v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length);
const sd = (v: number[]) => {
  const m = mean(v);
  return Math.sqrt(mean(v.map((x) => (x - m) ** 2)));
};
const ipOf = (addr: string) => /\/ip[46]\/([^/]+)\/tcp\/(\d+)/.exec(addr)?.slice(1) ?? ["", "0"];

/**
 * One feature row per session in `sessions`, as the operator of `seats` sees it: the session's own seat log, the
 * other seats' logs (collusion), and the chain clock. `events` is every event of those seats (health included).
 */
export function featureRows(sessions: readonly SessionView[], events: readonly SeatEvent[], clock: ChainClock): number[][] {
  const lastAt = (s: SessionView) => Math.max(...s.all.map(at));
  const totalByPeer = new Map<string, number>();
  for (const s of sessions) totalByPeer.set(s.peerId, (totalByPeer.get(s.peerId) ?? 0) + 1);
  const usersOfConnection = new Map<string, Set<string>>();
  for (const s of sessions) {
    for (const e of s.all) {
      const set = usersOfConnection.get(`${e.seat}/${e.connectionId}`) ?? new Set<string>();
      set.add(`${s.seat}/${s.sessionId}`);
      usersOfConnection.set(`${e.seat}/${e.connectionId}`, set);
    }
  }
  const sorted = [...events].sort((a, b) => at(a) - at(b));
  const healths = sorted.filter((e) => typeOf(e) === "health");
  const closes = sorted.filter((e) => typeOf(e) === "close").map(at);
  const priorByPeer = new Map<string, number>();
  const priorByIp = new Map<string, number>();
  const peersByIp = new Map<string, Set<string>>();
  const deadline = clock.tempo - Math.max(2, Math.floor(clock.tempo / 10));
  return sessions.map((s) => {
    const prior = priorByPeer.get(s.peerId) ?? 0;
    priorByPeer.set(s.peerId, prior + 1);
    const [ip = "", port = "0"] = ipOf(s.open.remoteAddr);
    const ipPrior = priorByIp.get(ip) ?? 0;
    priorByIp.set(ip, ipPrior + 1);
    const peers = peersByIp.get(ip) ?? new Set<string>();
    peers.add(s.peerId);
    peersByIp.set(ip, peers);
    const connections = new Set(s.all.map((e) => e.connectionId));
    const stepTimes = s.steps.map(at);
    const gaps = stepTimes.slice(1).map((t, i) => t - stepTimes[i]!);
    const stepBytes = s.steps.map((e) => e.partSizes.reduce((a, b) => a + b, 0));
    const seqs = s.steps.map((e) => Number((e.header as { seq?: number } | undefined)?.seq ?? -1));
    const openAt = at(s.open);
    const end = lastAt(s);
    const concurrency = sessions.filter((o) => o !== s && o.seat === s.seat && at(o.open) <= openAt && lastAt(o) >= openAt).length;
    // The chain clock at the open.
    const block = Math.floor((openAt - clock.startMs) / clock.blockMs);
    const inEpoch = ((block % clock.tempo) + clock.tempo) % clock.tempo;
    const half = Math.floor(clock.tempo / 2);
    // Collusion: what the operator's other seats saw of this peer and its address.
    const elsewhere = sorted.filter((e) => e.seat !== s.seat && at(e) <= end);
    const peerElsewhere = elsewhere.some((e) => e.peerId === s.peerId);
    const ipElsewhere = elsewhere.some((e) => at(e) < openAt && ipOf(e.remoteAddr)[0] === ip);
    const recentHealth = healths.filter((e) => e.peerId === s.peerId && at(e) <= openAt && openAt - at(e) < 10_000);
    const healthSeats = new Set(recentHealth.map((e) => e.seat));
    const ownHealth = recentHealth.filter((e) => e.seat === s.seat).at(-1);
    const otherHealth = recentHealth.filter((e) => e.seat !== s.seat).at(-1);
    const closesBefore = closes.filter((t) => t <= openAt);
    const lastClose = closesBefore.at(-1);
    return [
      prior, totalByPeer.get(s.peerId)!,
      code(ip), ipPrior, peers.size, ipElsewhere ? 1 : 0,
      Number(port),
      connections.size, [...connections].some((c) => usersOfConnection.get(`${s.seat}/${c}`)!.size > 1) ? 1 : 0,
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
      end - openAt, ownHealth === undefined ? -1 : openAt - at(ownHealth), concurrency,
      inEpoch / clock.tempo, inEpoch, deadline - inEpoch, inEpoch >= deadline ? clock.validators : 0,
      inEpoch < half ? 1 : 0, (inEpoch - half + clock.tempo) % clock.tempo,
      peerElsewhere ? 1 : 0, healthSeats.size,
      ownHealth !== undefined && otherHealth !== undefined ? Math.abs(at(ownHealth) - at(otherHealth)) : -1,
      lastClose === undefined ? -1 : openAt - lastClose, closesBefore.filter((t) => openAt - t < 2_000).length,
    ];
  });
}

/** The dataset restricted to some feature families (or all but some). */
export function withFamilies(data: Dataset, keep: (f: Family) => boolean): Dataset {
  const idx = FEATURES.flatMap((f, i) => (keep(f.family) ? [i] : []));
  return { features: idx.map((i) => data.features[i]!), x: data.x.map((r) => idx.map((i) => r[i]!)), y: data.y };
}
