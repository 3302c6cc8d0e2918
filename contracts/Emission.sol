// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IEmission, IBrainRegistry} from "./interfaces/ICerberus.sol";
import {CerberusToken} from "./CerberusToken.sol";

/// @title Emission
/// @notice Block-based emission schedule with halvings and a hard cap, shared equally among all Brains.
/// @dev Schedule: block `genesisBlock + k` (k ≥ 0) emits `initialReward >> floor(k / halvingInterval)`; the sum over
///      all blocks is `emissionCap`. Every block's reward is divided equally among the Brains that exist at that
///      moment through a reward-per-Brain accumulator (`accPerBrain`, scaled by 1e18); a block with no Brain emits
///      nothing (never minted). When a Brain's epoch settles, Consensus calls `release`, which mints what the Brain
///      accrued since its previous settlement and splits it: miners `minerBps`, validators `validatorBps`, and the
///      Brain owner the remainder (so the owner also receives the integer-division dust: the three parts always sum
///      to the total exactly). Accumulator truncation (< 1 wei per Brain per accrual) is never minted.
contract Emission is IEmission, Ownable {
    uint256 private constant PREC = 1e18;
    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_OWNER_BPS = 3_000;
    uint256 public constant MIN_ROLE_BPS = 2_000;

    CerberusToken public immutable token;
    uint256 public immutable initialReward;
    uint256 public immutable halvingInterval;
    uint256 public immutable genesisBlock;
    /// @notice Sum of the whole schedule: the most this contract can ever mint.
    uint256 public immutable emissionCap;

    address public brainRegistry;
    address public consensus;
    address public neurons;

    uint256 public ownerBps = 1_800;
    uint256 public minerBps = 4_100;
    uint256 public validatorBps = 4_100;

    uint256 public accPerBrain;
    uint256 public lastAccrualBlock;
    uint256 public activeBrains;
    /// @notice Total ever minted by this contract.
    uint256 public totalMinted;
    mapping(uint256 brainId => uint256) public brainSnapshot;
    /// @notice Stake bonded to each Brain's validators, as reported by NeuronRegistry.
    mapping(uint256 brainId => uint256) public brainWeight;

    event Wired(address brainRegistry, address consensus, address neurons);
    event BrainWeightChanged(uint256 indexed brainId, uint256 weight);
    event SplitChanged(uint256 ownerBps, uint256 minerBps, uint256 validatorBps);
    event BrainAdded(uint256 indexed brainId, uint256 activeBrains);
    event Released(
        uint256 indexed brainId, uint256 total, uint256 minerPool, uint256 validatorPool, uint256 ownerPool
    );
    event Forfeited(uint256 indexed brainId, uint256 amount);

    error AlreadyWired();
    error NotAuthorized(address caller);
    error InvalidSchedule();
    error InvalidSplit();
    error ZeroAddress();

    /// @param initialReward_ reward per block in the first era (wei)
    /// @param halvingInterval_ blocks per era; the reward halves at each era boundary
    constructor(CerberusToken token_, uint256 initialReward_, uint256 halvingInterval_) Ownable(msg.sender) {
        if (initialReward_ == 0 || halvingInterval_ == 0) revert InvalidSchedule();
        token = token_;
        initialReward = initialReward_;
        halvingInterval = halvingInterval_;
        genesisBlock = block.number;
        lastAccrualBlock = block.number;
        uint256 cap;
        for (uint256 era; era < 256 && (initialReward_ >> era) != 0; ++era) {
            cap += (initialReward_ >> era) * halvingInterval_;
        }
        emissionCap = cap;
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

    /// @inheritdoc IEmission
    /// @dev Interim: recorded and announced only; emission is still split equally per Brain (issue 11 replaces it).
    function setBrainWeight(uint256 brainId, uint256 weight) external {
        if (msg.sender != neurons) revert NotAuthorized(msg.sender);
        brainWeight[brainId] = weight;
        emit BrainWeightChanged(brainId, weight);
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

    /// @notice Reward of a single block under the schedule.
    function rewardAt(uint256 blockNumber) public view returns (uint256) {
        if (blockNumber < genesisBlock) return 0;
        uint256 era = (blockNumber - genesisBlock) / halvingInterval;
        return era >= 256 ? 0 : initialReward >> era;
    }

    /// @notice Total scheduled emission of blocks [genesisBlock, blockNumber).
    function cumulativeSchedule(uint256 blockNumber) public view returns (uint256 total) {
        if (blockNumber <= genesisBlock) return 0;
        uint256 n = blockNumber - genesisBlock;
        uint256 fullEras = n / halvingInterval;
        for (uint256 era; era < fullEras && era < 256; ++era) {
            total += (initialReward >> era) * halvingInterval;
        }
        if (fullEras < 256) total += (initialReward >> fullEras) * (n % halvingInterval);
    }

    /// @notice What `brainId` would receive if it were released now.
    function pendingEmission(uint256 brainId) external view returns (uint256) {
        uint256 acc = accPerBrain;
        if (activeBrains != 0) {
            acc += ((cumulativeSchedule(block.number) - cumulativeSchedule(lastAccrualBlock)) * PREC) / activeBrains;
        }
        return (acc - brainSnapshot[brainId]) / PREC;
    }

    /// @notice Called by BrainRegistry when a Brain is minted; it starts accruing from this block.
    function onBrainAdded(uint256 brainId) external {
        if (msg.sender != brainRegistry) revert NotAuthorized(msg.sender);
        _accrue();
        brainSnapshot[brainId] = accPerBrain;
        activeBrains += 1;
        emit BrainAdded(brainId, activeBrains);
    }

    /// @inheritdoc IEmission
    /// @dev Miner and validator pools are minted to Consensus (which pays them), the owner pool to the Brain owner.
    ///      Interim: `uptoBlock` is not honoured yet (everything accrued so far is released).
    function release(uint256 brainId, uint256 uptoBlock)
        external
        returns (uint256 total, uint256 minerPool, uint256 validatorPool, uint256 ownerPool)
    {
        if (msg.sender != consensus) revert NotAuthorized(msg.sender);
        total = _take(brainId);
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
    /// @dev Interim: `uptoBlock` is not honoured yet (everything accrued so far is forfeited).
    function forfeit(uint256 brainId, uint256 uptoBlock) external returns (uint256 amount) {
        if (msg.sender != consensus) revert NotAuthorized(msg.sender);
        amount = _take(brainId);
        emit Forfeited(brainId, amount);
    }

    function _take(uint256 brainId) private returns (uint256 amount) {
        _accrue();
        uint256 acc = accPerBrain;
        amount = (acc - brainSnapshot[brainId]) / PREC;
        brainSnapshot[brainId] = acc;
    }

    function _accrue() private {
        uint256 last = lastAccrualBlock;
        if (block.number == last) return;
        if (activeBrains != 0) {
            accPerBrain += ((cumulativeSchedule(block.number) - cumulativeSchedule(last)) * PREC) / activeBrains;
        }
        lastAccrualBlock = block.number;
    }
}
