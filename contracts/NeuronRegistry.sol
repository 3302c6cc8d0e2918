// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {
    Role, BrainLimits, IBrainRegistry, IStaking, INeuronRegistry, IConsensus, IEmission
} from "./interfaces/ICerberus.sol";

/// @title NeuronRegistry
/// @notice Miners (uids 0..maxMiners-1) and validators (uids 0..maxValidators-1) per Brain, each with its hotkey
///         (the registering address), libp2p peer id and multiaddrs (opaque bytes, as libp2p encodes them). A hotkey
///         holds at most one seat per Brain. Registration needs the Brain's minimum stake on the hotkey (own +
///         delegated, see Staking). When the role is full, the seat of the neuron with the lowest score that is past
///         its immunity period is pruned (score: incentive for miners, dividends for validators, both as of the last
///         settlement; ties go to the oldest registration, then the lowest uid); if none is prunable, it reverts.
contract NeuronRegistry is INeuronRegistry, Ownable {
    uint256 public constant MAX_PEER_ID_BYTES = 128;
    uint256 public constant MAX_MULTIADDRS_BYTES = 1_024;

    struct Neuron {
        address hotkey;
        uint64 registeredAt;
        bytes peerId;
        bytes multiaddrs;
    }

    struct Seat {
        bool registered;
        Role role;
        uint16 uid;
    }

    struct BrainNeurons {
        uint256 minerMask; // bit u set = miner uid u occupied
        uint256 validatorMask;
        Neuron[256] miners;
        Neuron[32] validators;
        mapping(address hotkey => Seat) seats;
    }

    IBrainRegistry public immutable brains;
    IStaking public immutable staking;
    IConsensus public consensus;

    mapping(uint256 brainId => BrainNeurons) private _b;
    /// @inheritdoc INeuronRegistry
    mapping(address hotkey => uint256) public registrationCount;

    event Wired(address consensus);
    event NeuronRegistered(
        uint256 indexed brainId, Role indexed role, uint16 uid, address indexed hotkey, bytes peerId, bytes multiaddrs
    );
    event NeuronDeregistered(uint256 indexed brainId, Role indexed role, uint16 uid, address indexed hotkey);
    event NeuronPruned(uint256 indexed brainId, Role indexed role, uint16 uid, address indexed hotkey);
    event PeerInfoUpdated(uint256 indexed brainId, address indexed hotkey, bytes peerId, bytes multiaddrs);

    error AlreadyWired();
    error ZeroAddress();
    error UnknownBrain(uint256 brainId);
    error AlreadyRegistered(uint256 brainId, address hotkey);
    error NotRegistered(uint256 brainId, address hotkey);
    error InvalidPeerInfo();
    error InsufficientStake(uint256 have, uint256 need);
    error NoPrunableNeuron(uint256 brainId, Role role);

    constructor(IBrainRegistry brains_, IStaking staking_) Ownable(msg.sender) {
        brains = brains_;
        staking = staking_;
    }

    /// @notice One-time wiring (owner) of the Consensus contract that receives seat-change hooks.
    function wire(IConsensus consensus_) external onlyOwner {
        if (address(consensus) != address(0)) revert AlreadyWired();
        if (address(consensus_) == address(0)) revert ZeroAddress();
        consensus = consensus_;
        emit Wired(address(consensus_));
    }

    /// @notice Registers msg.sender (the hotkey) as a miner or validator of `brainId`.
    /// @param peerId libp2p peer id bytes (1..128 bytes)
    /// @param multiaddrs libp2p multiaddrs, encoded by the caller (≤ 1,024 bytes)
    /// @return uid the seat taken (may be a pruned neuron's seat)
    function register(uint256 brainId, Role role, bytes calldata peerId, bytes calldata multiaddrs)
        external
        returns (uint16 uid)
    {
        if (!brains.brainExists(brainId)) revert UnknownBrain(brainId);
        BrainNeurons storage bn = _b[brainId];
        if (bn.seats[msg.sender].registered) revert AlreadyRegistered(brainId, msg.sender);
        _checkPeer(peerId, multiaddrs);
        uid = _takeSeat(brainId, bn, role);
        bool isMiner = role == Role.Miner;
        Neuron storage n = isMiner ? bn.miners[uid] : bn.validators[uid];
        n.hotkey = msg.sender;
        n.registeredAt = uint64(block.number);
        n.peerId = peerId;
        n.multiaddrs = multiaddrs;
        if (isMiner) bn.minerMask |= (1 << uid);
        else bn.validatorMask |= (1 << uid);
        bn.seats[msg.sender] = Seat(true, role, uid);
        registrationCount[msg.sender] += 1;
        consensus.onNeuronAdded(brainId, role, uid);
        if (!isMiner) _reportWeight(brainId, bn);
        emit NeuronRegistered(brainId, role, uid, msg.sender, peerId, multiaddrs);
    }

    /// @dev Checks the stake requirement and returns a free seat, pruning one if the role is full.
    function _takeSeat(uint256 brainId, BrainNeurons storage bn, Role role) private returns (uint16 uid) {
        BrainLimits memory lim = brains.limits(brainId);
        bool isMiner = role == Role.Miner;
        uint256 need = isMiner ? lim.minMinerStake : lim.minValidatorStake;
        uint256 have = staking.totalStake(msg.sender);
        if (have < need) revert InsufficientStake(have, need);
        uint256 max = isMiner ? lim.maxMiners : lim.maxValidators;
        (bool found, uint16 free) = _firstFree(isMiner ? bn.minerMask : bn.validatorMask, max);
        if (found) return free;
        uid = _pruneCandidate(brainId, bn, role, max, lim.immunityPeriod);
        address oldHotkey = isMiner ? bn.miners[uid].hotkey : bn.validators[uid].hotkey;
        emit NeuronPruned(brainId, role, uid, oldHotkey);
        _remove(brainId, bn, role, uid, oldHotkey);
    }

    /// @notice Frees msg.sender's seat in `brainId`. Pending miner rewards stay claimable (Consensus.claimRemoved).
    function deregister(uint256 brainId) external {
        BrainNeurons storage bn = _b[brainId];
        Seat memory s = bn.seats[msg.sender];
        if (!s.registered) revert NotRegistered(brainId, msg.sender);
        _remove(brainId, bn, s.role, s.uid, msg.sender);
        emit NeuronDeregistered(brainId, s.role, s.uid, msg.sender);
    }

    /// @notice Updates msg.sender's peer id and multiaddrs in `brainId` (e.g. after a restart on a new port).
    function updatePeerInfo(uint256 brainId, bytes calldata peerId, bytes calldata multiaddrs) external {
        BrainNeurons storage bn = _b[brainId];
        Seat memory s = bn.seats[msg.sender];
        if (!s.registered) revert NotRegistered(brainId, msg.sender);
        _checkPeer(peerId, multiaddrs);
        Neuron storage n = s.role == Role.Miner ? bn.miners[s.uid] : bn.validators[s.uid];
        n.peerId = peerId;
        n.multiaddrs = multiaddrs;
        emit PeerInfoUpdated(brainId, msg.sender, peerId, multiaddrs);
    }

    /// @notice One seat (an empty seat has hotkey 0).
    function neuron(uint256 brainId, Role role, uint16 uid) external view returns (Neuron memory) {
        return role == Role.Miner ? _b[brainId].miners[uid] : _b[brainId].validators[uid];
    }

    /// @inheritdoc INeuronRegistry
    function uidOf(uint256 brainId, address hotkey) external view returns (bool registered, Role role, uint16 uid) {
        Seat memory s = _b[brainId].seats[hotkey];
        return (s.registered, s.role, s.uid);
    }

    /// @inheritdoc INeuronRegistry
    function occupancy(uint256 brainId) external view returns (uint256 minerMask, uint256 validatorMask) {
        return (_b[brainId].minerMask, _b[brainId].validatorMask);
    }

    /// @inheritdoc INeuronRegistry
    function validatorHotkeys(uint256 brainId) external view returns (address[32] memory hotkeys) {
        BrainNeurons storage bn = _b[brainId];
        uint256 mask = bn.validatorMask;
        for (uint256 i; i < 32; ++i) {
            if (mask & (1 << i) != 0) hotkeys[i] = bn.validators[i].hotkey;
        }
    }

    /// @inheritdoc INeuronRegistry
    function minerHotkey(uint256 brainId, uint16 uid) external view returns (address) {
        return _b[brainId].miners[uid].hotkey;
    }

    function _remove(uint256 brainId, BrainNeurons storage bn, Role role, uint16 uid, address hotkey) private {
        if (role == Role.Miner) {
            bn.minerMask &= ~(uint256(1) << uid);
            delete bn.miners[uid];
        } else {
            bn.validatorMask &= ~(uint256(1) << uid);
            delete bn.validators[uid];
        }
        delete bn.seats[hotkey];
        registrationCount[hotkey] -= 1;
        consensus.onNeuronRemoved(brainId, role, uid, hotkey);
        if (role == Role.Validator) _reportWeight(brainId, bn);
    }

    /// @dev Interim (econ-emission): reports the Brain's emission weight — Σ total stake of its validator hotkeys — when
    ///      a validator seat is taken or freed. econ-stake's change also reports it on every stake change.
    function _reportWeight(uint256 brainId, BrainNeurons storage bn) private {
        uint256 mask = bn.validatorMask;
        uint256 w;
        for (uint256 i; i < 32; ++i) {
            if (mask & (1 << i) != 0) w += staking.totalStake(bn.validators[i].hotkey);
        }
        IEmission(brains.emission()).setBrainWeight(brainId, w);
    }

    function _pruneCandidate(uint256 brainId, BrainNeurons storage bn, Role role, uint256 max, uint32 immunity)
        private
        view
        returns (uint16 best)
    {
        bool isMiner = role == Role.Miner;
        uint16[256] memory inc;
        uint16[32] memory div;
        if (isMiner) inc = consensus.minerIncentives(brainId);
        else div = consensus.validatorDividends(brainId);
        uint256 bestScore = type(uint256).max;
        uint256 bestAge = type(uint256).max;
        bool found;
        for (uint256 u; u < max; ++u) {
            Neuron storage n = isMiner ? bn.miners[u] : bn.validators[u];
            uint256 reg = n.registeredAt;
            if (block.number < reg + immunity) continue;
            uint256 score = isMiner ? inc[u] : div[u];
            if (score < bestScore || (score == bestScore && reg < bestAge)) {
                bestScore = score;
                bestAge = reg;
                best = uint16(u);
                found = true;
            }
        }
        if (!found) revert NoPrunableNeuron(brainId, role);
    }

    function _firstFree(uint256 mask, uint256 max) private pure returns (bool, uint16) {
        for (uint256 u; u < max; ++u) {
            if (mask & (1 << u) == 0) return (true, uint16(u));
        }
        return (false, 0);
    }

    function _checkPeer(bytes calldata peerId, bytes calldata multiaddrs) private pure {
        if (peerId.length == 0 || peerId.length > MAX_PEER_ID_BYTES || multiaddrs.length > MAX_MULTIADDRS_BYTES) {
            revert InvalidPeerInfo();
        }
    }
}
