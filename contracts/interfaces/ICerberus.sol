// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @notice The two neuron roles of a Brain.
enum Role {
    Miner,
    Validator
}

/// @notice Per-Brain limits set by the Brain owner (tempo is fixed at mint; a change applies from the next epoch; see
///         BrainRegistry).
struct BrainLimits {
    uint16 maxMiners; // 1..256; may only grow
    uint16 maxValidators; // 1..32; may only grow
    uint128 minMinerStake; // total stake on the hotkey needed to register as a miner
    uint128 minValidatorStake; // total stake (own + delegated) needed to register as a validator
    uint32 immunityPeriod; // blocks after registration during which a neuron cannot be pruned
}

interface IBrainRegistry {
    function ownerOf(uint256 brainId) external view returns (address);
    function brainExists(uint256 brainId) external view returns (bool);
    /// @notice The limits in force at the current block (an announced change applies from the start of the next epoch).
    function limits(uint256 brainId) external view returns (BrainLimits memory);
    /// @notice The Brain's minValidatorStake in force at block `blockNumber` (constant over each epoch).
    function minValidatorStakeAt(uint256 brainId, uint256 blockNumber) external view returns (uint256);
    function timing(uint256 brainId) external view returns (uint64 genesisBlock, uint32 tempo);
    /// @notice The Emission contract Brains are registered with.
    function emission() external view returns (IEmission);
}

interface IStaking {
    function totalStake(address hotkey) external view returns (uint256);
    /// @notice Consensus only: dividends of the epoch that began at block `epochStart`; only stake made before that
    ///         block shares in them.
    function distribute(address[] calldata hotkeys, uint256[] calldata amounts, uint256 epochStart) external;
    /// @notice NeuronRegistry only: locks `amount` more of `hotkey`'s own stake (a miner seat's minimum).
    function lockOwnStake(address hotkey, uint256 amount) external;
    /// @notice NeuronRegistry only: releases `amount` of `hotkey`'s locked own stake.
    function unlockOwnStake(address hotkey, uint256 amount) external;
    /// @notice `hotkey`'s own stake (staked by itself on itself) not locked by its miner seats.
    function freeOwnStake(address hotkey) external view returns (uint256);
}

interface INeuronRegistry {
    function registrationCount(address hotkey) external view returns (uint256);
    function uidOf(uint256 brainId, address hotkey) external view returns (bool registered, Role role, uint16 uid);
    function occupancy(uint256 brainId) external view returns (uint256 minerMask, uint256 validatorMask);
    function validatorHotkeys(uint256 brainId) external view returns (address[32] memory hotkeys);
    /// @notice The hotkeys of `brainId`'s validator seats and each one's voting stake for `epoch` in whole gwei: the
    ///         least stake it had bonded to this Brain from the first block of `epoch` until now — 0 for a seat taken
    ///         after `epoch` began, and for an epoch more than two before the current one.
    function votingStakes(uint256 brainId, uint256 epoch)
        external
        view
        returns (address[32] memory hotkeys, uint256[32] memory stakes);
    function minerHotkey(uint256 brainId, uint16 uid) external view returns (address);
    /// @notice The Brain in which `hotkey` holds its (network-wide single) validator seat; 0 if none or if that
    ///         Brain is no longer active.
    function validatorBrainOf(address hotkey) external view returns (uint256 brainId);
    /// @notice Staking only: `hotkey`'s total stake is now `newTotal` (keeps its Brain's emission weight current).
    function onStakeChanged(address hotkey, uint256 newTotal) external;
    function brains() external view returns (IBrainRegistry);
}

interface IConsensus {
    function onNeuronAdded(uint256 brainId, Role role, uint16 uid) external;
    /// @param lows for a validator: the least stake (whole gwei) it bonded to the Brain since the start of the
    ///        previous epoch and since the start of the one before (what backs the reveals it leaves behind)
    function onNeuronRemoved(uint256 brainId, Role role, uint16 uid, address hotkey, uint256[2] calldata lows) external;
    function minerIncentives(uint256 brainId) external view returns (uint16[256] memory);
    function validatorDividends(uint256 brainId) external view returns (uint16[32] memory);
    /// @notice True while an epoch of `brainId` is half-settled (chunked settlement between calls).
    function settlementInProgress(uint256 brainId) external view returns (bool);
}

interface IEmission {
    /// @notice BrainRegistry only: `brainId` was minted; it shares emission from now on (weight 0 until reported).
    function onBrainAdded(uint256 brainId) external;
    /// @notice BrainRegistry only: `brainId` was deregistered; its weight drops to 0 and its unreleased accrual goes
    ///         back to the emission schedule (recycled).
    function onBrainRemoved(uint256 brainId) external returns (uint256 recycled);
    /// @notice Number of Brains sharing emission.
    function activeBrains() external view returns (uint256);
    /// @notice The Consensus contract that releases emission.
    function consensus() external view returns (address);
    /// @notice The active Brain to prune: lowest low-water weight (the least weight held since the start of the
    ///         previous prune period), then oldest, then lowest id, among those added at or before block `addedBy`;
    ///         found = false if none.
    function pruneCandidate(uint256 addedBy) external view returns (bool found, uint256 brainId);
    /// @notice Consensus only: mints and splits what `brainId` accrued up to block `uptoBlock` (the end of the epoch
    ///         being settled); what accrued after it stays for the next settlement.
    function release(uint256 brainId, uint256 uptoBlock)
        external
        returns (uint256 total, uint256 minerPool, uint256 validatorPool, uint256 ownerPool);
    /// @notice Consensus only: returns to the emission schedule (without minting) what `brainId` accrued up to block
    ///         `uptoBlock` and has not been released: the schedule is rewound by that much and emits it again.
    function recycle(uint256 brainId, uint256 uptoBlock) external returns (uint256 amount);
    /// @notice NeuronRegistry only: `brainId`'s emission weight is now `weight` (the stake bonded to its validators).
    function setBrainWeight(uint256 brainId, uint256 weight) external;
}
