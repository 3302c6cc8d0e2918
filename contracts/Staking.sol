// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStaking, INeuronRegistry} from "./interfaces/ICerberus.sol";

/// @title Staking
/// @notice CBR staked to a neuron's hotkey. Staking to your own address is "own stake" and needs no registration;
///         staking to another hotkey is delegation and needs that hotkey to hold a validator seat in an active Brain
///         (`NotAValidator`). Unstaking starts an unbonding period (one aggregated unbond per staker: a new unstake
///         adds to it and restarts its clock), then `withdraw`. Validator dividends arrive via `distribute`
///         (Consensus only): the hotkey's take (commission, ≤ 20%) goes to the hotkey's commission balance, the rest to
///         the hotkey's *active* stake (its own stake included) through a reward-per-share accumulator.
///         Warm-up: only stake in place when an epoch began shares in that epoch's dividends — Consensus passes
///         the epoch's first block to `distribute`, and stake made at or after it is *warming* for that epoch (a
///         stake made mid-epoch, or in the block before a settlement, earns nothing from it and shares from the next
///         epoch on). Unstaking takes the position's warming stake first. `totalStake` counts active +
///         warming.
///         Take changes: a decrease applies at once, to epochs not yet settled too; an increase only to epochs that
///         begin once max(one epoch of the hotkey's Brain, `minTakeDelay`) blocks have passed (`takeInfo` shows it),
///         whenever they settle: `distribute` charges the take in force at the epoch's first block.
///         Miner seats lock their Brain's minimum stake out of the hotkey's own stake (NeuronRegistry calls
///         `lockOwnStake`/`unlockOwnStake`); `unstake` cannot dip into it (`StakeLocked`).
/// @dev Accumulator scale 1e18. Warming uses generations: stake made at block b is ready for epochs starting at or
///      after the first epoch start after b of the hotkey's validator Brain (b + 1 without one); stake of the same
///      ready block joins one generation (at most MAX_LIVE_GENS live per hotkey). A distribution for the epoch that
///      began at B first activates the generations ready by B — their word then keeps the accumulator value at that
///      moment — and then computes the increment over the active stake.
///      Positions remember up to two (warming amount, generation) parts and settle lazily. Bounds only ever delay:
///      a stake that finds its hotkey's MAX_LIVE_GENS generations live joins the newest, which then waits for it; a
///      position with two older warming parts moves the newer one into the new stake's generation.
///      Rewards are tracked as accumulator differences (never `amount · acc` absolute, which could overflow after
///      tiny-stake distributions). The accumulator credits at most what was distributed: the rounding remainder
///      (rounded up) goes to commission.
contract Staking is IStaking, Ownable {
    using SafeERC20 for IERC20;

    uint256 private constant PREC = 1e18;
    uint256 public constant BPS = 10_000;
    uint16 public constant DEFAULT_TAKE_BPS = 1_800;
    uint16 public constant MAX_TAKE_BPS = 2_000;
    /// @dev Live warming generations per hotkey (stake of the last epoch, this epoch and the next, when settlement
    ///      lags by up to one epoch); beyond it the newest generation takes the new stake and waits as long as it.
    uint256 private constant MAX_LIVE_GENS = 3;

    /// @dev Two words, both written by a distribution anyway: (accPerShare, commission) and (total, take, tail, head).
    struct Hotkey {
        // cumulative rewards per active staked wei, scaled by 1e18 (starts at 1); < 2^160 because it grows by at most
        // 1e18 per wei distributed to the hotkey and all that is ever distributed is minted, ≤ the token cap < 2^90
        uint160 accPerShare;
        uint96 commission; // claimable take + rounding remainders, stored + 1 once initialized (see _addCommission)
        uint96 total; // active + warming: all stake on this hotkey (warming = the live generations' amounts)
        uint16 take; // take in bps + 1 for epochs that begin before `nextTakeBlock`; 0 = never set (DEFAULT_TAKE_BPS)
        uint16 nextTake; // raised take in bps + 1 for epochs that begin at or after `nextTakeBlock`; 0 = none
        uint64 nextTakeBlock; // first epoch start block `nextTake` applies to
        uint32 tail; // id of the next generation
        uint32 head; // oldest live generation; the generations below it are active
    }

    struct Position {
        uint128 amount; // all of the staker's stake on the hotkey (active + warming)
        uint96 warming; // part of `amount` in generation `gen`, not active until that generation is
        uint32 gen; // (packed with amount: a stake writes one slot for all three)
        uint256 snap; // accPerShare when the active part was last settled
        uint128 owed; // rewards settled but not claimed
        uint96 warming2; // a second warming part, in a later generation `gen2` (0 = none)
        uint32 gen2;
    }

    struct Unbond {
        uint256 amount;
        uint64 releaseBlock;
    }

    IERC20 public immutable token;
    uint64 public immutable unbondingBlocks;
    /// @notice Minimum delay (blocks) before a take increase applies; the hotkey's Brain tempo applies if longer.
    uint64 public immutable minTakeDelay;
    INeuronRegistry public neurons;
    address public consensus;

    /// @notice Sum of all active stake (excludes unbonding).
    uint256 public totalStaked;
    /// @notice Sum of all amounts currently unbonding.
    uint256 public totalUnbonding;
    mapping(address hotkey => Hotkey) private _hotkeys;
    mapping(address staker => mapping(address hotkey => Position)) private _positions;
    mapping(address staker => Unbond) public unbonds;
    /// @dev Each hotkey's generations of warming stake; live ones are [head, tail), at most MAX_LIVE_GENS, oldest
    ///      first. A live generation's word is amount (bits 0..95) | readyAt << 96: it shares in distributions for
    ///      epochs that start at or after block `readyAt` (nondecreasing along the generations). Once activated, the
    ///      word holds accPerShare just before the distribution that activated it (one slot, written once per stake
    ///      generation and once at activation).
    mapping(address hotkey => mapping(uint256 gen => uint256)) private _gens;
    /// @notice Own stake of each hotkey locked by its miner seats (sum of their Brains' minMinerStake).
    mapping(address hotkey => uint256) public lockedStake;

    event Wired(address neurons, address consensus);
    event Staked(address indexed staker, address indexed hotkey, uint256 amount);
    event Unbonding(address indexed staker, address indexed hotkey, uint256 amount, uint64 releaseBlock);
    event Withdrawn(address indexed staker, uint256 amount);
    /// @notice A take decrease: it applies at once, also to the hotkey's epochs not yet settled.
    event TakeChanged(address indexed hotkey, uint16 takeBps);
    /// @notice A take increase that applies to the epochs beginning at or after `effectiveBlock`.
    event TakeChangeScheduled(address indexed hotkey, uint16 takeBps, uint64 effectiveBlock);
    event RewardsDistributed(address indexed hotkey, uint256 amount, uint256 take);
    event RewardsClaimed(address indexed staker, address indexed hotkey, uint256 amount);
    event CommissionClaimed(address indexed hotkey, uint256 amount);
    event OwnStakeLocked(address indexed hotkey, uint256 amount, uint256 totalLocked);
    event OwnStakeUnlocked(address indexed hotkey, uint256 amount, uint256 totalLocked);

    error AlreadyWired();
    error ZeroAddress();
    error ZeroAmount();
    error NotAValidator(address hotkey);
    error InsufficientStake(uint256 staked, uint256 requested);
    error StakeLocked(address hotkey, uint256 locked, uint256 ownStake);
    error NothingToWithdraw();
    error StillUnbonding(uint64 releaseBlock);
    error NothingToClaim();
    error TakeTooHigh(uint16 takeBps);
    error NotConsensus(address caller);
    error NotNeuronRegistry(address caller);
    error LengthMismatch();

    /// @param minTakeDelay_ least number of blocks between scheduling a take increase and its first use
    constructor(IERC20 token_, uint64 unbondingBlocks_, uint64 minTakeDelay_) Ownable(msg.sender) {
        token = token_;
        unbondingBlocks = unbondingBlocks_;
        minTakeDelay = minTakeDelay_;
    }

    /// @notice One-time wiring (owner): the neuron registry (seats, locks, stake hook) and Consensus (distributor).
    function wire(INeuronRegistry neurons_, address consensus_) external onlyOwner {
        if (address(neurons) != address(0)) revert AlreadyWired();
        if (address(neurons_) == address(0) || consensus_ == address(0)) revert ZeroAddress();
        neurons = neurons_;
        consensus = consensus_;
        emit Wired(address(neurons_), consensus_);
    }

    /// @notice Stakes `amount` CBR (approve first) on `hotkey`. Own stake if hotkey == msg.sender, else delegation,
    ///         which needs `hotkey` to hold a validator seat in an active Brain. The stake warms up: it shares only in
    ///         the distributions of epochs that begin after it was made (of the hotkey's validator Brain).
    function stake(address hotkey, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 brainId = neurons.validatorBrainOf(hotkey);
        if (hotkey != msg.sender && brainId == 0) revert NotAValidator(hotkey);
        token.safeTransferFrom(msg.sender, address(this), amount);
        Hotkey storage h = _hotkeys[hotkey];
        uint256 acc = h.accPerShare;
        if (acc == 0) {
            // Pre-initialize the hotkey's reward slots so that settlements never pay 20k-gas zero→nonzero writes:
            // an accumulator offset of 1 (1e-18 per staked wei) and the commission sentinel.
            h.accPerShare = 1;
            acc = 1;
            if (h.commission == 0) h.commission = 1;
        }
        uint96 a = SafeCast.toUint96(amount);
        uint32 gen = _warm(h, hotkey, a, _readyAt(brainId), brainId != 0);
        Position storage p = _positions[msg.sender][hotkey];
        _settle(p, hotkey, acc, h.head);
        _addWarming(p, hotkey, a, gen);
        p.amount += a;
        uint256 total = h.total + amount;
        h.total = SafeCast.toUint96(total);
        totalStaked += amount;
        emit Staked(msg.sender, hotkey, amount);
        neurons.onStakeChanged(hotkey, total);
    }

    /// @notice Moves `amount` of the caller's stake on `hotkey` into unbonding; withdrawable after `unbondingBlocks`.
    ///         Warming stake is taken first. A hotkey's own stake locked by its miner seats cannot be unstaked.
    function unstake(address hotkey, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Hotkey storage h = _hotkeys[hotkey];
        Position storage p = _positions[msg.sender][hotkey];
        uint256 have = p.amount;
        if (have < amount) revert InsufficientStake(have, amount);
        if (hotkey == msg.sender) {
            uint256 locked = lockedStake[hotkey];
            if (have - amount < locked) revert StakeLocked(hotkey, locked, have);
        }
        _settle(p, hotkey, h.accPerShare, h.head);
        // warming stake goes first, the newest first; after _settle both parts are in live generations
        uint256 left = amount;
        uint96 w2 = p.warming2;
        if (w2 != 0) {
            uint96 x = left < w2 ? uint96(left) : w2;
            _gens[hotkey][p.gen2] -= x; // amount is the word's low part, ≥ x
            p.warming2 = w2 - x;
            left -= x;
        }
        uint96 w1 = p.warming;
        if (w1 != 0 && left != 0) {
            uint96 x = left < w1 ? uint96(left) : w1;
            _gens[hotkey][p.gen] -= x;
            p.warming = w1 - x;
            left -= x;
            if (p.warming == 0 && p.warming2 != 0) _promote(p);
        }
        p.amount = uint128(have - amount);
        uint256 total = h.total - amount;
        h.total = uint96(total);
        totalStaked -= amount;
        Unbond storage u = unbonds[msg.sender];
        u.amount += amount;
        u.releaseBlock = uint64(block.number) + unbondingBlocks;
        totalUnbonding += amount;
        emit Unbonding(msg.sender, hotkey, amount, u.releaseBlock);
        neurons.onStakeChanged(hotkey, total);
    }

    /// @notice Withdraws the caller's whole unbonded amount once its release block is reached.
    function withdraw() external {
        Unbond storage u = unbonds[msg.sender];
        uint256 amount = u.amount;
        if (amount == 0) revert NothingToWithdraw();
        if (block.number < u.releaseBlock) revert StillUnbonding(u.releaseBlock);
        u.amount = 0;
        totalUnbonding -= amount;
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    /// @notice Sets the caller's (hotkey's) take on dividends, in basis points, at most 2,000 (20%). A value at or
    ///         below the take for an epoch beginning now applies at once, also to epochs not yet settled (and cancels
    ///         a scheduled raise); a higher one is scheduled and applies to the epochs that begin at or after
    ///         max(tempo of the caller's validator Brain, `minTakeDelay`) blocks from now, whenever they settle — only
    ///         a validator can raise its take (`NotAValidator`). A new raise replaces a scheduled one and restarts the
    ///         delay. If an earlier raise had come into force less than three delays ago (an epoch begun before it may
    ///         still be unsettled), the epochs before the new raise are charged the take from before the earlier one
    ///         (never more than delegators saw announced); after that, the earlier raise's take.
    function setTake(uint16 takeBps) external {
        if (takeBps > MAX_TAKE_BPS) revert TakeTooHigh(takeBps);
        Hotkey storage h = _hotkeys[msg.sender];
        uint16 old = h.take == 0 ? DEFAULT_TAKE_BPS : h.take - 1;
        bool matured = h.nextTake != 0 && block.number >= h.nextTakeBlock;
        uint16 current = matured ? h.nextTake - 1 : old;
        if (takeBps <= current) {
            h.take = (takeBps < old ? takeBps : old) + 1;
            if (matured) {
                h.nextTake = takeBps + 1;
            } else {
                h.nextTake = 0;
                h.nextTakeBlock = 0;
            }
            emit TakeChanged(msg.sender, takeBps);
            return;
        }
        uint256 brainId = neurons.validatorBrainOf(msg.sender);
        if (brainId == 0) revert NotAValidator(msg.sender);
        (, uint32 tempo) = neurons.brains().timing(brainId);
        uint64 delay = tempo > minTakeDelay ? tempo : minTakeDelay;
        uint64 effective = uint64(block.number) + delay;
        // the earlier raise becomes the take for the epochs before the new one once no epoch begun before it can still
        // be settled (epochs expire 3 tempos after they begin); until then they keep the take from before it
        if (matured && block.number >= uint256(h.nextTakeBlock) + 3 * uint256(delay)) old = current;
        h.take = old + 1;
        h.nextTake = takeBps + 1;
        h.nextTakeBlock = effective;
        emit TakeChangeScheduled(msg.sender, takeBps, effective);
    }

    /// @notice Pays the caller's accrued rewards from its stake on `hotkey`.
    function claimRewards(address hotkey) external returns (uint256 amount) {
        Hotkey storage h = _hotkeys[hotkey];
        Position storage p = _positions[msg.sender][hotkey];
        _settle(p, hotkey, h.accPerShare, h.head);
        amount = p.owed;
        if (amount == 0) revert NothingToClaim();
        p.owed = 0;
        token.safeTransfer(msg.sender, amount);
        emit RewardsClaimed(msg.sender, hotkey, amount);
    }

    /// @notice Pays the caller's (hotkey's) accumulated take.
    function claimCommission() external returns (uint256 amount) {
        Hotkey storage h = _hotkeys[msg.sender];
        uint256 c = h.commission;
        if (c <= 1) revert NothingToClaim();
        amount = c - 1;
        h.commission = 1;
        token.safeTransfer(msg.sender, amount);
        emit CommissionClaimed(msg.sender, amount);
    }

    /// @notice Consensus only: credits validator dividends of the epoch that began at block `epochStart`, already
    ///         transferred to this contract. First, each listed hotkey's warming stake made before `epochStart` becomes
    ///         active (amount 0 included; address 0 is skipped); only active stake shares in the amount.
    function distribute(address[] calldata hotkeys, uint256[] calldata amounts, uint256 epochStart) external {
        if (msg.sender != consensus) revert NotConsensus(msg.sender);
        if (hotkeys.length != amounts.length) revert LengthMismatch();
        for (uint256 k; k < hotkeys.length; ++k) {
            address hk = hotkeys[k];
            if (hk == address(0)) continue;
            Hotkey storage h = _hotkeys[hk];
            uint256 amount = amounts[k];
            uint256 warming;
            if (h.tail != h.head) warming = _activate(h, hk, epochStart);
            if (amount != 0) {
                // the take in force when the epoch began (a raise applies only to epochs begun after its delay)
                uint256 take = (amount * _takeAt(h, epochStart)) / BPS;
                uint256 rest = amount - take;
                uint256 active = h.total - warming;
                if (active == 0) {
                    _addCommission(h, amount);
                } else {
                    uint256 inc = (rest * PREC) / active;
                    h.accPerShare += uint160(inc); // bounded: see Hotkey
                    // round the credited part up so positions can never be owed more than was distributed
                    _addCommission(h, take + rest - (inc * active + PREC - 1) / PREC);
                }
                emit RewardsDistributed(hk, amount, take);
            }
        }
    }

    /// @dev Activates `hk`'s live generations ready for the epoch that began at `epochStart` and returns the stake of
    ///      those still warming (at most MAX_LIVE_GENS words read).
    function _activate(Hotkey storage h, address hk, uint256 epochStart) private returns (uint256 warming) {
        uint32 head = h.head;
        uint32 tail = h.tail;
        uint256 acc = h.accPerShare;
        uint32 g = head;
        for (; g != tail; ++g) {
            uint256 word = _gens[hk][g];
            if (word >> 96 > epochStart) {
                warming += uint96(word);
                for (uint32 n = g + 1; n != tail; ++n) warming += uint96(_gens[hk][n]);
                break;
            }
            _gens[hk][g] = acc;
        }
        if (g != head) h.head = g;
    }

    /// @dev Stake of `hotkey`'s live (warming) generations.
    function _warmingOf(address hotkey) private view returns (uint256 warming) {
        Hotkey storage h = _hotkeys[hotkey];
        for (uint32 g = h.head; g != h.tail; ++g) warming += uint96(_gens[hotkey][g]);
    }

    /// @dev The first epoch start block at which stake made now is in place: the next epoch start of the hotkey's
    ///      validator Brain, or the next block if it has none (its own stake: it earns nothing before it has a seat).
    function _readyAt(uint256 brainId) private view returns (uint256) {
        uint256 b = block.number;
        if (brainId == 0) return b + 1;
        (uint64 g, uint32 t) = neurons.brains().timing(brainId);
        return b < g ? g : g + ((b - g) / t + 1) * t;
    }

    /// @dev Adds `a` to the hotkey's warming generation for `readyAt` and returns its id: the newest generation if it
    ///      is ready no earlier, else a new one; when MAX_LIVE_GENS are live, or the hotkey has no validator seat (no
    ///      epoch grid: it is paid nothing before it has one), the newest takes it and waits until `readyAt` (its
    ///      stake then starts later than it could, never earlier).
    function _warm(Hotkey storage h, address hotkey, uint96 a, uint256 readyAt, bool grid) private returns (uint32) {
        uint32 head = h.head;
        uint32 tail = h.tail;
        if (tail != head) {
            uint256 last = _gens[hotkey][tail - 1];
            uint256 r = last >> 96;
            if (r >= readyAt || !grid || tail - head >= MAX_LIVE_GENS) {
                if (r < readyAt) r = readyAt;
                _gens[hotkey][tail - 1] = (uint96(last) + a) | (r << 96);
                return tail - 1;
            }
        }
        // (also the slot activation rewrites: settlements never pay a 20k-gas zero→nonzero write)
        _gens[hotkey][tail] = a | (readyAt << 96);
        h.tail = tail + 1;
        return tail;
    }

    /// @dev Adds warming stake `a` of generation `gen` (≥ the position's generations) to a settled position; with both
    ///      parts taken by older generations, the newer part moves into `gen` (it waits longer, never less).
    function _addWarming(Position storage p, address hotkey, uint96 a, uint32 gen) private {
        uint96 w1 = p.warming;
        if (w1 == 0 || p.gen == gen) {
            p.warming = w1 + a;
            p.gen = gen;
            return;
        }
        uint96 w2 = p.warming2;
        if (w2 != 0 && p.gen2 != gen) {
            _gens[hotkey][p.gen2] -= w2;
            _gens[hotkey][gen] += w2; // the amount part stays below 2^96 (it is at most the supply)
        }
        p.warming2 = w2 + a;
        p.gen2 = gen;
    }

    function _promote(Position storage p) private {
        p.warming = p.warming2;
        p.gen = p.gen2;
        p.warming2 = 0;
    }

    /// @notice NeuronRegistry only: locks `amount` more of `hotkey`'s own stake (a miner seat's minimum).
    function lockOwnStake(address hotkey, uint256 amount) external {
        if (msg.sender != address(neurons)) revert NotNeuronRegistry(msg.sender);
        uint256 locked = lockedStake[hotkey];
        uint256 own = _positions[hotkey][hotkey].amount;
        if (own < locked + amount) revert InsufficientStake(own - locked, amount);
        lockedStake[hotkey] = locked + amount;
        emit OwnStakeLocked(hotkey, amount, locked + amount);
    }

    /// @notice NeuronRegistry only: releases `amount` of `hotkey`'s locked own stake (a miner seat was freed).
    function unlockOwnStake(address hotkey, uint256 amount) external {
        if (msg.sender != address(neurons)) revert NotNeuronRegistry(msg.sender);
        uint256 locked = lockedStake[hotkey] - amount;
        lockedStake[hotkey] = locked;
        emit OwnStakeUnlocked(hotkey, amount, locked);
    }

    /// @inheritdoc IStaking
    function freeOwnStake(address hotkey) external view returns (uint256) {
        return _positions[hotkey][hotkey].amount - lockedStake[hotkey];
    }

    /// @inheritdoc IStaking
    function totalStake(address hotkey) external view returns (uint256) {
        return _hotkeys[hotkey].total;
    }

    /// @notice Stake on `hotkey` that is active (total minus warming); a distribution first activates the warming
    ///         stake made before its epoch began.
    function activeStake(address hotkey) external view returns (uint256) {
        return _hotkeys[hotkey].total - _warmingOf(hotkey);
    }

    /// @notice The caller-independent view of one position: stake and claimable rewards.
    function positionOf(address staker, address hotkey) external view returns (uint256 amount, uint256 pending) {
        (amount,, pending) = positionInfo(staker, hotkey);
    }

    /// @notice One position: stake, the part of it still warming up, and claimable rewards.
    function positionInfo(address staker, address hotkey)
        public
        view
        returns (uint256 amount, uint256 warming, uint256 pending)
    {
        Position storage p = _positions[staker][hotkey];
        Hotkey storage h = _hotkeys[hotkey];
        amount = p.amount;
        uint256 w1 = p.warming;
        uint256 w2 = p.warming2;
        uint256 acc = h.accPerShare;
        uint32 head = h.head;
        pending = p.owed + ((amount - w1 - w2) * (acc - p.snap)) / PREC;
        if (w1 != 0 && p.gen < head) {
            pending += (w1 * (acc - _gens[hotkey][p.gen])) / PREC;
            w1 = 0;
        }
        if (w2 != 0 && p.gen2 < head) {
            pending += (w2 * (acc - _gens[hotkey][p.gen2])) / PREC;
            w2 = 0;
        }
        warming = w1 + w2;
    }

    /// @notice Take (bps) for an epoch beginning now and claimable commission of a hotkey.
    function hotkeyInfo(address hotkey) external view returns (uint256 total, uint16 takeBps, uint256 commission) {
        Hotkey storage h = _hotkeys[hotkey];
        return (h.total, _takeAt(h, block.number), h.commission == 0 ? 0 : h.commission - 1);
    }

    /// @notice The take for an epoch beginning now, the take scheduled (= current if none) and the first epoch start
    ///         block it applies to (0 if none pending).
    function takeInfo(address hotkey) external view returns (uint16 current, uint16 pending, uint64 effectiveBlock) {
        Hotkey storage h = _hotkeys[hotkey];
        current = _takeAt(h, block.number);
        if (h.nextTake != 0 && block.number < h.nextTakeBlock) return (current, h.nextTake - 1, h.nextTakeBlock);
        return (current, current, 0);
    }

    /// @dev Settles a position to accumulator value `acc`: rewards of its active part since its snapshot, and of each
    ///      warming part since its generation became active (generations below `head`); active parts join the rest.
    function _settle(Position storage p, address hotkey, uint256 acc, uint32 head) private {
        uint256 w1 = p.warming;
        uint256 w2 = p.warming2;
        bool a1 = w1 != 0 && p.gen < head;
        bool a2 = w2 != 0 && p.gen2 < head;
        uint256 snap = p.snap;
        if (snap == acc && !a1 && !a2) return;
        uint256 owed = ((p.amount - w1 - w2) * (acc - snap)) / PREC;
        if (a1) {
            owed += (w1 * (acc - _gens[hotkey][p.gen])) / PREC;
            p.warming = 0;
        }
        if (a2) {
            // (the older part is then active too: generations activate in order)
            owed += (w2 * (acc - _gens[hotkey][p.gen2])) / PREC;
            p.warming2 = 0;
        } else if (a1 && w2 != 0) {
            _promote(p);
        }
        p.snap = acc;
        if (owed != 0) p.owed += SafeCast.toUint128(owed);
    }

    /// @dev The take (bps) charged on an epoch that began at block `epochStart`.
    function _takeAt(Hotkey storage h, uint256 epochStart) private view returns (uint16) {
        uint16 next = h.nextTake;
        if (next != 0 && epochStart >= h.nextTakeBlock) return next - 1;
        uint16 t = h.take;
        return t == 0 ? DEFAULT_TAKE_BPS : t - 1;
    }

    function _addCommission(Hotkey storage h, uint256 amount) private {
        uint256 c = h.commission;
        h.commission = SafeCast.toUint96((c == 0 ? 1 : c) + amount);
    }
}
