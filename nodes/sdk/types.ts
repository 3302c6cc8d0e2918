/** Public types of the read SDK. Amounts are wei (bigint); shares are fractions in [0, 1] plus the raw uint16. */
import type { Address, Hex } from "viem";

export type Role = "miner" | "validator";

export interface BrainLimits {
  maxMiners: number;
  maxValidators: number;
  minMinerStake: bigint;
  minValidatorStake: bigint;
  immunityPeriod: number;
}

/** A Brain's metadata, limits and owner. */
export interface BrainMeta {
  id: bigint;
  /** The zero address once the Brain is deregistered (its NFT is burned). */
  owner: Address;
  /** False once deregistered: no registrations, settlements or emission. */
  active: boolean;
  modelHash: Hex;
  fheParamsHash: Hex;
  uri: string;
  genesisBlock: bigint;
  tempo: number;
  limits: BrainLimits;
}

export interface BrainSummary extends BrainMeta {
  minerCount: number;
  validatorCount: number;
}

export interface Neuron {
  uid: number;
  role: Role;
  hotkey: Address;
  /** libp2p peer id bytes, shown as text when printable, else hex. */
  peerId: string;
  multiaddrs: string;
  registeredAt: bigint;
  /** Total stake on the hotkey (own + delegated). */
  stake: bigint;
  /** Miners: share of the miners' emission at the last settlement (raw / 65,535). */
  incentive: number;
  incentiveRaw: number;
  /** Validators: share of the validators' emission at the last settlement. */
  dividends: number;
  dividendsRaw: number;
  /** Miners: unclaimed incentive of the seat (wei). */
  pendingReward: bigint;
  /** Block of the last settlement that updated this neuron's scores (the Brain's last settlement). */
  lastUpdate: bigint;
  /** Validators: take on dividends in basis points now, and a pending raise (applies from `takeFromBlock`). */
  take: { bps: number; nextBps: number; fromBlock: bigint | null };
}

export interface BrainDetail extends BrainMeta {
  currentEpoch: bigint;
  /** Some epoch of this Brain was settled at some point. */
  settledAny: boolean;
  /** The last settled epoch; null before the first settlement and while a chunked settlement is in progress. */
  lastSettledEpoch: bigint | null;
  /** A chunked settlement in progress (phase 1 ranking, 2 paying miners), else null. */
  settlementInProgress: { epoch: bigint; phase: "ranking" | "paying" } | null;
  /** Block of the last completed settlement. */
  lastUpdate: bigint;
  /** Emission weight (the stake bonded to its validators, wei) and its share of every block's reward. */
  emission: { weight: bigint; totalWeight: bigint; share: number };
  miners: Neuron[];
  validators: Neuron[];
}

export interface EpochWindows {
  epoch: bigint;
  commitFrom: bigint;
  revealFrom: bigint;
  revealTo: bigint;
}

export interface EpochState {
  brainId: bigint;
  head: bigint;
  currentEpoch: bigint;
  /** Commits for `currentEpoch` are open now. */
  current: EpochWindows;
  /** The previous epoch: its reveal window is open when head ∈ [revealFrom, revealTo). */
  previous: EpochWindows | null;
  revealOpen: boolean;
  settlement: {
    epoch: bigint;
    phase: "idle" | "ranking" | "paying";
    cursor: number;
    settledAny: boolean;
    lastSettledBlock: bigint;
  };
  /** Emission this Brain would receive if settled now (wei). */
  pendingEmission: bigint;
}

export interface EmissionSchedule {
  head: bigint;
  genesisBlock: bigint;
  initialReward: bigint;
  halvingInterval: bigint;
  rewardPerBlock: bigint;
  era: bigint;
  nextHalvingBlock: bigint;
  emissionCap: bigint;
  totalMinted: bigint;
  activeBrains: bigint;
  split: { ownerBps: number; minerBps: number; validatorBps: number };
  tokenSupply: bigint;
  /** CBR burned by a Brain mint now (BrainRegistry.registrationPrice: doubles per mint, decays to the floor). */
  brainPrice: bigint;
}

export interface ValidatorActivity {
  uid: number;
  hotkey: Address;
  /** Committed weights for the current epoch. */
  committedCurrent: boolean;
  /** Committed weights for the previous epoch. */
  committedPrevious: boolean;
  /** Revealed the previous epoch's weights. */
  revealedPrevious: boolean;
}

export interface EpochScores {
  epoch: bigint;
  settledAtBlock: bigint;
  emission: bigint;
  minerPaid: bigint;
  validatorPaid: bigint;
  ownerPaid: bigint;
  /** Miner incentive share per uid (0..255) after this settlement. */
  incentives: number[];
  /** Validator dividend share per uid (0..31). */
  dividends: number[];
}

export interface StakePosition {
  hotkey: Address;
  amount: bigint;
  /** Rewards claimable with Staking.claimRewards(hotkey). */
  pendingRewards: bigint;
  /** Part of `amount` still warming up: it shares in the hotkey's distributions only after the next one. */
  warming: bigint;
  hotkeyTotalStake: bigint;
  hotkeyTakeBps: number;
  /** A pending take raise on the hotkey (bps) and the block it applies from; null when none. */
  hotkeyNextTake: { bps: number; fromBlock: bigint } | null;
  /** The Brain the hotkey validates in (null: not a validator — delegation to it earns nothing). */
  validatorOf: bigint | null;
}

export interface StakerView {
  staker: Address;
  head: bigint;
  balance: bigint;
  allowanceToStaking: bigint;
  positions: StakePosition[];
  unbonding: { amount: bigint; releaseBlock: bigint; withdrawable: boolean };
  /** Take accumulated by the staker's own hotkey (Staking.claimCommission). */
  commission: bigint;
  /** Rewards of miner seats this address lost (Consensus.claimRemoved). */
  removedMinerRewards: bigint;
  /** Miner seats the address holds now, with the incentive each has accrued (Consensus.claimMiner). */
  minerSeats: MinerSeat[];
  totalClaimable: bigint;
}

export interface MinerSeat {
  brainId: bigint;
  uid: number;
  /** Incentive accrued on the seat, claimable with Consensus.claimMiner(brainId, uid). */
  pending: bigint;
}

export type FeedName = "registrations" | "stakes" | "settlements";

interface EventBase {
  blockNumber: bigint;
  logIndex: number;
  transactionHash: Hex;
}
export type FeedEvent =
  | (EventBase & { kind: "NeuronRegistered"; brainId: bigint; role: Role; uid: number; hotkey: Address })
  | (EventBase & { kind: "NeuronDeregistered" | "NeuronPruned"; brainId: bigint; role: Role; uid: number; hotkey: Address })
  | (EventBase & { kind: "Staked"; staker: Address; hotkey: Address; amount: bigint })
  | (EventBase & { kind: "Unbonding"; staker: Address; hotkey: Address; amount: bigint; releaseBlock: bigint })
  | (EventBase & { kind: "Withdrawn"; staker: Address; amount: bigint })
  | (EventBase & {
      kind: "EpochSettled";
      brainId: bigint;
      epoch: bigint;
      emission: bigint;
      minerPaid: bigint;
      validatorPaid: bigint;
      ownerPaid: bigint;
    });

export interface EventPage {
  fromBlock: bigint;
  toBlock: bigint;
  events: FeedEvent[];
}
