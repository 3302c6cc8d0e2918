import {
  createPublicClient, createWalletClient, parseEventLogs, type Account, type Address, type Hex,
  type PublicClient, type Transport, type WalletClient, type TransactionReceipt,
} from "viem";
import { CerberusError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import {
  brainRegistryAbi, cerberusTokenAbi, consensusAbi, neuronRegistryAbi, stakingAbi,
} from "../chain-artifacts/generated/abis.ts";
import type { DeploymentFile } from "./deployment.ts";
import { ChainCallerError, ChainRevertError, ChainUnavailableError, asRevert, isTransient, isUnknownAccount } from "./errors.ts";
import { encodePeerInfo, parseMultiaddrs, type PeerInfo } from "./peer-info.ts";
import { createCerberusReader, getBrain, parseDeployment as sdkDeployment, withExactApproval, type BrainDetail,
  type BrainLimits, type CerberusReader, type Neuron } from "../sdk/index.ts";

export const ROLE = { Miner: 0, Validator: 1 } as const;
export type RoleName = keyof typeof ROLE;

/** A neuron as agents need it: the SDK's view plus its multiaddrs as a list (empty if unparseable). */
export type AgentNeuron = Omit<Neuron, "multiaddrs"> & { multiaddrs: string[] };

/** A whole Brain (the SDK's `getBrain`, one lens call) with dialable neurons. */
export type BrainSnapshot = Omit<BrainDetail, "miners" | "validators"> & { miners: AgentNeuron[]; validators: AgentNeuron[] };

export interface EpochPayouts {
  emission: bigint;
  minerPaid: bigint;
  validatorPaid: bigint;
  /** Owner share plus rounding dust (the contracts send dust to the Brain owner). */
  ownerPaid: bigint;
  block: bigint;
  /** Dividends per validator hotkey (before take/delegator split). */
  validatorRewards: Map<Address, bigint>;
}

export interface ChainClientOptions {
  transport: Transport;
  deployment: DeploymentFile;
  /** Who signs: a local account (private key) or an address the node unlocks (Hardhat's accounts). */
  account?: Account | Address;
  logger?: Logger;
  /** Attempts for reads and receipt waits on transient RPC errors (default 3). Sends are never re-sent. */
  attempts?: number;
}

/**
 * Typed access to the Cerberus contracts for agents and CLIs: reads, and writes that are simulated first (so a
 * revert surfaces as ChainRevertError with the custom error's name before anything is sent), sent, and awaited.
 */
export class ChainClient {
  readonly public: PublicClient;
  readonly wallet: WalletClient | undefined;
  readonly deployment: DeploymentFile;
  readonly account: Account | Address | undefined;
  private readonly log: Logger | undefined;
  private readonly attempts: number;
  /** The read SDK over the same client (staker views, events). */
  readonly reader: CerberusReader;
  /** Sends go one at a time: two loops of one agent must not race for the same account nonce. */
  private sending: Promise<unknown> = Promise.resolve();

  constructor(options: ChainClientOptions) {
    this.deployment = options.deployment;
    this.account = options.account;
    this.log = options.logger;
    this.attempts = options.attempts ?? 3;
    this.public = createPublicClient({ transport: options.transport });
    this.reader = createCerberusReader(this.public, sdkDeployment(options.deployment));
    this.wallet = options.account === undefined ? undefined : createWalletClient({ transport: options.transport });
  }

  get address(): Address {
    if (this.account === undefined) throw new ChainUnavailableError("NO_ACCOUNT", "this client has no account to sign with");
    return typeof this.account === "string" ? this.account : this.account.address;
  }

  private get c() { return this.deployment.contracts; }

  // ─────────────── reads ───────────────

  blockNumber(): Promise<bigint> {
    return this.retry("blockNumber", () => this.public.getBlockNumber({ cacheTime: 0 }));
  }

  balanceOf(owner: Address): Promise<bigint> {
    return this.read("balanceOf", () => this.public.readContract({
      address: this.c.CerberusToken.address, abi: cerberusTokenAbi, functionName: "balanceOf", args: [owner],
    }));
  }

  totalSupply(): Promise<bigint> {
    return this.read("totalSupply", () => this.public.readContract({
      address: this.c.CerberusToken.address, abi: cerberusTokenAbi, functionName: "totalSupply",
    }));
  }

  epochAt(brainId: bigint, block: bigint): Promise<bigint> {
    return this.read("epochAt", () => this.public.readContract({
      address: this.c.Consensus.address, abi: consensusAbi, functionName: "epochAt", args: [brainId, block],
    }));
  }

  /** Commit window [commitFrom, revealFrom), reveal window [revealFrom, revealTo), settleable from revealTo. */
  async windows(brainId: bigint, epoch: bigint): Promise<{ commitFrom: bigint; revealFrom: bigint; revealTo: bigint }> {
    const [commitFrom, revealFrom, revealTo] = await this.read("windows", () => this.public.readContract({
      address: this.c.Consensus.address, abi: consensusAbi, functionName: "windows", args: [brainId, epoch],
    }));
    return { commitFrom, revealFrom, revealTo };
  }

  async uidOf(brainId: bigint, hotkey: Address): Promise<{ registered: boolean; role: RoleName; uid: number }> {
    const [registered, role, uid] = await this.read("uidOf", () => this.public.readContract({
      address: this.c.NeuronRegistry.address, abi: neuronRegistryAbi, functionName: "uidOf", args: [brainId, hotkey],
    }));
    return { registered, role: role === ROLE.Validator ? "Validator" : "Miner", uid };
  }

  commitOf(brainId: bigint, epoch: bigint, validatorUid: number): Promise<Hex> {
    return this.read("commitOf", () => this.public.readContract({
      address: this.c.Consensus.address, abi: consensusAbi, functionName: "commitOf", args: [brainId, epoch, validatorUid],
    }));
  }

  async settlementState(brainId: bigint): Promise<{ epoch: bigint; phase: number; settledAny: boolean; lastSettledBlock: bigint }> {
    const [s, lastSettledBlock] = await this.read("settlementState", () => this.public.readContract({
      address: this.c.Consensus.address, abi: consensusAbi, functionName: "settlementState", args: [brainId],
    }));
    return { epoch: s.epoch, phase: s.phase, settledAny: s.settledAny, lastSettledBlock };
  }

  /** A whole Brain (metadata, limits, every neuron with stake and scores) in one call through CerberusLens. */
  async brain(brainId: bigint): Promise<BrainSnapshot> {
    const b = await this.read("brainView", () => getBrain(this.reader, brainId));
    const dialable = (n: Neuron): AgentNeuron => ({ ...n, multiaddrs: parseMultiaddrs(n.multiaddrs) });
    return { ...b, miners: b.miners.map(dialable), validators: b.validators.map(dialable) };
  }

  positionOf(staker: Address, hotkey: Address): Promise<readonly [bigint, bigint]> {
    return this.read("positionOf", () => this.public.readContract({
      address: this.c.Staking.address, abi: stakingAbi, functionName: "positionOf", args: [staker, hotkey],
    }));
  }

  /**
   * What the settlement of `epoch` paid: the EpochSettled totals and each validator hotkey's dividends (from
   * Staking's RewardsDistributed in the same transaction). Searches logs from `fromBlock`.
   */
  async epochPayouts(brainId: bigint, epoch: bigint, fromBlock: bigint): Promise<EpochPayouts | undefined> {
    const settled = await this.read("EpochSettled", () => this.public.getContractEvents({
      address: this.c.Consensus.address, abi: consensusAbi, eventName: "EpochSettled", args: { brainId, epoch },
      fromBlock, toBlock: "latest",
    }));
    const last = settled.at(-1);
    if (last === undefined) return undefined;
    const distributed = await this.read("RewardsDistributed", () => this.public.getContractEvents({
      address: this.c.Staking.address, abi: stakingAbi, eventName: "RewardsDistributed",
      fromBlock: last.blockNumber, toBlock: last.blockNumber,
    }));
    const validatorRewards = new Map<Address, bigint>();
    for (const e of distributed) {
      if (e.transactionHash !== last.transactionHash) continue;
      validatorRewards.set(e.args.hotkey!, (validatorRewards.get(e.args.hotkey!) ?? 0n) + e.args.amount!);
    }
    const a = last.args;
    return { emission: a.emission!, minerPaid: a.minerPaid!, validatorPaid: a.validatorPaid!, ownerPaid: a.ownerPaid!,
      block: last.blockNumber, validatorRewards };
  }

  /** The block of `epoch`'s EpochSettled (searching from `fromBlock`), or undefined if it never settled. */
  async epochSettledBlock(brainId: bigint, epoch: bigint, fromBlock: bigint): Promise<bigint | undefined> {
    const settled = await this.read("EpochSettled", () => this.public.getContractEvents({
      address: this.c.Consensus.address, abi: consensusAbi, eventName: "EpochSettled", args: { brainId, epoch },
      fromBlock, toBlock: "latest",
    }));
    return settled.at(-1)?.blockNumber ?? undefined;
  }

  /** Whether any validator revealed weights for `epoch` (WeightsRevealed, searching from `fromBlock`). */
  async anyReveal(brainId: bigint, epoch: bigint, fromBlock: bigint): Promise<boolean> {
    const revealed = await this.read("WeightsRevealed", () => this.public.getContractEvents({
      address: this.c.Consensus.address, abi: consensusAbi, eventName: "WeightsRevealed", args: { brainId, epoch },
      fromBlock, toBlock: "latest",
    }));
    return revealed.length > 0;
  }

  /** A hotkey's total stake, its take (basis points) and its unclaimed commission. */
  hotkeyInfo(hotkey: Address): Promise<readonly [bigint, number, bigint]> {
    return this.read("hotkeyInfo", () => this.public.readContract({
      address: this.c.Staking.address, abi: stakingAbi, functionName: "hotkeyInfo", args: [hotkey],
    }));
  }

  /** A hotkey's take in force (bps), the scheduled take (= in force if none) and the block it applies from (0 = none):
   *  raises wait max(one epoch of the validator's Brain, Staking.minTakeDelay) blocks. */
  async takeInfo(hotkey: Address): Promise<{ takeBps: number; pendingTakeBps: number; effectiveBlock: bigint }> {
    const [takeBps, pendingTakeBps, effectiveBlock] = await this.read("takeInfo", () => this.public.readContract({
      address: this.c.Staking.address, abi: stakingAbi, functionName: "takeInfo", args: [hotkey],
    }));
    return { takeBps, pendingTakeBps, effectiveBlock: BigInt(effectiveBlock) };
  }

  /** CBR that `receipt`'s transaction moved into this client's account (the token's Transfer events to it). */
  received(receipt: TransactionReceipt): bigint {
    const token = this.c.CerberusToken.address.toLowerCase();
    const me = this.address.toLowerCase();
    return parseEventLogs({ abi: cerberusTokenAbi, eventName: "Transfer", logs: receipt.logs })
      .filter((log) => log.address.toLowerCase() === token && log.args.to.toLowerCase() === me)
      .reduce((sum, log) => sum + log.args.value, 0n);
  }

  // ─────────────── writes ───────────────

  /**
   * A call that spends `amount` of the caller's CBR through `spender`'s allowance (a stake, a Brain's fee): checked
   * against the balance and simulated before anything is approved, the approval exactly `amount`, and put back if
   * the call fails anyway — a refused stake leaves no allowance behind (sdk `withExactApproval`).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async spend(name: string, spender: Address, amount: bigint, request: any): Promise<{ receipt: TransactionReceipt; result: unknown }> {
    const token = this.c.CerberusToken.address;
    const { result } = await withExactApproval(name, amount, {
      balance: () => this.balanceOf(this.address),
      allowance: () => this.read("allowance", () => this.public.readContract({
        address: token, abi: cerberusTokenAbi, functionName: "allowance", args: [this.address, spender],
      })),
      simulate: async () => { await this.retry(name, () => this.simulate(name, request)); },
      isShortAllowance: (err) => err instanceof ChainRevertError && err.errorName === "ERC20InsufficientAllowance",
      approve: async (value) => {
        await this.write("approve", { address: token, abi: cerberusTokenAbi, functionName: "approve", args: [spender, value] });
      },
      call: () => this.write(name, request),
    });
    return result;
  }

  transfer(to: Address, amount: bigint): Promise<TransactionReceipt> {
    return this.send("transfer", { address: this.c.CerberusToken.address, abi: cerberusTokenAbi, functionName: "transfer", args: [to, amount] });
  }

  /** Mints a Brain (burning the current registration price) and returns its id. */
  async mintBrain(args: { modelHash: Hex; fheParamsHash: Hex; uri: string; tempo: number; limits: BrainLimits }): Promise<bigint> {
    const fee = await this.read("registrationPrice", () => this.public.readContract({
      address: this.c.BrainRegistry.address, abi: brainRegistryAbi, functionName: "registrationPrice",
    }));
    const { result } = await this.spend("mintBrain", this.c.BrainRegistry.address, fee, {
      address: this.c.BrainRegistry.address, abi: brainRegistryAbi, functionName: "mintBrain",
      args: [args.modelHash, args.fheParamsHash, args.uri, args.tempo, args.limits],
    });
    return result as bigint;
  }

  /** Stakes `amount` CBR on `hotkey` (own stake when hotkey is the caller, delegation otherwise). */
  async stake(hotkey: Address, amount: bigint): Promise<TransactionReceipt> {
    return (await this.spend("stake", this.c.Staking.address, amount,
      { address: this.c.Staking.address, abi: stakingAbi, functionName: "stake", args: [hotkey, amount] })).receipt;
  }

  unstake(hotkey: Address, amount: bigint): Promise<TransactionReceipt> {
    return this.send("unstake", { address: this.c.Staking.address, abi: stakingAbi, functionName: "unstake", args: [hotkey, amount] });
  }

  withdraw(): Promise<TransactionReceipt> {
    return this.send("withdraw", { address: this.c.Staking.address, abi: stakingAbi, functionName: "withdraw" });
  }

  claimRewards(hotkey: Address): Promise<TransactionReceipt> {
    return this.send("claimRewards", { address: this.c.Staking.address, abi: stakingAbi, functionName: "claimRewards", args: [hotkey] });
  }

  claimCommission(): Promise<TransactionReceipt> {
    return this.send("claimCommission", { address: this.c.Staking.address, abi: stakingAbi, functionName: "claimCommission" });
  }

  /** Lowers the caller's take at once, or schedules a raise (validators only; see `takeInfo`). */
  setTake(takeBps: number): Promise<TransactionReceipt> {
    return this.send("setTake", { address: this.c.Staking.address, abi: stakingAbi, functionName: "setTake", args: [takeBps] });
  }

  /** Rewards of miner seats the caller no longer holds (deregistered or pruned). */
  claimRemoved(): Promise<TransactionReceipt> {
    return this.send("claimRemoved", { address: this.c.Consensus.address, abi: consensusAbi, functionName: "claimRemoved" });
  }

  /** Frees the caller's seat in `brainId`. */
  deregister(brainId: bigint): Promise<TransactionReceipt> {
    return this.send("deregister", {
      address: this.c.NeuronRegistry.address, abi: neuronRegistryAbi, functionName: "deregister", args: [brainId],
    });
  }

  /** The staker's aggregated unbonding amount and the block it is released at. */
  async unbonding(staker: Address): Promise<{ amount: bigint; releaseBlock: bigint }> {
    const [amount, releaseBlock] = await this.read("unbonds", () => this.public.readContract({
      address: this.c.Staking.address, abi: stakingAbi, functionName: "unbonds", args: [staker],
    }));
    return { amount, releaseBlock: BigInt(releaseBlock) };
  }

  claimMiner(brainId: bigint, uid: number): Promise<TransactionReceipt> {
    return this.send("claimMiner", { address: this.c.Consensus.address, abi: consensusAbi, functionName: "claimMiner", args: [brainId, uid] });
  }

  /** Registers the caller's hotkey in a Brain; if it is registered already, returns its seat (resume after restart). */
  async register(brainId: bigint, role: RoleName, peer: PeerInfo): Promise<number> {
    const seat = await this.uidOf(brainId, this.address);
    const encoded = encodePeerInfo(peer);
    if (seat.registered) {
      if (seat.role !== role) throw new ChainUnavailableError("ROLE_CONFLICT", `hotkey already registered as ${seat.role}`);
      await this.write("updatePeerInfo", {
        address: this.c.NeuronRegistry.address, abi: neuronRegistryAbi, functionName: "updatePeerInfo",
        args: [brainId, encoded.peerId, encoded.multiaddrs],
      });
      return seat.uid;
    }
    await this.write("register", {
      address: this.c.NeuronRegistry.address, abi: neuronRegistryAbi, functionName: "register",
      args: [brainId, ROLE[role], encoded.peerId, encoded.multiaddrs],
    });
    return (await this.uidOf(brainId, this.address)).uid;
  }

  commit(brainId: bigint, epoch: bigint, hash: Hex): Promise<TransactionReceipt> {
    return this.send("commit", { address: this.c.Consensus.address, abi: consensusAbi, functionName: "commit", args: [brainId, epoch, hash] });
  }

  reveal(brainId: bigint, epoch: bigint, uids: readonly number[], weights: readonly number[], salt: Hex): Promise<TransactionReceipt> {
    return this.send("reveal", {
      address: this.c.Consensus.address, abi: consensusAbi, functionName: "reveal", args: [brainId, epoch, uids, weights, salt],
    });
  }

  /**
   * Runs the settlement of `epoch` to the end; returns the number of transactions and their total gas. The default
   * (256 miner-steps, every seat a Brain can have) settles in one call, the cheapest way (≈ 10M gas at 256 × 32);
   * smaller chunks spread it over several transactions at some extra total gas.
   */
  async settle(brainId: bigint, epoch: bigint, stepsPerTx = 256n): Promise<{ transactions: number; gasUsed: bigint }> {
    let transactions = 0;
    let gasUsed = 0n;
    for (;;) {
      const { receipt, result } = await this.write("settle", {
        address: this.c.Consensus.address, abi: consensusAbi, functionName: "settle", args: [brainId, epoch, stepsPerTx],
      });
      transactions += 1;
      gasUsed += receipt.gasUsed;
      if (result === true) return { transactions, gasUsed };
    }
  }

  // ─────────────── plumbing ───────────────

  private async read<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.retry(name, async () => {
      try {
        return await fn();
      } catch (err) {
        throw asRevert(err, name) ?? err;
      }
    });
  }

  // viem's generics over (abi, functionName) do not survive a shared helper signature; the public methods above are
  // the typed boundary, and every request they build is checked by viem against the `as const` ABI at that point.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async simulate(name: string, request: any): Promise<{ result: unknown; request: unknown }> {
    try {
      return await this.public.simulateContract({ ...request, account: this.account });
    } catch (err) {
      throw asRevert(err, name) ?? new ChainUnavailableError("RPC_UNAVAILABLE", `${name}: ${(err as Error).message}`, { cause: err });
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async send(name: string, request: any): Promise<TransactionReceipt> {
    return (await this.write(name, request)).receipt;
  }

  /** Simulates (the return value and any revert come from here), sends, and waits for the receipt. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async write(name: string, request: any): Promise<{ receipt: TransactionReceipt; result: unknown }> {
    const wallet = this.wallet;
    if (wallet === undefined) throw new ChainUnavailableError("NO_ACCOUNT", `${name} needs an account`);
    await this.checkSigner();
    const simulated = await this.retry(name, () => this.simulate(name, request)) as { result: unknown; request: Record<string, unknown> };
    const sent = this.sending.then(() =>
      wallet.writeContract({ ...simulated.request, account: this.account, chain: null } as Parameters<WalletClient["writeContract"]>[0]));
    this.sending = sent.catch(() => undefined);
    let hash: Hex;
    try {
      hash = await sent;
    } catch (err) {
      if (isUnknownAccount(err)) throw this.notUnlocked(err);
      throw asRevert(err, name) ?? new ChainUnavailableError("RPC_UNAVAILABLE", `${name}: ${(err as Error).message}`, { cause: err });
    }
    const receipt = await this.retry(name, () => this.public.waitForTransactionReceipt({ hash, pollingInterval: 50 }));
    if (receipt.status !== "success") {
      // Mined but reverted (state changed between simulation and inclusion): replay to get the reason.
      throw (await this.simulate(name, request).then(() => undefined, (e: unknown) => e)) ??
        new ChainUnavailableError("REVERTED", `${name} reverted in block ${receipt.blockNumber}`);
    }
    this.log?.debug({ tx: hash, fn: name, gas: receipt.gasUsed.toString() }, "transaction mined");
    return { receipt, result: simulated.result };
  }

  /**
   * An address account signs on the node (eth_sendTransaction): the node must hold it unlocked. Checked once, before
   * the first transaction, so a wrong --account fails at once with its own code instead of as an RPC failure.
   */
  private async checkSigner(): Promise<void> {
    if (typeof this.account !== "string") return;
    const account = this.account;
    const wallet = this.wallet!;
    this.signerChecked ??= this.retry("eth_accounts", () => wallet.getAddresses())
      .then((held) => {
        if (!held.some((a) => a.toLowerCase() === account.toLowerCase())) throw this.notUnlocked();
      });
    this.signerChecked.catch(() => { this.signerChecked = undefined; });
    await this.signerChecked;
  }
  private signerChecked: Promise<void> | undefined;

  private notUnlocked(cause?: unknown): ChainCallerError {
    return new ChainCallerError("ACCOUNT_NOT_UNLOCKED", `the node does not unlock ${this.address}: give an account it ` +
      "holds (--account / CERBERUS_ACCOUNT; `npx hardhat node` prints its accounts) or sign locally with --private-key / " +
      "CERBERUS_PRIVATE_KEY", { cause });
  }

  /** Retries only what can heal by itself (`isTransient`); a revert or a refusal fails at once with its own code. */
  private async retry<T>(name: string, fn: () => Promise<T>): Promise<T> {
    let last: unknown;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isTransient(err)) {
          if (err instanceof CerberusError) throw err;
          throw asRevert(err, name) ?? new ChainUnavailableError("RPC_REFUSED", `${name}: ${shortMessage(err)}`, { cause: err });
        }
        last = err;
        this.log?.warn({ fn: name, attempt, err: (err as Error).message }, "RPC error, retrying");
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
    throw last instanceof ChainUnavailableError ? last
      : new ChainUnavailableError("RPC_UNAVAILABLE", `${name} failed after ${this.attempts} attempts: ${(last as Error)?.message}`, { cause: last });
  }
}

/** viem's one-line summary of an error (its `shortMessage`), else the message. */
function shortMessage(err: unknown): string {
  const short = (err as { shortMessage?: unknown }).shortMessage;
  return typeof short === "string" && short !== "" ? short : err instanceof Error ? err.message : String(err);
}
