// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IEmission, IBrainRegistry} from "./interfaces/ICerberus.sol";
import {CerberusToken} from "./CerberusToken.sol";

/// @title Emission
/// @notice Block-based emission schedule with halvings and a hard cap, shared by the active Brains in proportion to
///         the stake bonded to their validators, block by block.
/// @dev Schedule: block `genesisBlock + k` (k ≥ 0) emits `initialReward >> floor(k / halvingInterval)`; the sum over
///      all blocks is `emissionCap`.
///
///      Weights. NeuronRegistry reports each Brain's weight (Σ total stake of its validator hotkeys, wei) through
///      `setBrainWeight`; it is kept in whole gwei (w = ⌊weight / 1e9⌋) so that a weight and an accumulator share one
///      storage word. The weight set during block t governs block t's reward (the weight at the end of the block).
///      W = Σ w over active Brains. A block with W = 0 emits nothing (never minted).
///
///      Accumulator. A(b) = Σ over blocks x < b of ⌊reward·PREC / W⌋ per constant-W segment, i.e. reward per gwei of
///      weight scaled by PREC = 1e12. It is stored only where W changes, as OpenZeppelin Checkpoints (Trace208, key =
///      block t, value = A(t) << 64 | W from t on); between checkpoints t_g ≤ b:
///          A(b) = A(t_g) + ⌊(cumulativeSchedule(b) − cumulativeSchedule(t_g))·PREC / W(t_g)⌋   (W = 0: A(t_g)).
///      A Brain's cumulative accrual O_i(b) (scaled by PREC) is w·A piecewise: O_i(b) = O_i(t_k) + w_i(t_k)·(A(b) −
///      A(t_k)) with t_k its last weight change ≤ b. Each Brain's Checkpoints store, at t_k, w_i(t_k) and the offset
///      C_i = O_i(t_k) − w_i(t_k)·A(t_k) taken modulo 2^144 (a two's-complement-style field: O_i(b) = (w_i·A(b) + C_i)
///      mod 2^144 is exact because the true O_i(b) is in [0, 2^144)), so
///          O_i(b) = (w_i(t_k)·A(b) + C_i(t_k)) mod 2^144          — two O(log n) Checkpoints lookups, any b.
///      A weight change reads only the latest checkpoints (O(1)): C' = C + (w_old − w_new)·A(now) mod 2^144.
///      Bounds checked at construction: A ≤ emissionCap·PREC < 2^144 (W ≥ 1 gwei whenever A grows) and the token cap
///      is < 2^64 gwei; W itself is SafeCast to 64 bits.
///
///      Release. Each Brain remembers `consumed` (scaled). `release/recycle(brainId, uptoBlock)` take
///      ⌊(O_i(min(uptoBlock, now)) − consumed) / PREC⌋ wei and add exactly that ×PREC to `consumed`: the accrual of
///      blocks < uptoBlock, and nothing of the blocks after it (they stay for the next settlement). Rounding: each
///      segment's accumulator step is floored, so Σ_i O_i ≤ PREC·(schedule of blocks with W > 0) and at most the
///      schedule is ever minted; a Brain's sub-wei remainder carries to its next release; the per-segment loss is
///      < w_i/PREC wei per Brain.
///
///      Recycling. Accrual that nobody is paid — a settlement in which no miner earned, epochs that expired unsettled,
///      a removed Brain's unreleased accrual — goes back to the schedule (`recycle`, `onBrainRemoved`): the schedule's
///      position is rewound by the whole blocks of reward it amounts to (`scheduleOffset`; block b emits the reward of
///      position b − offset, so halvings come that much later) and is emitted again, by the same weights, to the active
///      Brains; the sub-block remainder waits in `recycleCarry` for the next recycling. So the schedule's sum is still
///      the most ever minted. Each offset change also checkpoints A, so every accumulator segment has one offset. (A
///      stays below 2^144 while the total ever emitted, re-emission included, is below 2^144 / PREC wei: about 10^6 ×
///      the default cap.)
///
///      A released total is split: miners `minerBps`, validators `validatorBps`, and the Brain owner the remainder (so
///      the owner also receives the integer-division dust: the three parts always sum to the total exactly).
///
///      Lifecycle. BrainRegistry adds a Brain at mint (weight 0 until NeuronRegistry reports one) and removes it when it
///      is deregistered: its weight becomes 0 at once and whatever it accrued since its last release is recycled
///      (`BrainRemoved` reports it). The active list (≤ BrainRegistry.MAX_BRAINS entries, one packed word each) gives
///      `pruneCandidate`: the Brain with the lowest low-water weight past an immunity cutoff, where the low-water weight
///      is the least weight the Brain held since the start of the previous `PRUNE_PERIOD`-block period (so parking
///      stake on a Brain for a block does not protect it; weight counts once it has been held for a whole period).
contract Emission is IEmission, Ownable {
    using Checkpoints for Checkpoints.Trace208;

    uint256 private constant PREC = 1e12;
    uint256 private constant GWEI = 1e9;
    uint256 private constant MASK64 = type(uint64).max;
    uint256 private constant MASK144 = (uint256(1) << 144) - 1;
    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_OWNER_BPS = 3_000;
    uint256 public constant MIN_ROLE_BPS = 2_000;
    /// @notice Blocks per prune period: a Brain is pruned by the least weight it held since the start of the previous
    ///         period (a day at 12 s blocks).
    uint256 public constant PRUNE_PERIOD = 7_200;
    uint256 private constant MASK48 = (uint256(1) << 48) - 1;
    /// @dev Low-water weights are kept in units of 2^16 gwei (48 bits hold the whole token cap).
    uint256 private constant LOW_SHIFT = 16;

    /// @dev Per-Brain bookkeeping; one storage word.
    struct BrainAcc {
        uint144 consumed; // O_i already released or recycled (scaled by PREC)
        uint16 index; // position in _active while active
        bool active;
    }

    CerberusToken public immutable token;
    uint256 public immutable initialReward;
    uint256 public immutable halvingInterval;
    uint256 public immutable genesisBlock;
    /// @notice Sum of the whole schedule: the most this contract can ever mint.
    uint256 public immutable emissionCap;
    /// @dev Number of eras that pay anything (the reward halves to 0 after them, or after 256 eras).
    uint256 private immutable _payingEras;

    address public brainRegistry;
    address public consensus;
    address public neurons;

    uint256 public ownerBps = 1_800;
    uint256 public minerBps = 4_100;
    uint256 public validatorBps = 4_100;

    /// @notice Total ever minted by this contract.
    uint256 public totalMinted;
    /// @notice Total ever returned to the schedule (accrual that nobody was paid).
    uint256 public totalRecycled;
    /// @notice Blocks the schedule has been rewound by recycling: block b emits the reward of position b − offset.
    uint256 public scheduleOffset;
    /// @notice Recycled wei not yet rewound (less than one block's reward at the current position); joins the next one.
    uint256 public recycleCarry;

    /// @dev key = block, value = A << 64 | W (see contract NatSpec).
    Checkpoints.Trace208 private _global;
    /// @dev key = block, value = C_i << 64 | w_i (see contract NatSpec).
    mapping(uint256 brainId => Checkpoints.Trace208) private _weights;
    mapping(uint256 brainId => BrainAcc) private _acc;
    /// @dev Active Brains, one word each, from the top: weight w | low-water of the previous period | of the period
    ///      `tag` | tag | addedAt | brainId (48, 48, 48, 32, 48, 32 bits; weights in units of 2^16 gwei).
    uint256[] private _active;
    /// @dev key = block, value = scheduleOffset from that block on (pushed at each recycling, with a checkpoint of A).
    Checkpoints.Trace208 private _offsets;

    event Wired(address brainRegistry, address consensus, address neurons);
    /// @notice `weight` is the Brain's new emission weight in wei, rounded down to whole gwei.
    event BrainWeightChanged(uint256 indexed brainId, uint256 weight);
    event SplitChanged(uint256 ownerBps, uint256 minerBps, uint256 validatorBps);
    event BrainAdded(uint256 indexed brainId, uint256 activeBrains);
    /// @notice A deregistered Brain left emission; `recycled` (its unreleased accrual) went back to the schedule.
    event BrainRemoved(uint256 indexed brainId, uint256 recycled, uint256 activeBrains);
    event Released(
        uint256 indexed brainId, uint256 total, uint256 minerPool, uint256 validatorPool, uint256 ownerPool
    );
    /// @notice `amount` of `brainId`'s accrual went back to the schedule, which was rewound by `blocksRewound` blocks.
    event Recycled(uint256 indexed brainId, uint256 amount, uint256 blocksRewound);

    error AlreadyWired();
    error NotAuthorized(address caller);
    error InvalidSchedule();
    error InvalidSplit();
    error ZeroAddress();
    error BrainNotActive(uint256 brainId);
    error BrainAlreadyAdded(uint256 brainId);

    /// @param initialReward_ reward per block in the first era (wei)
    /// @param halvingInterval_ blocks per era; the reward halves at each era boundary
    constructor(CerberusToken token_, uint256 initialReward_, uint256 halvingInterval_) Ownable(msg.sender) {
        if (initialReward_ == 0 || halvingInterval_ == 0) revert InvalidSchedule();
        token = token_;
        initialReward = initialReward_;
        halvingInterval = halvingInterval_;
        genesisBlock = block.number;
        uint256 cap;
        uint256 era;
        for (; era < 256 && (initialReward_ >> era) != 0; ++era) {
            cap += (initialReward_ >> era) * halvingInterval_;
        }
        emissionCap = cap;
        _payingEras = era;
        // Field widths of the packed checkpoints (see contract NatSpec).
        if (cap > MASK144 / PREC || token_.cap() / GWEI > MASK64) revert InvalidSchedule();
    }

    /// @notice One-time wiring of the three contracts allowed to call in. Owner only.
    function wire(address brainRegistry_, address consensus_, address neurons_) external onlyOwner {
        if (brainRegistry != address(0)) revert AlreadyWired();
        if (brainRegistry_ == address(0) || consensus_ == address(0) || neurons_ == address(0)) revert ZeroAddress();
        brainRegistry = brainRegistry_;
        consensus = consensus_;
        neurons = neurons_;
        emit Wired(brainRegistry_, consensus_, neurons_);
    }

    /// @notice Sets the per-epoch split in basis points (sum 10,000; owner ≤ 30%, miners and validators ≥ 20% each).
    function setSplit(uint256 ownerBps_, uint256 minerBps_, uint256 validatorBps_) external onlyOwner {
        if (
            ownerBps_ + minerBps_ + validatorBps_ != BPS || ownerBps_ > MAX_OWNER_BPS || minerBps_ < MIN_ROLE_BPS
                || validatorBps_ < MIN_ROLE_BPS
        ) revert InvalidSplit();
        ownerBps = ownerBps_;
        minerBps = minerBps_;
        validatorBps = validatorBps_;
        emit SplitChanged(ownerBps_, minerBps_, validatorBps_);
    }

    // ───────────────────────────── hooks ─────────────────────────────

    /// @inheritdoc IEmission
    /// @dev Ignored (no event) for a Brain that is not active — NeuronRegistry keeps reporting while the neurons of a
    ///      deregistered Brain leave. O(1): reads and writes only the latest checkpoints.
    function setBrainWeight(uint256 brainId, uint256 weight) external {
        if (msg.sender != neurons) revert NotAuthorized(msg.sender);
        BrainAcc storage b = _acc[brainId];
        if (!b.active) return;
        uint256 w = SafeCast.toUint64(weight / GWEI);
        if (_setWeight(brainId, b.index, w)) emit BrainWeightChanged(brainId, w * GWEI);
    }

    /// @inheritdoc IEmission
    function onBrainAdded(uint256 brainId) external {
        if (msg.sender != brainRegistry) revert NotAuthorized(msg.sender);
        BrainAcc storage b = _acc[brainId];
        if (b.active || _weights[brainId].length() != 0) revert BrainAlreadyAdded(brainId);
        uint256 n = _active.length;
        b.active = true;
        b.index = uint16(n);
        _active.push(((block.number / PRUNE_PERIOD) << 80) | (block.number << 32) | SafeCast.toUint32(brainId));
        emit BrainAdded(brainId, n + 1);
    }

    /// @inheritdoc IEmission
    function onBrainRemoved(uint256 brainId) external returns (uint256 recycled) {
        if (msg.sender != brainRegistry) revert NotAuthorized(msg.sender);
        BrainAcc storage b = _acc[brainId];
        if (!b.active) revert BrainNotActive(brainId);
        uint256 idx = b.index;
        _setWeight(brainId, idx, 0);
        recycled = _take(b, brainId, block.number);
        _recycle(brainId, recycled);
        b.active = false;
        uint256 last = _active.length - 1;
        if (idx != last) {
            uint256 moved = _active[last];
            _active[idx] = moved;
            _acc[uint32(moved)].index = uint16(idx);
        }
        _active.pop();
        emit BrainRemoved(brainId, recycled, last);
    }

    /// @inheritdoc IEmission
    /// @dev Miner and validator pools are minted to Consensus (which pays them), the owner pool to the Brain owner.
    ///      A Brain that is no longer active releases nothing (its accrual was recycled when it was removed).
    function release(uint256 brainId, uint256 uptoBlock)
        external
        returns (uint256 total, uint256 minerPool, uint256 validatorPool, uint256 ownerPool)
    {
        if (msg.sender != consensus) revert NotAuthorized(msg.sender);
        total = _take(_acc[brainId], brainId, uptoBlock);
        minerPool = (total * minerBps) / BPS;
        validatorPool = (total * validatorBps) / BPS;
        ownerPool = total - minerPool - validatorPool;
        if (total != 0) {
            totalMinted += total;
            token.mint(msg.sender, minerPool + validatorPool);
            if (ownerPool != 0) token.mint(IBrainRegistry(brainRegistry).ownerOf(brainId), ownerPool);
        }
        emit Released(brainId, total, minerPool, validatorPool, ownerPool);
    }

    /// @inheritdoc IEmission
    function recycle(uint256 brainId, uint256 uptoBlock) external returns (uint256 amount) {
        if (msg.sender != consensus) revert NotAuthorized(msg.sender);
        amount = _take(_acc[brainId], brainId, uptoBlock);
        _recycle(brainId, amount);
    }

    // ───────────────────────────── views ─────────────────────────────

    /// @notice Reward of block `blockNumber`: the schedule's reward at its position, the block minus the schedule
    ///         offset in force then (the current offset for blocks to come).
    function rewardAt(uint256 blockNumber) public view returns (uint256) {
        return _rewardAtPosition(blockNumber - _offsetAt(blockNumber));
    }

    /// @notice Total scheduled emission of schedule positions [genesisBlock, blockNumber) (without recycling, position
    ///         = block).
    function cumulativeSchedule(uint256 blockNumber) public view returns (uint256 total) {
        if (blockNumber <= genesisBlock) return 0;
        uint256 n = blockNumber - genesisBlock;
        uint256 fullEras = n / halvingInterval;
        for (uint256 era; era < fullEras && era < 256; ++era) {
            total += (initialReward >> era) * halvingInterval;
        }
        if (fullEras < 256) total += (initialReward >> fullEras) * (n % halvingInterval);
    }

    /// @notice What `release(brainId, uptoBlock)` would take now: the Brain's unreleased accrual of blocks
    ///         < min(uptoBlock, current block).
    function releasable(uint256 brainId, uint256 uptoBlock) public view returns (uint256) {
        BrainAcc storage b = _acc[brainId];
        if (!b.active) return 0;
        uint256 owed = _owed(brainId, _min(uptoBlock, block.number));
        uint256 c = b.consumed;
        return owed > c ? (owed - c) / PREC : 0;
    }

    /// @notice What `brainId` would receive if it were released up to the current block.
    function pendingEmission(uint256 brainId) external view returns (uint256) {
        return releasable(brainId, block.number);
    }

    /// @notice The Brain's current emission weight (wei, rounded down to whole gwei); 0 once deregistered.
    function brainWeight(uint256 brainId) external view returns (uint256) {
        return (uint256(_weights[brainId].latest()) & MASK64) * GWEI;
    }

    /// @notice The Brain's emission weight in effect for block `blockNumber` (wei, whole gwei).
    function brainWeightAt(uint256 brainId, uint256 blockNumber) external view returns (uint256) {
        return (uint256(_weights[brainId].upperLookupRecent(SafeCast.toUint48(blockNumber))) & MASK64) * GWEI;
    }

    /// @notice Sum of the active Brains' weights (wei, whole gwei): a Brain's share of each block's reward is
    ///         brainWeight / totalWeight.
    function totalWeight() external view returns (uint256) {
        return (uint256(_global.latest()) & MASK64) * GWEI;
    }

    /// @notice Number of Brains sharing emission.
    function activeBrains() external view returns (uint256) {
        return _active.length;
    }

    /// @notice True while `brainId` shares emission (minted and not deregistered).
    function isActive(uint256 brainId) external view returns (bool) {
        return _acc[brainId].active;
    }

    /// @inheritdoc IEmission
    /// @dev Scans the active list (≤ 1,024 words, one SLOAD each): the numeric minimum of (low-water weight, addedAt,
    ///      brainId) is the lowest low-water weight, then the oldest, then the lowest id.
    function pruneCandidate(uint256 addedBy) external view returns (bool found, uint256 brainId) {
        uint256 n = _active.length;
        uint256 q = block.number / PRUNE_PERIOD;
        uint256 best = type(uint256).max;
        for (uint256 k; k < n; ++k) {
            uint256 e = _active[k];
            if (((e >> 32) & MASK48) > addedBy) continue;
            uint256 key = (_lowWater(e, q) << 80) | (e & ((uint256(1) << 80) - 1));
            if (key < best) best = key;
        }
        if (best != type(uint256).max) return (true, uint32(best));
    }

    /// @notice The weight `brainId` is pruned by (wei, in steps of 2^16 gwei): the least weight it held since the start
    ///         of the previous `PRUNE_PERIOD`-block period; 0 for a Brain that is not active.
    function pruneWeight(uint256 brainId) external view returns (uint256) {
        BrainAcc storage b = _acc[brainId];
        if (!b.active) return 0;
        return (_lowWater(_active[b.index], block.number / PRUNE_PERIOD) << LOW_SHIFT) * GWEI;
    }

    // ───────────────────────────── internals ─────────────────────────────

    /// @dev Moves brainId's weight to `w` (gwei) at the current block; false if it was already `w`.
    function _setWeight(uint256 brainId, uint256 index, uint256 w) private returns (bool) {
        Checkpoints.Trace208 storage h = _weights[brainId];
        uint256 v = h.latest();
        uint256 wOld = v & MASK64;
        if (wOld == w) return false;
        (uint256 a, uint256 total) = _accNow();
        uint256 c;
        unchecked {
            // C' = O(now) − w·A(now) = C + (w_old − w)·A(now)  (mod 2^144; products < 2^208)
            c = ((v >> 64) + wOld * a - w * a) & MASK144;
        }
        uint48 now_ = SafeCast.toUint48(block.number);
        h.push(now_, uint208((c << 64) | w));
        _global.push(now_, uint208((a << 64) | SafeCast.toUint64(total - wOld + w)));
        _active[index] = _lowered(_active[index], wOld >> LOW_SHIFT, w >> LOW_SHIFT, block.number / PRUNE_PERIOD);
        return true;
    }

    /// @dev Takes ⌊(O_i(min(upto, now)) − consumed)/PREC⌋ wei off the Brain's accrual; 0 for an inactive Brain.
    function _take(BrainAcc storage b, uint256 brainId, uint256 upto) private returns (uint256 amount) {
        if (!b.active) return 0;
        uint256 owed = _owed(brainId, _min(upto, block.number));
        uint256 c = b.consumed;
        if (owed <= c) return 0;
        amount = (owed - c) / PREC;
        b.consumed = uint144(c + amount * PREC);
    }

    /// @dev O_i(blockNumber), blockNumber ≤ now.
    function _owed(uint256 brainId, uint256 blockNumber) private view returns (uint256) {
        uint256 v = _weights[brainId].upperLookupRecent(SafeCast.toUint48(blockNumber));
        uint256 w = v & MASK64;
        if (w == 0) return v >> 64;
        unchecked {
            return (w * _accAt(blockNumber) + (v >> 64)) & MASK144;
        }
    }

    /// @dev A(now) and the current W.
    function _accNow() private view returns (uint256 a, uint256 total) {
        (bool exists, uint48 key, uint208 v) = _global.latestCheckpoint();
        if (!exists) return (0, 0);
        return (_extend(key, v, block.number, scheduleOffset), uint256(v) & MASK64);
    }

    /// @dev A(blockNumber), blockNumber ≤ now: the latest global checkpoint at or before it, extended over the blocks
    ///      since. OpenZeppelin's lookups return only the value; the segment start is needed too, so the search over
    ///      the same Checkpoints storage is done here (latest first: settlements look up recent blocks).
    function _accAt(uint256 blockNumber) private view returns (uint256) {
        uint256 len = _global.length();
        if (len == 0) return 0;
        Checkpoints.Checkpoint208 memory c = _global.at(uint32(len - 1));
        if (c._key > blockNumber) {
            uint256 lo;
            uint256 hi = len - 1; // invariant: key(hi) > blockNumber; answer = last index with key ≤ blockNumber
            while (lo < hi) {
                uint256 mid = (lo + hi) >> 1;
                if (_global.at(uint32(mid))._key > blockNumber) hi = mid;
                else lo = mid + 1;
            }
            if (lo == 0) return 0;
            c = _global.at(uint32(lo - 1));
        }
        return _extend(c._key, c._value, blockNumber, _offsetAt(c._key));
    }

    /// @dev A(blockNumber) from the checkpoint at `key` (value `v`), over blocks whose schedule offset is `offset`.
    function _extend(uint256 key, uint256 v, uint256 blockNumber, uint256 offset) private view returns (uint256 a) {
        a = v >> 64;
        uint256 total = v & MASK64;
        if (total != 0 && blockNumber > key) {
            a += ((cumulativeSchedule(blockNumber - offset) - cumulativeSchedule(key - offset)) * PREC) / total;
        }
    }

    /// @dev The schedule offset in force at block `blockNumber` (the current one for blocks to come).
    function _offsetAt(uint256 blockNumber) private view returns (uint256) {
        if (blockNumber >= block.number) return scheduleOffset;
        return _offsets.upperLookupRecent(SafeCast.toUint48(blockNumber));
    }

    /// @dev The schedule's reward at position `pos`.
    function _rewardAtPosition(uint256 pos) private view returns (uint256) {
        if (pos < genesisBlock) return 0;
        uint256 era = (pos - genesisBlock) / halvingInterval;
        return era >= 256 ? 0 : initialReward >> era;
    }

    /// @dev Returns `amount` (+ the carry) to the schedule: rewinds its position by the whole blocks of reward it buys,
    ///      walking back era by era (an era's blocks pay its reward; the positions past the last paying era, which pay
    ///      nothing, are passed over at once, so the walk takes at most 256 steps), and keeps the remainder as the
    ///      carry. The offset change starts a new accumulator segment at this block.
    function _recycle(uint256 brainId, uint256 amount) private {
        if (amount == 0) return;
        totalRecycled += amount;
        uint256 x = amount + recycleCarry;
        uint256 offset = scheduleOffset;
        uint256 pos = block.number - offset;
        uint256 g = genesisBlock;
        uint256 h = halvingInterval;
        uint256 d;
        // positions past the paying eras emit nothing: rewind over them at once (then ≤ 256 eras, one step each)
        uint256 payingEnd = g + _payingEras * h;
        if (pos > payingEnd) {
            d = pos - payingEnd;
            pos = payingEnd;
        }
        while (x != 0 && pos > g) {
            uint256 era = (pos - g - 1) / h; // the era of position pos − 1 (< _payingEras: it pays ≥ 1 wei)
            uint256 eraStart = g + era * h;
            uint256 r = initialReward >> era;
            uint256 span = pos - eraStart;
            uint256 n = x / r;
            if (n > span) n = span;
            d += n;
            pos -= n;
            x -= n * r;
            if (n < span) break; // less than one block of this era left
        }
        recycleCarry = x;
        if (d != 0) {
            (uint256 a, uint256 total) = _accNow(); // A of the blocks before this one, under the old offset
            uint48 now_ = SafeCast.toUint48(block.number);
            _global.push(now_, uint208((a << 64) | total));
            scheduleOffset = offset + d;
            _offsets.push(now_, uint208(offset + d));
        }
        emit Recycled(brainId, amount, d);
    }

    /// @dev An active-list word after a weight change from `wOld` to `w` (units of 2^16 gwei) in prune period `q`.
    function _lowered(uint256 e, uint256 wOld, uint256 w, uint256 q) private pure returns (uint256) {
        uint256 tag = (e >> 80) & type(uint32).max;
        uint256 lowCur = (e >> 112) & MASK48;
        uint256 lowPrev = (e >> 160) & MASK48;
        if (q == tag + 1) {
            lowPrev = lowCur;
            lowCur = wOld;
        } else if (q != tag) {
            lowPrev = wOld;
            lowCur = wOld;
        }
        if (w < lowCur) lowCur = w;
        return (w << 208) | (lowPrev << 160) | (lowCur << 112) | (q << 80) | (e & ((uint256(1) << 80) - 1));
    }

    /// @dev The least weight held since the start of period q − 1, from an active-list word.
    function _lowWater(uint256 e, uint256 q) private pure returns (uint256) {
        uint256 tag = (e >> 80) & type(uint32).max;
        uint256 lowCur = (e >> 112) & MASK48;
        if (q == tag) {
            uint256 lowPrev = (e >> 160) & MASK48;
            return lowPrev < lowCur ? lowPrev : lowCur;
        }
        if (q == tag + 1) return lowCur;
        return e >> 208;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
