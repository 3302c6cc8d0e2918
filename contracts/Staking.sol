// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStaking, INeuronRegistry} from "./interfaces/ICerberus.sol";

/// @title Staking
/// @notice CBR staked to a neuron's hotkey. Staking to your own address is "own stake" and needs no registration;
///         staking to another hotkey is delegation and needs that hotkey to be registered in at least one Brain.
///         Unstaking starts an unbonding period (one aggregated unbond per staker: a new unstake adds to it and
///         restarts its clock), then `withdraw`. Validator dividends arrive via `distribute` (Consensus only): the
///         hotkey's take (commission, ≤ 20%) goes to the hotkey's commission balance, the rest to everyone staked on
///         the hotkey (its own stake included) through a reward-per-share accumulator, so claims are O(1).
/// @dev Accumulator scale 1e18. The truncation remainder of each distribution (rest − credited) is added to the
///      hotkey's commission, so every distributed wei is assigned at distribution time. Per-position truncation at
///      claim time can leave < 1 wei per position per checkpoint in the contract (never paid twice).
contract Staking is IStaking, Ownable {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;

    uint256 private constant PREC = 1e18;
    uint256 public constant BPS = 10_000;
    uint16 public constant DEFAULT_TAKE_BPS = 1_800;
    uint16 public constant MAX_TAKE_BPS = 2_000;

    struct Hotkey {
        uint256 total; // all stake on this hotkey
        uint256 accPerShare; // cumulative rewards per staked wei, scaled by 1e18
        uint128 commission; // claimable take + rounding remainders, stored + 1 once initialized (see _addCommission)
        uint16 takeBps; // packed with commission: one slot read per distribution
        bool takeSet;
    }

    struct Position {
        uint256 amount;
        uint256 debt; // amount * accPerShare / PREC at last checkpoint
        uint256 owed; // rewards checkpointed but not claimed
    }

    struct Unbond {
        uint256 amount;
        uint64 releaseBlock;
    }

    IERC20 public immutable token;
    uint64 public immutable unbondingBlocks;
    INeuronRegistry public neurons;
    address public consensus;

    /// @notice Sum of all active stake (excludes unbonding).
    uint256 public totalStaked;
    /// @notice Sum of all amounts currently unbonding.
    uint256 public totalUnbonding;
    mapping(address hotkey => Hotkey) private _hotkeys;
    mapping(address staker => mapping(address hotkey => Position)) private _positions;
    mapping(address staker => Unbond) public unbonds;
    /// @dev Each hotkey's total stake by block (one checkpoint per block that changed it), for stake-at-epoch-start.
    mapping(address hotkey => Checkpoints.Trace208) private _stakeHistory;

    event Wired(address neurons, address consensus);
    event Staked(address indexed staker, address indexed hotkey, uint256 amount);
    event Unbonding(address indexed staker, address indexed hotkey, uint256 amount, uint64 releaseBlock);
    event Withdrawn(address indexed staker, uint256 amount);
    event TakeChanged(address indexed hotkey, uint16 takeBps);
    event RewardsDistributed(address indexed hotkey, uint256 amount, uint256 take);
    event RewardsClaimed(address indexed staker, address indexed hotkey, uint256 amount);
    event CommissionClaimed(address indexed hotkey, uint256 amount);

    error AlreadyWired();
    error ZeroAddress();
    error ZeroAmount();
    error NotANeuron(address hotkey);
    error InsufficientStake(uint256 staked, uint256 requested);
    error NothingToWithdraw();
    error StillUnbonding(uint64 releaseBlock);
    error NothingToClaim();
    error TakeTooHigh(uint16 takeBps);
    error NotConsensus(address caller);
    error LengthMismatch();
    error FutureLookup(uint256 blockNumber, uint256 currentBlock);

    constructor(IERC20 token_, uint64 unbondingBlocks_) Ownable(msg.sender) {
        token = token_;
        unbondingBlocks = unbondingBlocks_;
    }

    /// @notice One-time wiring (owner): the neuron registry (delegation check) and Consensus (distributor).
    function wire(INeuronRegistry neurons_, address consensus_) external onlyOwner {
        if (address(neurons) != address(0)) revert AlreadyWired();
        if (address(neurons_) == address(0) || consensus_ == address(0)) revert ZeroAddress();
        neurons = neurons_;
        consensus = consensus_;
        emit Wired(address(neurons_), consensus_);
    }

    /// @notice Stakes `amount` CBR (approve first) on `hotkey`. Own stake if hotkey == msg.sender, else delegation.
    function stake(address hotkey, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        if (hotkey != msg.sender && neurons.registrationCount(hotkey) == 0) revert NotANeuron(hotkey);
        token.safeTransferFrom(msg.sender, address(this), amount);
        Hotkey storage h = _hotkeys[hotkey];
        if (h.accPerShare == 0) {
            // Pre-initialize the hotkey's reward slots so that settlements never pay 20k-gas zero→nonzero writes:
            // an accumulator offset of 1 (1e-18 per staked wei) and the commission sentinel.
            h.accPerShare = 1;
            if (h.commission == 0) h.commission = 1;
        }
        Position storage p = _positions[msg.sender][hotkey];
        _checkpoint(p, h.accPerShare);
        p.amount += amount;
        p.debt = (p.amount * h.accPerShare) / PREC;
        h.total += amount;
        _record(hotkey, h.total);
        totalStaked += amount;
        emit Staked(msg.sender, hotkey, amount);
    }

    /// @notice Moves `amount` of the caller's stake on `hotkey` into unbonding; withdrawable after `unbondingBlocks`.
    function unstake(address hotkey, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Hotkey storage h = _hotkeys[hotkey];
        Position storage p = _positions[msg.sender][hotkey];
        if (p.amount < amount) revert InsufficientStake(p.amount, amount);
        _checkpoint(p, h.accPerShare);
        p.amount -= amount;
        p.debt = (p.amount * h.accPerShare) / PREC;
        h.total -= amount;
        _record(hotkey, h.total);
        totalStaked -= amount;
        Unbond storage u = unbonds[msg.sender];
        u.amount += amount;
        u.releaseBlock = uint64(block.number) + unbondingBlocks;
        totalUnbonding += amount;
        emit Unbonding(msg.sender, hotkey, amount, u.releaseBlock);
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

    /// @notice Sets the caller's (hotkey's) take on dividends, in basis points, at most 2,000 (20%).
    function setTake(uint16 takeBps) external {
        if (takeBps > MAX_TAKE_BPS) revert TakeTooHigh(takeBps);
        Hotkey storage h = _hotkeys[msg.sender];
        h.takeBps = takeBps;
        h.takeSet = true;
        emit TakeChanged(msg.sender, takeBps);
    }

    /// @notice Pays the caller's accrued rewards from its stake on `hotkey`.
    function claimRewards(address hotkey) external returns (uint256 amount) {
        Position storage p = _positions[msg.sender][hotkey];
        _checkpoint(p, _hotkeys[hotkey].accPerShare);
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

    /// @notice Consensus only: credits validator dividends already transferred to this contract.
    function distribute(address[] calldata hotkeys, uint256[] calldata amounts) external {
        if (msg.sender != consensus) revert NotConsensus(msg.sender);
        if (hotkeys.length != amounts.length) revert LengthMismatch();
        for (uint256 k; k < hotkeys.length; ++k) {
            uint256 amount = amounts[k];
            if (amount == 0) continue;
            Hotkey storage h = _hotkeys[hotkeys[k]];
            uint256 take = (amount * _take(h)) / BPS;
            uint256 rest = amount - take;
            uint256 total = h.total;
            if (total == 0) {
                _addCommission(h, amount);
            } else {
                uint256 inc = (rest * PREC) / total;
                h.accPerShare += inc;
                _addCommission(h, take + (rest - (inc * total) / PREC));
            }
            emit RewardsDistributed(hotkeys[k], amount, take);
        }
    }

    /// @inheritdoc IStaking
    function totalStake(address hotkey) external view returns (uint256) {
        return _hotkeys[hotkey].total;
    }

    /// @inheritdoc IStaking
    function stakeAt(address hotkey, uint256 blockNumber) external view returns (uint256) {
        if (blockNumber > block.number) revert FutureLookup(blockNumber, block.number);
        return _stakeHistory[hotkey].upperLookupRecent(SafeCast.toUint48(blockNumber));
    }

    /// @notice The caller-independent view of one position: stake and claimable rewards.
    function positionOf(address staker, address hotkey) external view returns (uint256 amount, uint256 pending) {
        Position storage p = _positions[staker][hotkey];
        amount = p.amount;
        pending = p.owed + (p.amount * _hotkeys[hotkey].accPerShare) / PREC - p.debt;
    }

    /// @notice Take (bps) and claimable commission of a hotkey.
    function hotkeyInfo(address hotkey) external view returns (uint256 total, uint16 takeBps, uint256 commission) {
        Hotkey storage h = _hotkeys[hotkey];
        return (h.total, _take(h), h.commission == 0 ? 0 : h.commission - 1);
    }

    function _record(address hotkey, uint256 total) private {
        _stakeHistory[hotkey].push(SafeCast.toUint48(block.number), SafeCast.toUint208(total));
    }

    function _addCommission(Hotkey storage h, uint256 amount) private {
        uint256 c = h.commission;
        h.commission = uint128((c == 0 ? 1 : c) + amount);
    }

    function _take(Hotkey storage h) private view returns (uint16) {
        return h.takeSet ? h.takeBps : DEFAULT_TAKE_BPS;
    }

    function _checkpoint(Position storage p, uint256 acc) private {
        uint256 accrued = (p.amount * acc) / PREC;
        if (accrued > p.debt) {
            p.owed += accrued - p.debt;
        }
        p.debt = accrued;
    }
}
