// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {
    Role, BrainLimits, IBrainRegistry, IStaking, INeuronRegistry, IConsensus, IEmission
} from "./interfaces/ICerberus.sol";
import {YumaMath} from "./lib/YumaMath.sol";
import {BrainState, Settlement, Stakes, Revealer} from "./lib/ConsensusState.sol";
import {SettlementLib} from "./lib/SettlementLib.sol";

interface IERC20Cap {
    function cap() external view returns (uint256);
}

/// @title Consensus
/// @notice Commit-reveal of validator weights per Brain and epoch, then the Yuma-style settlement in chunks.
/// @dev Epochs: epoch e of a Brain covers blocks [genesis + e·tempo, genesis + (e+1)·tempo). Validators commit for
///      epoch e during epoch e, reveal during the first ⌊tempo/2⌋ blocks of epoch e+1, and anyone may settle epoch e
///      from block genesis + (e+1)·tempo + ⌊tempo/2⌋ on until its expiry, the opening of epoch e+2's reveal window
///      (genesis + (e+3)·tempo), when e's weights start to be overwritten. Epochs settle in increasing order, one at a
///      time per Brain: a later epoch cannot settle while an earlier one with reveals is unsettled and unexpired. Each
///      settlement releases only its own epoch's accrual; what epochs that expired unsettled leave, and what an epoch in
///      which no miner earned leaves, goes back to the emission schedule (Emission.recycle).
///      Commit hash: keccak256(abi.encode(uint256 chainId, address consensus, uint256 brainId, uint256 epoch,
///      address hotkey, uint16 validatorUid, uint16[] uids, uint16[] weights, bytes32 salt)); a seat that changes
///      hands loses its pending commits and reveals. Revealed weights are row-normalized to 65,535 and stored packed (16 uint16 per slot) in a two-epoch
///      ring buffer (epoch parity), so weights must be settled before the reveal window of epoch e+2 opens.
///      Settlement is a state machine advanced by `settle(brainId, epoch, steps)`: phase A (one step per miner:
///      consensus, clipping, ranks, bond EMA, dividend sums), finalization (emission is minted and split, validator
///      dividends are paid into Staking), phase B (one step per miner: incentive payment into the miner ledger).
///      A call that covers all of phase A does phase B from memory in the same call.
///      Bonds are stored packed as 16-bit float lanes (YumaMath._bondRow), a slot of zero bonds coded 0x4000 so that
///      slots never go back to zero (no 20k-gas re-initialization each epoch); the rank scratch and the miner ledger
///      hold value+1 for the same reason.
contract Consensus is IConsensus, Ownable {
    using SafeERC20 for IERC20;

    uint256 private constant GROUPS = 16; // 256 miners / 16 lanes
    uint256 private constant ONES64 = 0x0000000000000001000000000000000100000000000000010000000000000001;
    /// @dev Miner ledger unit: rewards are credited in whole gwei (4 seats per storage slot); the sub-gwei
    ///      remainder of each miner's share is rounding dust and goes to the Brain owner.
    uint256 private constant GWEI = 1e9;

    IERC20 public immutable token;
    IBrainRegistry public immutable brains;
    INeuronRegistry public immutable neurons;
    IStaking public immutable staking;
    IEmission public immutable emission;

    mapping(uint256 brainId => BrainState) private _st;
    /// @notice Rewards of miners whose seat was freed, claimable by their hotkey.
    mapping(address hotkey => uint256) public claimable;

    event WeightsCommitted(uint256 indexed brainId, uint256 indexed epoch, uint16 uid, address indexed hotkey, bytes32 hash);
    event WeightsRevealed(uint256 indexed brainId, uint256 indexed epoch, uint16 uid, address indexed hotkey);
    event SettlementStarted(uint256 indexed brainId, uint256 indexed epoch, uint32 revealedMask);
    event SettlementProgress(uint256 indexed brainId, uint256 indexed epoch, uint8 phase, uint16 cursor);
    event EpochSettled(
        uint256 indexed brainId,
        uint256 indexed epoch,
        uint256 emission,
        uint256 minerPaid,
        uint256 validatorPaid,
        uint256 ownerPaid
    );
    event MinerRewardClaimed(uint256 indexed brainId, uint16 uid, address indexed hotkey, uint256 amount);
    event RemovedRewardClaimed(address indexed hotkey, uint256 amount);
    /// @notice A miner that held seat `uid` through `epoch` and left before its settlement was paid its work for
    ///         that epoch into `claimable[hotkey]`.
    event DepartedMinerPaid(uint256 indexed brainId, uint256 indexed epoch, uint16 uid, address indexed hotkey, uint256 amount);

    error UnknownBrain(uint256 brainId);
    error NotValidator(uint256 brainId, address caller);
    error CommitWindowClosed(uint256 epoch, uint256 currentEpoch);
    error RevealWindowClosed(uint256 epoch, uint256 fromBlock, uint256 toBlock);
    error NoCommit(uint256 epoch, uint16 uid);
    error AlreadyRevealed(uint256 epoch, uint16 uid);
    error CommitMismatch();
    error InvalidWeights();
    error EpochNotSettleable(uint256 epoch, uint256 readyBlock);
    error EpochAlreadySettled(uint256 epoch);
    /// @notice `epoch` can no longer be settled: its expiry block `expiredAt` (= windows(epoch + 2).revealFrom) passed.
    error EpochExpired(uint256 epoch, uint256 expiredAt);
    /// @notice The epoch before has reveals and is neither settled nor expired: settle `epoch` first.
    error EarlierEpochUnsettled(uint256 epoch);
    error SettlementInProgress(uint256 brainId, uint256 epoch);
    error InvalidChunk();
    error NotNeuronRegistry(address caller);
    error NotMinerHotkey(uint256 brainId, uint16 uid, address caller);
    error NothingToClaim();
    error CapTooLarge();

    constructor(IERC20 token_, IBrainRegistry brains_, INeuronRegistry neurons_, IStaking staking_, IEmission emission_)
        Ownable(msg.sender)
    {
        // Bounds that make the packed arithmetic exact: every voting stake sum (< supply) fits the median's 64-bit
        // lanes, and a miner ledger lane (gwei + 1, uint64) can hold the whole supply, so it can never spill.
        if (IERC20Cap(address(token_)).cap() / GWEI >= YumaMath.MAX_STAKE_GWEI) revert CapTooLarge();
        token = token_;
        brains = brains_;
        neurons = neurons_;
        staking = staking_;
        emission = emission_;
    }

    // ───────────────────────────── epochs ─────────────────────────────

    /// @notice The epoch containing `blockNumber` (blocks before genesis count as epoch 0).
    function epochAt(uint256 brainId, uint256 blockNumber) public view returns (uint256) {
        (uint64 g, uint32 t) = brains.timing(brainId);
        return blockNumber <= g ? 0 : (blockNumber - g) / t;
    }

    /// @notice Block windows of epoch `epoch`: commits in [commitFrom, revealFrom), reveals in [revealFrom, revealTo),
    ///         settlement from `revealTo` on.
    function windows(uint256 brainId, uint256 epoch)
        public
        view
        returns (uint256 commitFrom, uint256 revealFrom, uint256 revealTo)
    {
        (uint64 g, uint32 t) = brains.timing(brainId);
        commitFrom = g + epoch * t;
        revealFrom = commitFrom + t;
        revealTo = revealFrom + t / 2;
    }

    // ─────────────────────────── commit / reveal ───────────────────────────

    /// @notice Validator: commits keccak256(abi.encode(uint256 chainId, address consensus, uint256 brainId, uint256
    ///         epoch, address hotkey, uint16 validatorUid, uint16[] uids, uint16[] weights, bytes32 salt)) for the
    ///         current epoch, where hotkey = the committing (and revealing) address and validatorUid its seat. A later
    ///         commit in the same epoch replaces the earlier one.
    function commit(uint256 brainId, uint256 epoch, bytes32 hash) external {
        uint16 uid = _validatorUid(brainId);
        uint256 cur = epochAt(brainId, block.number);
        if (epoch != cur) revert CommitWindowClosed(epoch, cur);
        _st[brainId].commits[epoch][uid] = hash;
        emit WeightsCommitted(brainId, epoch, uid, msg.sender, hash);
    }

    /// @notice Validator: reveals the weights committed for `epoch` during its reveal window (SettlementInProgress while
    ///         a chunked settlement of `epoch − 2`, whose weights share the buffer, is unfinished).
    /// @param uids miner uids, strictly increasing, each < the Brain's maxMiners
    /// @param weights raw uint16 weights (any scale; normalized on-chain), not all zero
    function reveal(uint256 brainId, uint256 epoch, uint16[] calldata uids, uint16[] calldata weights, bytes32 salt)
        external
    {
        uint16 uid = _validatorUid(brainId);
        _checkRevealWindow(brainId, epoch);
        BrainState storage st = _st[brainId];
        bytes32 c = st.commits[epoch][uid];
        if (c == bytes32(0)) revert NoCommit(epoch, uid);
        // epoch − 2 shares the weight buffer: a settlement of it still in progress (begun before its expiry) must end
        // before its weights are overwritten (anyone can finish it with `settle`)
        Settlement storage s = st.s;
        if (s.phase != 0 && s.epoch + 2 == epoch) revert SettlementInProgress(brainId, s.epoch);
        if (st.revealTag[epoch & 1][uid] == epoch + 1) revert AlreadyRevealed(epoch, uid);
        if (_commitHash(brainId, epoch, uid, uids, weights, salt) != c) revert CommitMismatch();
        _storeWeights(st.weights[epoch & 1][uid], brains.limits(brainId).maxMiners, uids, weights);
        st.revealTag[epoch & 1][uid] = uint64(epoch + 1);
        if (st.revealedEpoch[epoch & 1] != epoch + 1) st.revealedEpoch[epoch & 1] = uint64(epoch + 1);
        emit WeightsRevealed(brainId, epoch, uid, msg.sender);
    }

    /// @dev The hash binds the chain, this contract, the Brain, the epoch, the revealing hotkey and its seat, so a
    ///      commit copied from another validator (or another deployment or chain) can never be revealed by the copier.
    function _commitHash(
        uint256 brainId,
        uint256 epoch,
        uint16 uid,
        uint16[] calldata uids,
        uint16[] calldata weights,
        bytes32 salt
    ) private view returns (bytes32) {
        return keccak256(abi.encode(block.chainid, address(this), brainId, epoch, msg.sender, uid, uids, weights, salt));
    }

    function _checkRevealWindow(uint256 brainId, uint256 epoch) private view {
        (, uint256 from, uint256 to) = windows(brainId, epoch);
        if (block.number < from || block.number >= to) revert RevealWindowClosed(epoch, from, to);
    }

    /// @dev Validates a reveal's (uids, weights), normalizes the row to W_ONE and writes it packed.
    function _storeWeights(
        uint256[16] storage row,
        uint256 maxMiners,
        uint16[] calldata uids,
        uint16[] calldata weights
    ) private {
        uint256 n = uids.length;
        if (n == 0 || n != weights.length) revert InvalidWeights();
        uint256 sum;
        for (uint256 k; k < n; ++k) {
            if (uids[k] >= maxMiners || (k != 0 && uids[k] <= uids[k - 1])) revert InvalidWeights();
            sum += weights[k];
        }
        if (sum == 0) revert InvalidWeights();
        uint256[16] memory packed;
        for (uint256 k; k < n; ++k) {
            uint256 u = uids[k];
            packed[u >> 4] |= YumaMath.normalizeWeight(weights[k], sum) << ((u & 15) << 4);
        }
        for (uint256 g; g < GROUPS; ++g) {
            if (row[g] != packed[g]) row[g] = packed[g];
        }
    }

    // ───────────────────────────── settlement ─────────────────────────────

    /// @notice Advances the settlement of `epoch`. Anyone may call. With `steps` ≥ the Brain's maxMiners M the whole
    ///         epoch settles in this call (the cheapest path); with fewer, the call ranks `steps` miners (rounded up to
    ///         whole groups of 16), finalizes after the last group, then pays `steps` miners per call (2·M steps in
    ///         all). A settled epoch reverts EpochAlreadySettled; from its expiry (`windows(e + 2).revealFrom`) on,
    ///         EpochExpired; while the epoch before it has reveals and is neither settled nor expired,
    ///         EarlierEpochUnsettled (settle that one first).
    /// @return done true when the epoch is fully settled by this call
    function settle(uint256 brainId, uint256 epoch, uint256 steps) external returns (bool done) {
        if (!brains.brainExists(brainId)) revert UnknownBrain(brainId);
        if (steps == 0) revert InvalidChunk();
        (,, uint256 ready) = windows(brainId, epoch);
        if (block.number < ready) revert EpochNotSettleable(epoch, ready);
        BrainState storage st = _st[brainId];
        Settlement storage s = st.s;
        uint256 maxMiners = brains.limits(brainId).maxMiners;
        // Work is done in whole groups of 16 miners: `steps` is rounded up to a multiple of 16.
        uint256 budget = ((steps + 15) >> 4) << 4;
        Stakes memory shares;
        if (s.phase != 0) {
            if (s.epoch != epoch) revert SettlementInProgress(brainId, s.epoch);
        } else {
            if (s.settledAny && epoch <= s.epoch) revert EpochAlreadySettled(epoch);
            _checkOrder(brainId, st, epoch);
            // stake shares go to storage only when the ranking phase spans several calls
            shares = _start(brainId, st, epoch, budget < maxMiners);
        }
        if (s.phase == 1) {
            uint256 from = s.cursor;
            uint256 end = _min(from + budget, maxMiners);
            budget -= _min(budget, ((end - from + 15) >> 4) << 4);
            // A call that runs the whole ranking phase keeps the ranks in memory and pays the miners right away
            // (no rank scratch, no payment phase); otherwise ranks go to storage and phase B pays later.
            bool whole = from == 0 && end == maxMiners;
            if (from != 0) shares = _loadStakes(st, s.validatorMask);
            (uint256[32] memory dr, uint256[] memory ranks) =
                SettlementLib.rank(st, from >> 4, (end + 15) >> 4, end == maxMiners, shares);
            s.cursor = uint16(end);
            if (end == maxMiners) {
                _finalize(brainId, st, dr);
                if (whole && s.phase == 2) {
                    _payMiners(brainId, st, 0, maxMiners, ranks);
                    _close(brainId, st);
                    return true;
                }
            }
        }
        if (s.phase == 2 && budget != 0) {
            uint256 end = _min(uint256(s.cursor) + budget, maxMiners);
            _payMiners(brainId, st, s.cursor, end, new uint256[](0));
            s.cursor = uint16(end);
            if (end == maxMiners) {
                _close(brainId, st);
                return true;
            }
        }
        if (s.phase == 0) return true; // finalized with nothing to pay
        emit SettlementProgress(brainId, epoch, s.phase, s.cursor);
        return false;
    }

    /// @dev Settlement order: `epoch` must not have expired, and the epoch before it, if it has reveals and is
    ///      unsettled, must have expired. Accrual before `epoch` that no settlement released (expired or never revealed
    ///      epochs) goes back to the emission schedule.
    function _checkOrder(uint256 brainId, BrainState storage st, uint256 epoch) private {
        (uint64 g, uint32 t) = brains.timing(brainId);
        uint256 start = g + epoch * t;
        uint256 expiry = start + 3 * uint256(t); // windows(epoch + 2).revealFrom
        if (block.number >= expiry) revert EpochExpired(epoch, expiry);
        Settlement storage s = st.s;
        if (epoch == 0 || (s.settledAny && s.epoch + 1 == epoch)) return;
        // the epoch before is unsettled: it must not hold reveals that can still be settled (it expires at start + 2t)
        uint256 prev = epoch - 1;
        if (st.revealedEpoch[prev & 1] == prev + 1 && block.number < expiry - t) revert EarlierEpochUnsettled(prev);
        emission.recycle(brainId, start);
    }

    function _loadStakes(BrainState storage st, uint256 vMask) private view returns (Stakes memory x) {
        for (uint256 i; i < 32; ++i) {
            if (vMask & (1 << i) != 0) {
                x.share[i] = st.stakeShare[i];
                x.vote[i] = st.votingStake[i];
            }
        }
        x.eligible = st.eligibleStake;
        x.unit = st.stakeUnit;
    }

    /// @dev Voting stake of validator seats (docs/PROTOCOL.md "Stake timing"), in whole gwei: the least stake the seat's
    ///      holder had bonded to this Brain from the epoch's first block until now (NeuronRegistry.votingStakes), or, for
    ///      a reveal kept for a hotkey that has left, until it left — so stake added during the epoch neither votes nor
    ///      earns, stake that left at any point counts only as what was left, and a seat taken after the epoch began
    ///      has none. A seat whose voting stake is below the minimum neither votes nor earns either. Eligible seats that
    ///      did not reveal abstain: their stake counts in the median's total.
    function _start(uint256 brainId, BrainState storage st, uint256 epoch, bool store)
        private
        returns (Stakes memory x)
    {
        // the minimum the epoch began with (an owner's change applies only from a later epoch)
        (uint256 epochStart,,) = windows(brainId, epoch);
        uint256 minStake = brains.minValidatorStakeAt(brainId, epochStart);
        Settlement storage s = st.s;
        (uint256 minerMask, uint256 vMask, uint256[32] memory votes) = _seats(brainId, st, epoch);
        uint256 total;
        uint32 revealed;
        uint256 g;
        // unchecked: voting stakes sum below the token cap (< 2^60 gwei)
        unchecked {
            for (uint256 i; i < 32; ++i) {
                if (vMask & (1 << i) == 0) continue;
                uint256 v = votes[i];
                if (v == 0 || v * GWEI < minStake) continue;
                x.eligible += v;
                if (g != 1) g = _gcd(g, v);
                if (st.revealTag[epoch & 1][i] != epoch + 1) continue;
                revealed |= uint32(1 << i);
                x.vote[i] = v;
                total += v;
            }
        }
        for (uint256 i; i < 32; ++i) {
            x.share[i] = YumaMath.stakeShare(x.vote[i], total);
            if (store) {
                if (st.stakeShare[i] != x.share[i]) st.stakeShare[i] = uint64(x.share[i]);
                if (st.votingStake[i] != x.vote[i]) st.votingStake[i] = uint64(x.vote[i]);
            }
        }
        if (g != 0 && x.eligible / g < (1 << 28)) x.unit = g;
        if (store) {
            st.eligibleStake = x.eligible;
            st.stakeUnit = x.unit;
        }
        s.epoch = uint64(epoch);
        s.phase = 1;
        s.cursor = 0;
        s.revealedMask = revealed;
        s.validatorMask = uint32(vMask);
        // A miner seat taken after the epoch began did none of the work revealed for it (seat takeover); a seat whose
        // holder through the epoch has left is ranked and paid to that holder.
        s.minerMask = (minerMask & ~_freshSince(st, epoch)) | st.departedMiners[epoch];
        s.sumRank = 0;
        s.minerPaid = 0;
        s.emission = 0;
        s.validatorPaid = 0;
        s.ownerPaid = 0;
        emit SettlementStarted(brainId, epoch, revealed);
    }

    /// @dev Occupied seats and voting stakes for the settlement of `epoch`: a reveal made by a hotkey that has since left
    ///      its seat votes and earns for that hotkey with the stake recorded when it left (its seat counts as a validator
    ///      seat of the epoch).
    function _seats(uint256 brainId, BrainState storage st, uint256 epoch)
        private
        returns (uint256 minerMask, uint256 vMask, uint256[32] memory votes)
    {
        (minerMask, vMask) = neurons.occupancy(brainId);
        (, votes) = neurons.votingStakes(brainId, epoch);
        uint32 left = _departedRevealers(st, epoch, votes);
        st.departedValidators = left;
        vMask |= left;
    }

    /// @dev End of phase A: mint and split emission, pay validators into Staking, record dividend shares.
    function _finalize(uint256 brainId, BrainState storage st, uint256[32] memory dr) private {
        Settlement storage s = st.s;
        uint256 sumDr;
        for (uint256 i; i < 32; ++i) {
            if ((s.revealedMask >> i) & 1 == 0) dr[i] = 0;
            unchecked {
                sumDr += dr[i]; // each < 2^188 (Σ B·R < 2^128 times a stake < 2^60 gwei)
            }
        }
        // Only the emission accrued up to the end of the settled epoch is released (or recycled): a late settlement
        // must not take the accrual of the epochs after it (and the accrual before it was released or recycled at
        // its start).
        (uint256 epochStart, uint256 epochEnd,) = windows(brainId, s.epoch);
        if (s.sumRank == 0) {
            // no miner earned: the epoch's accrual goes back to the emission schedule
            s.emission = emission.recycle(brainId, epochEnd);
            s.ownerPaid = 0;
            _close(brainId, st);
            return;
        }
        (uint256 total, uint256 minerPool, uint256 validatorPool, uint256 ownerPool) = emission.release(brainId, epochEnd);
        s.emission = total;
        s.minerPool = minerPool;
        s.ownerPaid = ownerPool;
        uint256 paid = _payValidators(brainId, st, validatorPool, dr, sumDr, epochStart);
        s.validatorPaid = paid;
        uint256 dust = validatorPool - paid;
        if (dust != 0) {
            token.safeTransfer(brains.ownerOf(brainId), dust);
            s.ownerPaid += dust;
        }
        s.phase = 2;
        s.cursor = 0;
    }

    /// @dev D_i = validatorPool · DR_i / ΣDR, paid into Staking in one batch; records dividend shares.
    function _payValidators(
        uint256 brainId,
        BrainState storage st,
        uint256 validatorPool,
        uint256[32] memory dr,
        uint256 sumDr,
        uint256 epochStart
    ) private returns (uint256 paid) {
        address[32] memory hk = neurons.validatorHotkeys(brainId);
        uint256 left = st.departedValidators;
        address[] memory hks = new address[](32);
        uint256[] memory amounts = new uint256[](32);
        uint256[2] memory shares;
        for (uint256 i; i < 32; ++i) {
            bool gone = (left >> i) & 1 != 0;
            // dividends go to the hotkey that revealed; the seat's (new) holder shows none
            hks[i] = gone ? st.departedRevealer[st.s.epoch & 1][i].hotkey : hk[i];
            amounts[i] = YumaMath.share(validatorPool, dr[i], sumDr);
            unchecked {
                paid += amounts[i]; // Σ ≤ validatorPool
            }
            if (!gone) shares[i >> 4] |= YumaMath.share(YumaMath.SHARE_ONE, dr[i], sumDr) << ((i & 15) << 4);
        }
        st.dividends[0] = shares[0];
        st.dividends[1] = shares[1];
        if (paid != 0) {
            token.safeTransfer(address(staking), paid);
            // only stake in place when the epoch began shares in its dividends
            staking.distribute(hks, amounts, epochStart);
        }
    }

    /// @dev Pays miners [from, to) (whole groups): pending += minerPool · R_j / ΣR, incentive share for display and
    ///      pruning. Ranks come from `ranks` (same call) or from the rank scratch (chunked settlement).
    function _payMiners(uint256 brainId, BrainState storage st, uint256 from, uint256 to, uint256[] memory ranks)
        private
    {
        Settlement storage s = st.s;
        uint256 pool = s.minerPool;
        uint256 sumRank = s.sumRank;
        uint256 minerMask = s.minerMask;
        uint256 paid = s.minerPaid;
        uint256 departed = st.departedMiners[s.epoch];
        uint256[16] memory r;
        for (uint256 g = from >> 4; (g << 4) < to; ++g) {
            uint256 gone = (departed >> (g << 4)) & 0xffff;
            uint256 occ = (minerMask >> (g << 4)) & 0xffff & ~gone; // seats paid into their ledger lane
            if (occ | gone == 0) {
                st.incentive[g] = 0;
                continue;
            }
            if (ranks.length != 0) {
                // (the single-call path: ranks has 256 entries, g < 16)
                assembly ("memory-safe") {
                    let from_ := add(add(ranks, 0x20), shl(9, g))
                    for { let l := 0 } lt(l, 0x200) { l := add(l, 0x20) } { mstore(add(r, l), mload(add(from_, l))) }
                }
            } else {
                for (uint256 q; q < 4; ++q) {
                    uint256 slot = st.rankScratch[(g << 2) + q];
                    for (uint256 k; k < 4; ++k) {
                        uint256 lane = (slot >> (k << 6)) & type(uint64).max;
                        r[(q << 2) + k] = lane == 0 ? 0 : lane - 1;
                    }
                }
            }
            paid = _payLanes(st, g, occ, r, pool, sumRank, paid);
            if (gone != 0) paid = _payDeparted(brainId, st, g, gone, r, pool, sumRank, paid);
        }
        s.minerPaid = paid;
    }

    /// @dev Seats `occ` of group g: credits their ledger lanes and writes the group's incentive lanes.
    function _payLanes(
        BrainState storage st,
        uint256 g,
        uint256 occ,
        uint256[16] memory r,
        uint256 pool,
        uint256 sumRank,
        uint256 paid
    ) private returns (uint256) {
        uint256[4] memory pend;
        for (uint256 q; q < 4; ++q) {
            if ((occ >> (q << 2)) & 15 != 0) pend[q] = st.minerPending[(g << 2) + q];
        }
        uint256 inc;
        (inc, paid) = _payGroup(r, pend, occ, pool, sumRank, paid);
        for (uint256 q; q < 4; ++q) {
            if ((occ >> (q << 2)) & 15 != 0) st.minerPending[(g << 2) + q] = pend[q];
        }
        st.incentive[g] = inc;
        return paid;
    }

    /// @dev Seats of group g whose holder through the epoch has left: its pay (full wei) goes to `claimable[holder]`.
    function _payDeparted(
        uint256 brainId,
        BrainState storage st,
        uint256 g,
        uint256 gone,
        uint256[16] memory r,
        uint256 pool,
        uint256 sumRank,
        uint256 paid
    ) private returns (uint256) {
        uint256 epoch = st.s.epoch;
        // unchecked: pool·R_j < 2^256 (pool < supply < 2^90, R_j < 2^64) and Σ amount ≤ pool
        unchecked {
            for (uint256 l; l < 16; ++l) {
                if ((gone >> l) & 1 == 0) continue;
                uint256 amount = (pool * r[l]) / sumRank;
                if (amount == 0) continue;
                uint256 uid = (g << 4) + l;
                address hotkey = st.departedMiner[epoch][uid];
                claimable[hotkey] += amount;
                paid += amount;
                emit DepartedMinerPaid(brainId, epoch, uint16(uid), hotkey, amount);
            }
        }
        return paid;
    }

    /// @dev One group of 16 seats: credits the uint64 ledger lanes (gwei + 1) in `pend` and returns the packed
    ///      incentive lanes (share + 1 for seated miners) and the new running total (wei).
    function _payGroup(
        uint256[16] memory r,
        uint256[4] memory pend,
        uint256 occ,
        uint256 pool,
        uint256 sumRank,
        uint256 paid
    ) private pure returns (uint256 inc, uint256) {
        // sumRank > 0 here (checked in _finalize); pool·R_j < 2^256 (pool < 2^90, R_j < 2^64); a lane (gwei + 1) can
        // hold the whole supply (checked at construction), and Σ amount ≤ pool
        assembly ("memory-safe") {
            for { let l := 0 } lt(l, 16) { l := add(l, 1) } {
                if and(shr(l, occ), 1) {
                    let rl := mload(add(r, shl(5, l)))
                    // incentive share 65,535·R_j/ΣR capped at 65,534 (YumaMath.incentiveShare), stored + 1
                    let x := div(mul(65535, rl), sumRank)
                    if gt(x, 65534) { x := 65534 }
                    inc := or(inc, shl(shl(4, l), add(x, 1)))
                    let amount := div(div(mul(pool, rl), sumRank), GWEI)
                    if amount {
                        let ps := shl(6, and(l, 3))
                        let ptr := add(pend, shl(5, shr(2, l)))
                        let slot := mload(ptr)
                        let lane := and(shr(ps, slot), 0xffffffffffffffff)
                        if iszero(lane) { lane := 1 }
                        mstore(ptr, or(and(slot, not(shl(ps, 0xffffffffffffffff))), shl(ps, add(lane, amount))))
                        paid := add(paid, mul(amount, GWEI))
                    }
                }
            }
        }
        return (inc, paid);
    }

    function _close(uint256 brainId, BrainState storage st) private {
        Settlement storage s = st.s;
        if (s.phase == 2) {
            uint256 dust = s.minerPool - s.minerPaid;
            if (dust != 0) {
                token.safeTransfer(brains.ownerOf(brainId), dust);
                s.ownerPaid += dust;
            }
        }
        s.phase = 0;
        s.settledAny = true;
        if (st.bondReset != 0) st.bondReset = 0;
        s.lastSettledBlock = uint64(block.number);
        emit EpochSettled(brainId, s.epoch, s.emission, s.minerPaid, s.validatorPaid, s.ownerPaid);
    }

    // ───────────────────────────── claims ─────────────────────────────

    /// @notice Miner hotkey: withdraws the incentive accrued on its seat `uid`.
    function claimMiner(uint256 brainId, uint16 uid) external returns (uint256 amount) {
        if (neurons.minerHotkey(brainId, uid) != msg.sender) revert NotMinerHotkey(brainId, uid, msg.sender);
        amount = _takePending(_st[brainId], uid);
        if (amount == 0) revert NothingToClaim();
        token.safeTransfer(msg.sender, amount);
        emit MinerRewardClaimed(brainId, uid, msg.sender, amount);
    }

    /// @notice Withdraws rewards of seats the caller no longer holds (moved here on deregistration/pruning).
    function claimRemoved() external returns (uint256 amount) {
        amount = claimable[msg.sender];
        if (amount == 0) revert NothingToClaim();
        claimable[msg.sender] = 0;
        token.safeTransfer(msg.sender, amount);
        emit RemovedRewardClaimed(msg.sender, amount);
    }

    // ───────────────────────────── hooks ─────────────────────────────

    /// @notice NeuronRegistry hook: a seat was taken. Resets the seat's bonds, scores and reveal state.
    function onNeuronAdded(uint256 brainId, Role role, uint16 uid) external {
        BrainState storage st = _checkHook(brainId);
        if (role == Role.Miner) {
            _markFresh(brainId, st, uid);
            uint256 shift = (uint256(uid) & 15) << 4;
            uint256 g = uid >> 4;
            (, uint256 vMask) = neurons.occupancy(brainId);
            for (uint256 i; i < 32; ++i) {
                if (vMask & (1 << i) == 0) continue;
                st.bonds[i][g] = (st.bonds[i][g] & ~(uint256(0xffff) << shift)) | (uint256(0x4000) << shift); // 0
            }
            st.incentive[g] = (st.incentive[g] & ~(uint256(0xffff) << shift)) | (uint256(1) << shift);
            uint256 rs = (uint256(uid) & 3) << 6;
            uint256 rSlot = st.rankScratch[uid >> 2];
            st.rankScratch[uid >> 2] = (rSlot & ~(uint256(type(uint64).max) << rs)) | (uint256(1) << rs);
            uint256 ps = (uint256(uid) & 3) << 6;
            uint256 pSlot = st.minerPending[uid >> 2];
            if ((pSlot >> ps) & type(uint64).max == 0) st.minerPending[uid >> 2] = pSlot | (uint256(1) << ps);
        } else {
            _prime(st.s);
            // The new holder never inherits bonds; while a left holder's reveal is pending its bonds stay until that
            // epoch's settlement (which pays them to it) and are reset then.
            uint256 dv = st.departedV;
            if (((dv | (dv >> 32)) >> uid) & 1 != 0) st.bondReset |= uint32(1 << uid);
            else for (uint256 g; g < GROUPS; ++g) st.bonds[uid][g] = YumaMath.ZERO_BONDS;
            _clearSeatCommits(brainId, st, uid);
            st.dividends[uid >> 4] &= ~(uint256(0xffff) << ((uint256(uid) & 15) << 4));
        }
    }

    /// @notice NeuronRegistry hook: a seat was freed. A miner's pending reward moves to `claimable[hotkey]`, and its
    ///         pay for the unsettled epochs it held the seat through will follow there at their settlement; a
    ///         validator's unsettled reveals are kept and settle for `hotkey`. Its unrevealed commits are dropped.
    function onNeuronRemoved(uint256 brainId, Role role, uint16 uid, address hotkey, uint256[2] calldata lows) external {
        BrainState storage st = _checkHook(brainId);
        if (role == Role.Miner) {
            uint256 amount = _takePending(st, uid);
            if (amount != 0) claimable[hotkey] += amount;
            st.incentive[uid >> 4] &= ~(uint256(0xffff) << ((uint256(uid) & 15) << 4));
            _keepMinerWork(brainId, st, uid, hotkey);
        } else {
            _keepReveals(brainId, st, uid, hotkey, lows);
            _clearSeatCommits(brainId, st, uid);
            st.dividends[uid >> 4] &= ~(uint256(0xffff) << ((uint256(uid) & 15) << 4));
        }
    }

    // ───────────────────────────── views ─────────────────────────────

    /// @notice Incentive share (of 65,535) of every miner seat as of the last settlement.
    function minerIncentives(uint256 brainId) external view returns (uint16[256] memory out) {
        BrainState storage st = _st[brainId];
        for (uint256 j; j < 256; ++j) {
            uint256 lane = (st.incentive[j >> 4] >> ((j & 15) << 4)) & 0xffff;
            unchecked {
                out[j] = lane == 0 ? 0 : uint16(lane - 1);
            }
        }
    }

    /// @notice Dividend share (of 65,535) of every validator seat as of the last settlement.
    function validatorDividends(uint256 brainId) external view returns (uint16[32] memory out) {
        BrainState storage st = _st[brainId];
        for (uint256 i; i < 32; ++i) out[i] = uint16(st.dividends[i >> 4] >> ((i & 15) << 4));
    }

    /// @notice Unclaimed incentive of a miner seat.
    function minerPending(uint256 brainId, uint16 uid) public view returns (uint256) {
        uint256 lane = (_st[brainId].minerPending[uid >> 2] >> ((uint256(uid) & 3) << 6)) & type(uint64).max;
        unchecked {
            return lane == 0 ? 0 : (lane - 1) * GWEI; // lane < 2^64
        }
    }

    /// @notice Bond of validator `vUid` on miner `mUid`, per unit of stake (scale BOND_ONE = 2^24; stored as a 16-bit
    ///         float lane, code = e << 14 | m, bond = m << 4e).
    function bond(uint256 brainId, uint16 vUid, uint16 mUid) external view returns (uint256) {
        uint256 lane = (_st[brainId].bonds[vUid][mUid >> 4] >> ((uint256(mUid) & 15) << 4)) & 0xffff;
        return (lane & 0x3fff) << ((lane >> 14) << 2);
    }

    /// @notice Normalized revealed weight of validator `vUid` on miner `mUid` for `epoch` (0 if not revealed).
    function revealedWeight(uint256 brainId, uint256 epoch, uint16 vUid, uint16 mUid) external view returns (uint256) {
        BrainState storage st = _st[brainId];
        uint256 p = epoch & 1;
        if (st.revealTag[p][vUid] != epoch + 1) return 0;
        return (st.weights[p][vUid][mUid >> 4] >> ((uint256(mUid) & 15) << 4)) & 0xffff;
    }

    /// @notice The commit a validator seat made for `epoch`.
    function commitOf(uint256 brainId, uint256 epoch, uint16 vUid) external view returns (bytes32) {
        return _st[brainId].commits[epoch][vUid];
    }

    /// @inheritdoc IConsensus
    function settlementInProgress(uint256 brainId) external view returns (bool) {
        return _st[brainId].s.phase != 0;
    }

    /// @notice Settlement state: last settled (phase 0) or in-progress epoch, phase, cursor, block of last settlement.
    function settlementState(uint256 brainId) external view returns (Settlement memory s, uint64 lastSettledBlock) {
        return (_st[brainId].s, _st[brainId].s.lastSettledBlock);
    }

    // ───────────────────────────── internals ─────────────────────────────

    function _takePending(BrainState storage st, uint16 uid) private returns (uint256 amount) {
        uint256 ps = (uint256(uid) & 3) << 6;
        uint256 slot = st.minerPending[uid >> 2];
        uint256 lane = (slot >> ps) & type(uint64).max;
        if (lane <= 1) return 0;
        unchecked {
            amount = (lane - 1) * GWEI; // lane < 2^64
        }
        st.minerPending[uid >> 2] = (slot & ~(uint256(type(uint64).max) << ps)) | (uint256(1) << ps);
    }

    /// @dev Before a Brain's first settlement, gives the settlement's per-epoch fields a nonzero placeholder (paid
    ///      for by the first validator registration) so that settlements never pay 20k-gas zero→nonzero writes.
    ///      Every placeholder is overwritten when a settlement starts; phase stays 0 and settledAny false.
    function _prime(Settlement storage s) private {
        if (s.settledAny || s.minerPool != 0) return;
        s.validatorMask = 1;
        s.minerMask = 1;
        s.sumRank = 1;
        s.minerPool = 1;
        s.minerPaid = 1;
        s.emission = 1;
        s.validatorPaid = 1;
        s.ownerPaid = 1;
    }

    /// @dev Records that miner seat `uid` was taken in the current epoch. An entry of the 4-epoch ring that is reused
    ///      while its epoch may still be settled is merged into entry 4 under the later tag: its seats then count as
    ///      taken later than they were (never earlier), so a late settlement can only under-pay them, never pay a
    ///      newcomer.
    function _markFresh(uint256 brainId, BrainState storage st, uint16 uid) private {
        // unchecked: epochs are far below 2^48
        unchecked {
            uint256 cur = epochAt(brainId, block.number);
            uint256 k = cur & 3;
            uint256 tag = st.freshTag[k];
            uint256 bit = uint256(1) << uid;
            if (tag == cur + 1) {
                st.freshMask[k] |= bit;
                return;
            }
            Settlement storage s = st.s;
            if (tag != 0 && (!s.settledAny || tag - 1 > s.epoch)) {
                st.freshMask[4] |= st.freshMask[k];
                if (st.freshTag[4] < tag) st.freshTag[4] = uint48(tag);
            }
            st.freshMask[k] = bit;
            st.freshTag[k] = uint48(cur + 1);
        }
    }

    /// @dev Miner seats taken in epoch `epoch` or later: they get no rank and no pay for `epoch`.
    function _freshSince(BrainState storage st, uint256 epoch) private view returns (uint256 mask) {
        uint48[5] memory tags = st.freshTag;
        for (uint256 k; k < 5; ++k) {
            if (tags[k] > epoch) mask |= st.freshMask[k];
        }
    }

    /// @dev A validator seat that changes hands inherits none of the commits that can still be revealed (this epoch's
    ///      and the previous one's). Reveals are never inherited either: a leaving holder's reveals are kept as its own
    ///      (`_keepReveals`) and a new holder cannot reveal an epoch it did not commit for while holding the seat.
    function _clearSeatCommits(uint256 brainId, BrainState storage st, uint16 uid) private {
        uint256 cur = epochAt(brainId, block.number);
        if (st.commits[cur][uid] != bytes32(0)) st.commits[cur][uid] = bytes32(0);
        if (cur != 0 && st.commits[cur - 1][uid] != bytes32(0)) st.commits[cur - 1][uid] = bytes32(0);
    }

    /// @dev Validator seat `uid` is freed by `hotkey`: each reveal in the seat's buffer for an epoch not yet settled is
    ///      kept for the hotkey that made it (`hotkey`, with the stake it bonded since that epoch began — `lows` for the
    ///      previous epoch and the one before — or an earlier holder whose reveal was kept already); reveals of
    ///      settled epochs are dropped.
    function _keepReveals(uint256 brainId, BrainState storage st, uint16 uid, address hotkey, uint256[2] calldata lows)
        private
    {
        Settlement storage s = st.s;
        uint256 c = epochAt(brainId, block.number);
        for (uint256 p; p < 2; ++p) {
            uint64 tag = st.revealTag[p][uid];
            // (a reveal of a settled or skipped epoch can never count again: left as it is)
            if (tag == 0 || (s.settledAny && tag <= s.epoch + 1)) continue;
            uint64 bit = uint64(uint256(1) << (uid + (p << 5)));
            uint64 dv = st.departedV;
            if (dv & bit != 0 && st.departedRevealer[p][uid].tag == tag) continue; // an earlier holder's, kept
            // a reveal made in this epoch is of the previous one (tag = c); one made in the previous epoch, of c − 2
            uint256 stake = tag == c ? lows[0] : tag + 1 == c ? lows[1] : 0;
            st.departedRevealer[p][uid] = Revealer(hotkey, uint32(tag), uint64(stake));
            st.departedV = dv | bit;
        }
    }

    /// @dev The reveals of `epoch` made by hotkeys that have left their seats: writes their recorded voting stakes into
    ///      `votes` and returns their seats; drops records of epochs up to `epoch` from the parity's mask (settled or
    ///      skipped).
    function _departedRevealers(BrainState storage st, uint256 epoch, uint256[32] memory votes)
        private
        returns (uint32 used)
    {
        uint256 p = epoch & 1;
        uint256 dv = st.departedV;
        uint256 bits = (dv >> (p << 5)) & type(uint32).max;
        if (bits == 0) return 0;
        uint256 keep;
        uint256 tag = epoch + 1;
        for (uint256 i; i < 32; ++i) {
            if ((bits >> i) & 1 == 0) continue;
            Revealer memory r = st.departedRevealer[p][i];
            if (r.tag == tag && st.revealTag[p][i] == tag) {
                votes[i] = r.stake;
                used |= uint32(1 << i);
            } else if (r.tag > tag) {
                keep |= 1 << i;
            }
        }
        st.departedV = uint64((dv & ~(uint256(type(uint32).max) << (p << 5))) | (keep << (p << 5)));
    }

    /// @dev Miner seat `uid` is freed by `hotkey` in epoch d: for every epoch e < d not yet settled (at most the three
    ///      before d, the ones whose reveals can still be in the buffer) that `hotkey` held the seat through — it took
    ///      the seat before e began — the seat's pay for e is recorded for `hotkey`. Epoch d itself, which it left
    ///      during, pays nobody on this seat (its scores mix two holders' work).
    function _keepMinerWork(uint256 brainId, BrainState storage st, uint16 uid, address hotkey) private {
        uint256 d = epochAt(brainId, block.number);
        Settlement storage s = st.s;
        unchecked {
            uint256 first = s.settledAny ? s.epoch + 1 : 0;
            if (d > 3 && d - 3 > first) first = d - 3;
            uint256 bit = uint256(1) << uid;
            for (uint256 e = d; e > first;) {
                --e;
                if (_freshSince(st, e) & bit != 0) break; // taken in e or later: not held through e (nor earlier)
                st.departedMiners[e] |= bit;
                st.departedMiner[e][uid] = hotkey;
            }
        }
    }

    function _checkHook(uint256 brainId) private view returns (BrainState storage st) {
        if (msg.sender != address(neurons)) revert NotNeuronRegistry(msg.sender);
        st = _st[brainId];
        if (st.s.phase != 0) revert SettlementInProgress(brainId, st.s.epoch);
    }

    function _validatorUid(uint256 brainId) private view returns (uint16) {
        (bool ok, Role role, uint16 uid) = neurons.uidOf(brainId, msg.sender);
        if (!ok || role != Role.Validator) revert NotValidator(brainId, msg.sender);
        return uid;
    }

    function _gcd(uint256 a, uint256 b) private pure returns (uint256) {
        assembly ("memory-safe") {
            for {} b {} {
                let r := mod(a, b)
                a := b
                b := r
            }
        }
        return a;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _max(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a : b;
    }
}
