// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {
    Role, BrainLimits, IBrainRegistry, IStaking, INeuronRegistry, IConsensus, IEmission
} from "./interfaces/ICerberus.sol";

/// @title NeuronRegistry
/// @notice Miners (uids 0..maxMiners-1) and validators (uids 0..maxValidators-1) per Brain, each with its hotkey
///         (the registering address), libp2p peer id and multiaddrs (opaque bytes, as libp2p encodes them).
///         Seats: a hotkey holds at most one seat per Brain, and at most one validator seat network-wide
///         (`AlreadyValidating`), so its stake is bonded to one Brain at a time. Voting stake: per validator hotkey, a
///         running minimum of its bonded stake over the current epoch of its Brain and the two before it
///         (`votingStakes`); taking a seat starts it at 0 and leaving records what backed the reveals left behind. A peer id is held by at most one hotkey
///         per Brain (`PeerIdTaken`). Only an active Brain takes registrations; deregistration always works.
///         Stake: a miner seat needs and *locks* the Brain's `minMinerStake` of the hotkey's own stake until the
///         seat is freed; a validator seat needs `minValidatorStake` of total stake (own + delegated) to register.
///         Pruning: when the role is full, only seats past their immunity period can go: first a validator seat
///         whose stake is below its Brain's minimum (lowest stake, then lowest uid); otherwise the seat with the
///         lowest score (score: incentive for miners, dividends for validators, as of the last settlement;
///         ties go to the oldest registration, then the lowest uid); if none is prunable, it reverts.
///         Emission weight: each Brain's weight is the total stake of its validator hotkeys, reported to Emission
///         whenever a validator seat is taken or freed and whenever Staking changes a validator's stake.
///         A validator seat in a Brain that is no longer active is freed automatically when its hotkey registers
///         as a validator elsewhere (or by `deregister`).
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
        mapping(bytes32 peerIdHash => address) peerHolder;
        uint256[256] minerLock; // own stake locked by each miner seat
    }

    /// @dev A hotkey's one validator seat (brainId 0 = none), the stake last counted for it in `brainStake` (wei),
    ///      and the running minimum of the stake it has bonded to that Brain (whole gwei) over epoch `epoch` so far
    ///      (`low0`; the two epochs before are in `_lowPrev`). Epochs after `epoch` held `stake` throughout. One word,
    ///      so that a settlement reads one slot per validator unless its stake changed since the epoch began.
    struct ValidatorSeat {
        uint40 brainId;
        uint96 stake;
        uint40 epoch;
        uint64 low0;
    }

    /// @dev Running minima of the two epochs before `ValidatorSeat.epoch` (0 before the seat was taken).
    struct LowPrev {
        uint64 low1;
        uint64 low2;
    }


    IBrainRegistry public immutable brains;
    IStaking public immutable staking;
    IEmission public immutable emission;
    IConsensus public consensus;

    mapping(uint256 brainId => BrainNeurons) private _b;
    mapping(address hotkey => ValidatorSeat) private _validatorSeat;
    /// @inheritdoc INeuronRegistry
    mapping(address hotkey => uint256) public registrationCount;
    /// @notice Total stake of each Brain's validator hotkeys (its emission weight while the Brain is active).
    mapping(uint256 brainId => uint256) public brainStake;
    mapping(address hotkey => LowPrev) private _lowPrev;

    uint256 private constant GWEI = 1e9;

    event Wired(address consensus);
    event NeuronRegistered(
        uint256 indexed brainId, Role indexed role, uint16 uid, address indexed hotkey, bytes peerId, bytes multiaddrs
    );
    event NeuronDeregistered(uint256 indexed brainId, Role indexed role, uint16 uid, address indexed hotkey);
    event NeuronPruned(uint256 indexed brainId, Role indexed role, uint16 uid, address indexed hotkey);
    event PeerInfoUpdated(uint256 indexed brainId, address indexed hotkey, bytes peerId, bytes multiaddrs);
    /// @notice A seat of an inactive Brain was freed although Consensus refused the removal hook (its pending miner
    ///         reward, if any, stays in that Brain's ledger).
    event SeatHookSkipped(uint256 indexed brainId, Role indexed role, uint16 uid, address indexed hotkey);

    error AlreadyWired();
    error ZeroAddress();
    error UnknownBrain(uint256 brainId);
    error AlreadyRegistered(uint256 brainId, address hotkey);
    error AlreadyValidating(uint256 brainId);
    error NotRegistered(uint256 brainId, address hotkey);
    error InvalidPeerInfo();
    error PeerIdTaken(uint256 brainId, address holder);
    error InsufficientStake(uint256 have, uint256 need);
    error NoPrunableNeuron(uint256 brainId, Role role);
    error NotStaking(address caller);

    constructor(IBrainRegistry brains_, IStaking staking_, IEmission emission_) Ownable(msg.sender) {
        brains = brains_;
        staking = staking_;
        emission = emission_;
    }

    /// @notice One-time wiring (owner) of the Consensus contract that receives seat-change hooks.
    function wire(IConsensus consensus_) external onlyOwner {
        if (address(consensus) != address(0)) revert AlreadyWired();
        if (address(consensus_) == address(0)) revert ZeroAddress();
        consensus = consensus_;
        emit Wired(address(consensus_));
    }

    /// @notice Registers msg.sender (the hotkey) as a miner or validator of `brainId` (an active Brain).
    /// @param peerId libp2p peer id bytes (1..128 bytes), not held by another hotkey in this Brain
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
        bytes32 peerHash = keccak256(peerId);
        address holder = bn.peerHolder[peerHash];
        if (holder != address(0)) revert PeerIdTaken(brainId, holder);
        bool isMiner = role == Role.Miner;
        if (!isMiner) _freeDeadValidatorSeat();
        uint256 lock;
        (uid, lock) = _takeSeat(brainId, bn, role);
        Neuron storage n = isMiner ? bn.miners[uid] : bn.validators[uid];
        n.hotkey = msg.sender;
        n.registeredAt = uint64(block.number);
        n.peerId = peerId;
        n.multiaddrs = multiaddrs;
        bn.peerHolder[peerHash] = msg.sender;
        if (isMiner) {
            bn.minerMask |= (1 << uid);
            if (lock != 0) bn.minerLock[uid] = lock;
        } else {
            bn.validatorMask |= (1 << uid);
        }
        bn.seats[msg.sender] = Seat(true, role, uid);
        registrationCount[msg.sender] += 1;
        _bond(brainId, isMiner, lock);
        consensus.onNeuronAdded(brainId, role, uid);
        emit NeuronRegistered(brainId, role, uid, msg.sender, peerId, multiaddrs);
    }

    /// @dev A new miner seat locks `lock` of own stake; a new validator seat adds its stake to its Brain's weight.
    function _bond(uint256 brainId, bool isMiner, uint256 lock) private {
        if (isMiner) {
            if (lock != 0) staking.lockOwnStake(msg.sender, lock);
        } else {
            uint256 s = staking.totalStake(msg.sender);
            // nothing was bonded here before this block: the seat votes from the first epoch that begins after it
            // (low0 = 0 for this epoch; _lowPrev was cleared when the hotkey last left a seat)
            _validatorSeat[msg.sender] =
                ValidatorSeat(SafeCast.toUint40(brainId), SafeCast.toUint96(s), uint40(_epochNow(brainId)), 0);
            _setBrainStake(brainId, brainStake[brainId] + s, true);
        }
    }

    /// @dev Checks the stake requirement and returns a free seat (pruning one if the role is full) and, for a miner,
    ///      the own stake its seat locks.
    function _takeSeat(uint256 brainId, BrainNeurons storage bn, Role role) private returns (uint16 uid, uint256 lock) {
        BrainLimits memory lim = brains.limits(brainId);
        bool isMiner = role == Role.Miner;
        if (isMiner) {
            lock = lim.minMinerStake;
            if (lock != 0) {
                uint256 free = staking.freeOwnStake(msg.sender);
                if (free < lock) revert InsufficientStake(free, lock);
            }
        } else {
            uint256 have = staking.totalStake(msg.sender);
            if (have < lim.minValidatorStake) revert InsufficientStake(have, lim.minValidatorStake);
        }
        uint256 max = isMiner ? lim.maxMiners : lim.maxValidators;
        (bool found, uint16 free_) = _firstFree(isMiner ? bn.minerMask : bn.validatorMask, max);
        if (found) return (free_, lock);
        uid = _pruneCandidate(brainId, bn, role, max, lim);
        address oldHotkey = isMiner ? bn.miners[uid].hotkey : bn.validators[uid].hotkey;
        emit NeuronPruned(brainId, role, uid, oldHotkey);
        _remove(brainId, bn, role, uid, oldHotkey, true);
    }

    /// @notice Frees msg.sender's seat in `brainId` (also in a Brain that is no longer active). Pending miner rewards
    ///         stay claimable (Consensus.claimRemoved); a miner seat's stake lock is released.
    function deregister(uint256 brainId) external {
        BrainNeurons storage bn = _b[brainId];
        Seat memory s = bn.seats[msg.sender];
        if (!s.registered) revert NotRegistered(brainId, msg.sender);
        _remove(brainId, bn, s.role, s.uid, msg.sender, brains.brainExists(brainId));
        emit NeuronDeregistered(brainId, s.role, s.uid, msg.sender);
    }

    /// @notice Updates msg.sender's peer id and multiaddrs in `brainId` (e.g. after a restart on a new port). The new
    ///         peer id must not be held by another hotkey in this Brain; the old one is released.
    function updatePeerInfo(uint256 brainId, bytes calldata peerId, bytes calldata multiaddrs) external {
        BrainNeurons storage bn = _b[brainId];
        Seat memory s = bn.seats[msg.sender];
        if (!s.registered) revert NotRegistered(brainId, msg.sender);
        _checkPeer(peerId, multiaddrs);
        Neuron storage n = s.role == Role.Miner ? bn.miners[s.uid] : bn.validators[s.uid];
        bytes32 newHash = keccak256(peerId);
        bytes32 oldHash = keccak256(n.peerId);
        if (newHash != oldHash) {
            address holder = bn.peerHolder[newHash];
            if (holder != address(0)) revert PeerIdTaken(brainId, holder);
            delete bn.peerHolder[oldHash];
            bn.peerHolder[newHash] = msg.sender;
        }
        n.peerId = peerId;
        n.multiaddrs = multiaddrs;
        emit PeerInfoUpdated(brainId, msg.sender, peerId, multiaddrs);
    }

    /// @inheritdoc INeuronRegistry
    /// @dev Called on every stake change; returns at once for hotkeys without a validator seat.
    function onStakeChanged(address hotkey, uint256 newTotal) external {
        if (msg.sender != address(staking)) revert NotStaking(msg.sender);
        ValidatorSeat memory v = _validatorSeat[hotkey];
        if (v.brainId == 0) return;
        uint256 old = v.stake;
        _lower(hotkey, v, newTotal); // (writes the new stake into v)
        _setBrainStake(v.brainId, brainStake[v.brainId] - old + newTotal, brains.brainExists(v.brainId));
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
    function validatorBrainOf(address hotkey) external view returns (uint256 brainId) {
        brainId = _validatorSeat[hotkey].brainId;
        if (brainId != 0 && !brains.brainExists(brainId)) brainId = 0;
    }

    /// @notice The Brain of `hotkey`'s validator seat even if that Brain is no longer active (0 = none).
    function validatorSeatOf(address hotkey) external view returns (uint256 brainId) {
        return _validatorSeat[hotkey].brainId;
    }

    /// @notice The hotkey holding `peerId` in `brainId` (0 = free).
    function peerIdHolder(uint256 brainId, bytes calldata peerId) external view returns (address) {
        return _b[brainId].peerHolder[keccak256(peerId)];
    }

    /// @notice Own stake locked by miner seat `uid` of `brainId`.
    function minerLock(uint256 brainId, uint16 uid) external view returns (uint256) {
        return _b[brainId].minerLock[uid];
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
    function votingStakes(uint256 brainId, uint256 epoch)
        external
        view
        returns (address[32] memory hotkeys, uint256[32] memory stakes)
    {
        BrainNeurons storage bn = _b[brainId];
        uint256 mask = bn.validatorMask;
        for (uint256 i; i < 32; ++i) {
            if (mask & (1 << i) == 0) continue;
            address hk = bn.validators[i].hotkey;
            hotkeys[i] = hk;
            stakes[i] = _minSince(hk, _validatorSeat[hk], epoch);
        }
    }

    /// @inheritdoc INeuronRegistry
    function minerHotkey(uint256 brainId, uint16 uid) external view returns (address) {
        return _b[brainId].miners[uid].hotkey;
    }

    /// @dev A validator seat in a Brain that is no longer active must not block registering elsewhere: free it.
    function _freeDeadValidatorSeat() private {
        uint256 other = _validatorSeat[msg.sender].brainId;
        if (other == 0) return;
        if (brains.brainExists(other)) revert AlreadyValidating(other);
        BrainNeurons storage ob = _b[other];
        uint16 oldUid = ob.seats[msg.sender].uid;
        _remove(other, ob, Role.Validator, oldUid, msg.sender, false);
        emit NeuronDeregistered(other, Role.Validator, oldUid, msg.sender);
    }

    /// @param active whether the Brain is active (only then is its emission weight reported)
    function _remove(uint256 brainId, BrainNeurons storage bn, Role role, uint16 uid, address hotkey, bool active)
        private
    {
        uint256 unlock;
        uint256[2] memory lows;
        if (role == Role.Miner) {
            delete bn.peerHolder[keccak256(bn.miners[uid].peerId)];
            bn.minerMask &= ~(uint256(1) << uid);
            delete bn.miners[uid];
            unlock = bn.minerLock[uid];
            if (unlock != 0) bn.minerLock[uid] = 0;
        } else {
            delete bn.peerHolder[keccak256(bn.validators[uid].peerId)];
            bn.validatorMask &= ~(uint256(1) << uid);
            delete bn.validators[uid];
            ValidatorSeat memory v = _validatorSeat[hotkey];
            uint256 s = v.stake;
            // the stake it bonded here until now backs the reveals it leaves behind; from now on it is unbonded
            uint256 c = _epochNow(brainId);
            if (c >= 1) lows[0] = _minSince(hotkey, v, c - 1);
            if (c >= 2) lows[1] = _minSince(hotkey, v, c - 2);
            delete _validatorSeat[hotkey];
            delete _lowPrev[hotkey];
            _setBrainStake(brainId, brainStake[brainId] - s, active);
        }
        delete bn.seats[hotkey];
        registrationCount[hotkey] -= 1;
        if (unlock != 0) staking.unlockOwnStake(hotkey, unlock);
        if (active) {
            consensus.onNeuronRemoved(brainId, role, uid, hotkey, lows);
        } else {
            // An inactive Brain may be stuck half-settled (the hook reverts SettlementInProgress): leaving it, and
            // getting the seat's stake lock back, must still work. Only the leaver can make this path fail (gas).
            try consensus.onNeuronRemoved(brainId, role, uid, hotkey, lows) {}
            catch {
                emit SeatHookSkipped(brainId, role, uid, hotkey);
            }
        }
    }

    /// @dev Epoch of `brainId` containing the current block (Consensus.epochAt).
    function _epochNow(uint256 brainId) private view returns (uint256) {
        (uint64 g, uint32 t) = brains.timing(brainId);
        return block.number <= g ? 0 : (block.number - g) / t;
    }

    /// @dev The least stake (gwei) `hk` (seat `v`) bonded from the first block of epoch `e` until now; 0 for an epoch
    ///      more than two before the last one its stake changed in (out of the window).
    function _minSince(address hk, ValidatorSeat memory v, uint256 e) private view returns (uint256 m) {
        if (e > v.epoch) return v.stake / GWEI; // held throughout since before e began
        uint256 back = v.epoch - e;
        if (back > 2) return 0;
        m = v.low0;
        if (back != 0) {
            LowPrev memory p = _lowPrev[hk];
            if (p.low1 < m) m = p.low1;
            if (back == 2 && p.low2 < m) m = p.low2;
        }
    }

    /// @dev `hotkey`'s stake (wei) bonded to its validator Brain goes from `v.stake` to `newTotal` now: the running
    ///      minima move to the current epoch (the epochs skipped held `v.stake` throughout) and take the new value.
    function _lower(address hotkey, ValidatorSeat memory v, uint256 newTotal) private {
        uint256 e = _epochNow(v.brainId);
        uint256 held = v.stake / GWEI;
        uint256 d = e - v.epoch;
        if (d != 0) {
            uint256 low1 = d == 1 ? v.low0 : held;
            uint256 low2 = d == 1 ? _lowPrev[hotkey].low1 : d == 2 ? v.low0 : held;
            _lowPrev[hotkey] = LowPrev(uint64(low1), uint64(low2));
            v.low0 = uint64(held);
            v.epoch = uint40(e);
        }
        uint256 n = newTotal / GWEI;
        if (n < v.low0) v.low0 = uint64(n);
        v.stake = SafeCast.toUint96(newTotal);
        _validatorSeat[hotkey] = v;
    }

    function _setBrainStake(uint256 brainId, uint256 stake, bool active) private {
        brainStake[brainId] = stake; // Emission announces it (BrainWeightChanged) while the Brain is active
        if (active) emission.setBrainWeight(brainId, stake);
    }

    function _pruneCandidate(uint256 brainId, BrainNeurons storage bn, Role role, uint256 max, BrainLimits memory lim)
        private
        view
        returns (uint16 best)
    {
        bool isMiner = role == Role.Miner;
        if (!isMiner) {
            // Below-minimum validator seats past their immunity first: the lowest stake, then the lowest uid. Immunity
            // holds against everything, others' stake moves included (a delegator leaving cannot evict the seat).
            uint256 lowest = lim.minValidatorStake;
            bool below;
            for (uint256 u; u < max; ++u) {
                Neuron storage n = bn.validators[u];
                if (block.number < n.registeredAt + lim.immunityPeriod) continue;
                uint256 s = _validatorSeat[n.hotkey].stake;
                if (s < lowest) {
                    lowest = s;
                    best = uint16(u);
                    below = true;
                }
            }
            if (below) return best;
        }
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
            if (block.number < reg + lim.immunityPeriod) continue;
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
