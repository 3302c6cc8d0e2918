// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Role, BrainLimits} from "./interfaces/ICerberus.sol";
import {BrainRegistry} from "./BrainRegistry.sol";
import {NeuronRegistry} from "./NeuronRegistry.sol";
import {Staking} from "./Staking.sol";
import {Consensus} from "./Consensus.sol";
import {Settlement} from "./lib/ConsensusState.sol";
import {Emission} from "./Emission.sol";

/// @title CerberusLens
/// @notice Read-only aggregation for dashboards and agents: a whole Brain (metadata + every seated neuron with its
///         stake and scores) in one eth_call. Holds no state and no privileges.
contract CerberusLens {
    struct NeuronView {
        uint16 uid;
        Role role;
        address hotkey;
        bytes peerId;
        bytes multiaddrs;
        uint64 registeredAt;
        uint256 stake; // total stake on the hotkey (own + delegated)
        uint16 incentive; // miners: share of 65,535 at the last settlement
        uint16 dividends; // validators: share of 65,535 at the last settlement
        uint256 pendingReward; // miners: unclaimed incentive of the seat
        uint16 takeBps; // validators: take on dividends for an epoch beginning now
        uint16 nextTakeBps; // validators: the take for epochs beginning at or after `takeFromBlock` (= takeBps if none)
        uint64 takeFromBlock; // validators: first epoch start block a pending take raise applies to (0 = none pending)
    }

    struct BrainView {
        uint256 brainId;
        address owner;
        BrainRegistry.Brain brain; // with the limits in force now
        BrainLimits pendingLimits; // limits announced by the owner for a later epoch (= brain.limits if none)
        uint64 limitsFromBlock; // the block `pendingLimits` apply from (0 = no change pending)
        uint256 currentEpoch;
        uint64 settlementEpoch; // last settled epoch when settlementPhase = 0, else the epoch being settled
        uint8 settlementPhase; // 0 idle, 1 ranking, 2 paying miners (chunked settlement in progress)
        bool settledAny;
        uint64 lastUpdate; // block of the last completed settlement
        bool active; // false once deregistered: no registrations, settlements or emission
        uint256 emissionWeight; // stake bonded to its validators, as Emission weighs it (its share = weight / total)
        uint256 totalEmissionWeight; // Σ weights of the active Brains
        NeuronView[] miners;
        NeuronView[] validators;
    }

    BrainRegistry public immutable brains;
    NeuronRegistry public immutable neurons;
    Staking public immutable staking;
    Consensus public immutable consensus;

    constructor(BrainRegistry brains_, NeuronRegistry neurons_, Staking staking_, Consensus consensus_) {
        brains = brains_;
        neurons = neurons_;
        staking = staking_;
        consensus = consensus_;
    }

    /// @notice Everything a dashboard shows about one Brain, deregistered ones included (their owner reads as 0:
    ///         the NFT is burned). Reverts UnknownBrain for an id never minted.
    function brainView(uint256 brainId) external view returns (BrainView memory v) {
        v.brainId = brainId;
        v.brain = brains.brain(brainId);
        (v.pendingLimits, v.limitsFromBlock) = brains.pendingLimits(brainId);
        v.active = brains.brainExists(brainId);
        if (v.active) v.owner = brains.ownerOf(brainId);
        Emission e = Emission(address(brains.emission()));
        v.emissionWeight = e.brainWeight(brainId);
        v.totalEmissionWeight = e.totalWeight();
        v.currentEpoch = consensus.epochAt(brainId, block.number);
        (Settlement memory s, uint64 lastBlock) = consensus.settlementState(brainId);
        v.settledAny = s.settledAny;
        v.settlementEpoch = s.epoch;
        v.settlementPhase = s.phase;
        v.lastUpdate = lastBlock;
        (uint256 minerMask, uint256 validatorMask) = neurons.occupancy(brainId);
        uint16[256] memory inc = consensus.minerIncentives(brainId);
        uint16[32] memory div = consensus.validatorDividends(brainId);
        v.miners = new NeuronView[](_popcount(minerMask));
        v.validators = new NeuronView[](_popcount(validatorMask));
        uint256 k;
        for (uint256 u; u < 256; ++u) {
            if (minerMask & (1 << u) == 0) continue;
            NeuronView memory n = _neuron(brainId, Role.Miner, uint16(u));
            n.incentive = inc[u];
            n.pendingReward = consensus.minerPending(brainId, uint16(u));
            v.miners[k++] = n;
        }
        k = 0;
        for (uint256 u; u < 32; ++u) {
            if (validatorMask & (1 << u) == 0) continue;
            NeuronView memory n = _neuron(brainId, Role.Validator, uint16(u));
            n.dividends = div[u];
            (n.takeBps, n.nextTakeBps, n.takeFromBlock) = staking.takeInfo(n.hotkey);
            v.validators[k++] = n;
        }
    }

    function _neuron(uint256 brainId, Role role, uint16 uid) private view returns (NeuronView memory n) {
        NeuronRegistry.Neuron memory r = neurons.neuron(brainId, role, uid);
        n.uid = uid;
        n.role = role;
        n.hotkey = r.hotkey;
        n.peerId = r.peerId;
        n.multiaddrs = r.multiaddrs;
        n.registeredAt = r.registeredAt;
        n.stake = staking.totalStake(r.hotkey);
    }

    function _popcount(uint256 x) private pure returns (uint256 c) {
        while (x != 0) {
            x &= x - 1;
            ++c;
        }
    }
}
