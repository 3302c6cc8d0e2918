// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {BrainState, Settlement, Stakes} from "./ConsensusState.sol";
import {YumaMath} from "./YumaMath.sol";

/// @title SettlementLib
/// @notice Phase A of Consensus's settlement — consensus, clipping, ranks, bond EMA and dividend sums for groups of 16
///         miner seats — as a linked library that Consensus calls through DELEGATECALL, so that it runs on Consensus's
///         own storage while its bytecode lives here (Consensus stays under the contract size limit). Its state-
///         changing function can only be delegate-called.
library SettlementLib {
    /// @notice Consensus only (DELEGATECALL on its storage): phase A of the settlement of the epoch in `st.s` over
    ///         whole 16-miner groups [fromGroup, toGroup) — see YumaMath.settleGroup — with that epoch's weights.
    ///         Group 0 starts the epoch's dividend sums; otherwise they are carried in the dividend scratch.
    /// @param last true when `toGroup` is the last group: the dividend numerators D_i come back in `dr` (else they are
    ///        kept in the scratch and `dr` is zero)
    /// @return dr D_i = S_i · Σ_j B_ij·R_j per validator seat (when `last`)
    /// @return ranks R_j per miner seat when this call ranks every group (fromGroup = 0 and `last`); else empty and
    ///         the ranks are in the rank scratch
    function rank(BrainState storage st, uint256 fromGroup, uint256 toGroup, bool last, Stakes memory shares)
        external
        returns (uint256[32] memory dr, uint256[] memory ranks)
    {
        ranks = new uint256[](fromGroup == 0 && last ? 256 : 0);
        YumaMath.Group memory x;
        x.sh = shares.share;
        x.vs = shares.vote;
        x.eligible = shares.eligible;
        x.unit = shares.unit;
        // dividend sums carried over from earlier chunks of this epoch (none when starting at group 0)
        if (fromGroup != 0) {
            for (uint256 i; i < 32; ++i) x.dr[i] = (st.dividendScratch[i >> 1] >> ((i & 1) << 7)) & type(uint128).max;
        }
        _groups(st, x, fromGroup, toGroup, ranks);
        if (last) {
            // D_i = S_i · Σ_j B_ij·R_j: bonds are per unit of stake, the voting stake (whole gwei) scales them here,
            // at full width, so a small validator's dividends are not floored away.
            for (uint256 i; i < 32; ++i) dr[i] = x.dr[i] * shares.vote[i];
        } else {
            for (uint256 k; k < 16; ++k) {
                st.dividendScratch[k] = (x.dr[2 * k] & type(uint128).max) | (x.dr[2 * k + 1] << 128);
            }
        }
    }

    /// @dev Groups [fromGroup, toGroup) of phase A; adds their rank sums to `st.s.sumRank`.
    function _groups(BrainState storage st, YumaMath.Group memory x, uint256 fromGroup, uint256 toGroup, uint256[] memory ranks)
        private
    {
        Settlement storage s = st.s;
        uint256 parity = s.epoch & 1;
        uint256 sumRank = s.sumRank;
        uint256 reset = _bondResets(st);
        for (uint256 g = fromGroup; g < toGroup; ++g) {
            sumRank += _rankGroup(st, x, parity, g, ranks, reset);
        }
        s.sumRank = sumRank;
    }

    /// @dev Seats taken while a left holder's reveal was pending kept that holder's bonds for its dividends: they are
    ///      reset after this epoch if it settles that reveal, else before use (a new holder never inherits bonds).
    ///      Bits 0..31: reset before use; bits 32..63: reset after.
    function _bondResets(BrainState storage st) private view returns (uint256) {
        uint256 reset = st.bondReset;
        if (reset == 0) return 0;
        uint256 left = st.departedValidators;
        return (reset & ~left) | ((reset & left) << 32);
    }

    /// @dev One group of phase A: load, consensus/ranks/bonds, store; returns the group's rank sum.
    function _rankGroup(
        BrainState storage st,
        YumaMath.Group memory x,
        uint256 parity,
        uint256 g,
        uint256[] memory ranks,
        uint256 reset
    ) private returns (uint256 sum) {
        Settlement storage s = st.s;
        uint256 revealed = s.revealedMask;
        uint256 vMask = s.validatorMask;
        _loadGroup(st, x, parity, g, revealed, vMask);
        if (reset != 0) _resetBonds(x, reset & type(uint32).max, type(uint256).max);
        YumaMath.settleGroup(x, revealed, vMask, (s.minerMask >> (g << 4)) & 0xffff);
        sum = _recordRanks(st, x, g, ranks);
        if (reset != 0) _resetBonds(x, reset >> 32, type(uint256).max);
        // a seat whose holder through the epoch has left keeps no bonds for its next holder (they served this epoch)
        uint256 gone = (st.departedMiners[s.epoch] >> (g << 4)) & 0xffff;
        if (gone != 0) {
            uint256 m;
            for (uint256 l; l < 16; ++l) {
                if ((gone >> l) & 1 != 0) m |= uint256(0xffff) << (l << 4);
            }
            _resetBonds(x, vMask, m);
        }
        _storeBonds(st, x, g, vMask);
    }

    /// @dev Resets to 0 (coded 0x4000: the slot never becomes zero) the bond lanes `m` of validator seats `seats`.
    function _resetBonds(YumaMath.Group memory x, uint256 seats, uint256 m) private pure {
        for (uint256 i; i < 32; ++i) {
            if ((seats >> i) & 1 != 0) x.bSlot[i] = (x.bSlot[i] & ~m) | (YumaMath.ZERO_LANES & m);
        }
    }

    /// @dev Keeps the group's ranks in `ranks` (single-call settlement) or in the rank scratch; returns their sum.
    function _recordRanks(BrainState storage st, YumaMath.Group memory x, uint256 g, uint256[] memory ranks)
        private
        returns (uint256 sum)
    {
        // unchecked: ranks are < 2^64
        unchecked {
            if (ranks.length != 0) {
                // (g < 16: the group's 16 ranks are within the 256-entry array)
                uint256[16] memory rk = x.rank;
                assembly ("memory-safe") {
                    let to := add(add(ranks, 0x20), shl(9, g))
                    for { let l := 0 } lt(l, 0x200) { l := add(l, 0x20) } {
                        let r := mload(add(rk, l))
                        mstore(add(to, l), r)
                        sum := add(sum, r)
                    }
                }
                return sum;
            }
            for (uint256 q; q < 4; ++q) {
                uint256 packed;
                for (uint256 k; k < 4; ++k) {
                    uint256 r = x.rank[(q << 2) + k];
                    sum += r;
                    packed |= (r + 1) << (k << 6);
                }
                if (st.rankScratch[(g << 2) + q] != packed) st.rankScratch[(g << 2) + q] = packed;
            }
        }
    }

    /// @dev Reads the packed weights (revealed seats) and bonds (seated validators) of group g into x.
    function _loadGroup(
        BrainState storage st,
        YumaMath.Group memory x,
        uint256 parity,
        uint256 g,
        uint256 revealed,
        uint256 vMask
    ) private view {
        uint256[16][32] storage w = st.weights[parity];
        uint256[16][32] storage b = st.bonds;
        uint256[32] memory wS = x.wSlot;
        uint256[32] memory bS = x.bSlot;
        assembly ("memory-safe") {
            let ws := add(w.slot, g)
            let bs := add(b.slot, g)
            for { let i := 0 } lt(i, 32) { i := add(i, 1) } {
                if and(shr(i, revealed), 1) { mstore(add(wS, shl(5, i)), sload(add(ws, shl(4, i)))) }
                if and(shr(i, vMask), 1) { mstore(add(bS, shl(5, i)), sload(add(bs, shl(4, i)))) }
            }
        }
    }

    function _storeBonds(BrainState storage st, YumaMath.Group memory x, uint256 g, uint256 vMask) private {
        uint256[16][32] storage b = st.bonds;
        uint256[32] memory bS = x.bSlot;
        assembly ("memory-safe") {
            let bs := add(b.slot, g)
            for { let i := 0 } lt(i, 32) { i := add(i, 1) } {
                if and(shr(i, vMask), 1) { sstore(add(bs, shl(4, i)), mload(add(bS, shl(5, i)))) }
            }
        }
    }
}
