// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// Storage and memory layouts shared by Consensus and its linked library SettlementLib (which runs on Consensus's
// storage through DELEGATECALL). See Consensus for what each field means to the protocol.

/// @notice Settlement progress of one Brain (`Consensus.settlementState`).
struct Settlement {
    uint64 epoch; // in progress (phase != 0) or last settled
    uint8 phase; // 0 idle, 1 ranking, 2 paying miners
    uint16 cursor; // next miner uid to process in the current phase
    bool settledAny;
    uint32 revealedMask; // validators counted in this epoch
    uint32 validatorMask; // validators occupied at start (bonds updated)
    uint64 lastSettledBlock; // block of the last completed settlement
    uint256 minerMask; // miners occupied at start
    uint256 sumRank;
    uint256 minerPool;
    uint256 minerPaid;
    uint256 emission;
    uint256 validatorPaid;
    uint256 ownerPaid;
}

/// @notice Validator stakes of the epoch being settled (memory): σ_i over the revealed voting stake (S_ONE scale),
///      voting stake S_i in whole gwei (0 for seats that do not vote), and Σ S over every eligible seat.
struct Stakes {
    uint256[32] share;
    uint256[32] vote;
    uint256 eligible;
    uint256 unit; // gcd of the eligible voting stakes when eligible/unit < 2^28 (exact SWAR median), else 0
}

/// @notice Everything Consensus keeps for one Brain.
struct BrainState {
    mapping(uint256 epoch => bytes32[32]) commits;
    uint256[16][32][2] weights; // [parity][validator][group]
    uint64[32][2] revealTag; // epoch + 1 of the weights in the buffer, 0 = none
    uint64[2] revealedEpoch; // per buffer parity: epoch + 1 of the latest epoch anyone revealed, 0 = none
    uint256[16][32] bonds; // [validator][group], 16-bit float lanes (YumaMath._bondRow)
    uint256[64] rankScratch; // 4 × uint64 lanes per slot, lanes = rank + 1
    uint256[16] dividendScratch; // 2 × uint128 lanes per slot: Σ_j B·R carried between chunks of one epoch
    uint256[64] minerPending; // 4 × uint64 lanes per slot, lanes = pending (in GWEI units) + 1
    uint256[16] incentive; // uint16 lanes, share of 65,535 + 1 for seated miners (0 = empty seat)
    uint256[2] dividends; // uint16 lanes, share of 65,535
    uint64[32] stakeShare; // snapshot for an epoch settled over several calls (share ≤ 2^32)
    uint64[32] votingStake; // same, voting stake in whole gwei (< 2^60)
    uint256 eligibleStake; // same, Σ voting stake of the eligible seats (gwei)
    uint256 stakeUnit; // same, Stakes.unit
    Settlement s;
    // Miner seats taken per epoch (seat takeover rule): entry k < 4 holds the seats taken in epoch freshTag[k] − 1
    // (k = epoch mod 4); entry 4 collects evicted entries still needed, tagged with the latest epoch among them.
    uint256[5] freshMask;
    uint48[5] freshTag; // epoch + 1, 0 = empty
    // Seats that changed hands before settlement ("work is paid to the hotkey that did it"): miner seats whose
    // holder through `epoch` left before `epoch` settled, and that holder (paid into `claimable`).
    mapping(uint256 epoch => uint256) departedMiners;
    mapping(uint256 epoch => mapping(uint256 uid => address)) departedMiner;
    // Validator reveals kept for the hotkey that made them after it left the seat, per buffer parity; the masks
    // may hold stale bits (a record counts only while its tag matches the seat's revealTag and the epoch).
    Revealer[32][2] departedRevealer;
    uint64 departedV; // seats with a record: bits 0..31 parity 0, bits 32..63 parity 1
    uint32 bondReset; // seats taken while a left holder's reveal was pending: bonds reset at the next settlement
    uint32 departedValidators; // seats whose reveal for the epoch being settled was made by a hotkey that left
}

/// @notice The hotkey that revealed the weights in a seat's buffer, kept after it left the seat.
struct Revealer {
    address hotkey;
    uint32 tag; // epoch + 1 of the reveal
    uint64 stake; // its voting stake for that epoch (whole gwei): the least it bonded from the epoch's start until it left
}
