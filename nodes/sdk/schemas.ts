/**
 * zod schemas for values decoded from the chain. viem types them from the ABI, but the ABI cannot say that a role is
 * 0 or 1, that a uid fits its role, or that a share is ≤ 65,535 — a wrong address in a deployments file or a changed
 * contract would otherwise render nonsense. Parse failures become SdkError SDK_BAD_CHAIN_DATA.
 */
import { z } from "zod";
import { hexToBytes, type Address, type Hex } from "viem";
import { SdkError } from "./errors.ts";

export const SHARE_ONE = 65_535;

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/) as unknown as z.ZodType<Hex>;
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/) as unknown as z.ZodType<Hex>;
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/) as unknown as z.ZodType<Address>;
const u16 = z.number().int().min(0).max(65_535);
const share = z.number().int().min(0).max(SHARE_ONE);
const u = z.bigint().nonnegative();

export const limitsSchema = z.object({
  maxMiners: z.number().int().min(1).max(256),
  maxValidators: z.number().int().min(1).max(32),
  minMinerStake: u,
  minValidatorStake: u,
  immunityPeriod: z.number().int().nonnegative(),
});

export const brainRecordSchema = z.object({
  modelHash: bytes32,
  fheParamsHash: bytes32,
  genesisBlock: u,
  tempo: z.number().int().positive(),
  limits: limitsSchema,
  uri: z.string(),
});

export const neuronViewSchema = z.object({
  uid: u16,
  role: z.union([z.literal(0), z.literal(1)]),
  hotkey: address,
  peerId: hex,
  multiaddrs: hex,
  registeredAt: u,
  stake: u,
  incentive: share,
  dividends: share,
  pendingReward: u,
  takeBps: u16,
  nextTakeBps: u16,
  takeFromBlock: u,
});

export const brainViewSchema = z
  .object({
    brainId: u,
    owner: address,
    brain: brainRecordSchema,
    pendingLimits: limitsSchema,
    limitsFromBlock: u,
    currentEpoch: u,
    settlementEpoch: u,
    settlementPhase: z.union([z.literal(0), z.literal(1), z.literal(2)]),
    settledAny: z.boolean(),
    lastUpdate: u,
    active: z.boolean(),
    emissionWeight: u,
    totalEmissionWeight: u,
    miners: z.array(neuronViewSchema).max(256),
    validators: z.array(neuronViewSchema).max(32),
  })
  .superRefine((v, ctx) => {
    if (v.miners.some((n) => n.role !== 0)) ctx.addIssue({ code: "custom", message: "a miner row has role ≠ Miner" });
    if (v.validators.some((n) => n.role !== 1 || n.uid >= 32)) {
      ctx.addIssue({ code: "custom", message: "a validator row has role ≠ Validator or uid ≥ 32" });
    }
  });

export const sharesSchema = (n: number) => z.array(share).length(n);

export function parseChain<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new SdkError("SDK_BAD_CHAIN_DATA", `${what}: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** libp2p peer ids / multiaddrs are opaque bytes on-chain; show them as text when they are printable ASCII. */
export function bytesToDisplay(h: Hex): string {
  const b = hexToBytes(h);
  if (b.length > 0 && b.every((c) => c >= 0x20 && c < 0x7f)) return new TextDecoder().decode(b);
  return h;
}
