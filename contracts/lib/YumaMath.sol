// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title YumaMath
/// @notice Integer fixed-point pieces of the Yuma-style settlement (docs/PROTOCOL.md "Consensus math"). Every
///         division truncates (floors). The TypeScript reference nodes/chain/yuma.ts does exactly the same integer
///         operations on bigint.
/// @dev Scales: weights W_ONE = 65,535 (a revealed row sums to ≤ W_ONE after normalization); stakes S_ONE = 2^32
///      (validator stake share); bonds BOND_ONE = 2^15; EMA α = 1/10; incentives/dividends for display 65,535.
library YumaMath {
    uint256 internal constant W_ONE = 65_535;
    uint256 internal constant S_ONE = 1 << 32;
    uint256 internal constant BOND_ONE = 1 << 15;
    uint256 internal constant ALPHA_NUM = 1;
    uint256 internal constant ALPHA_DEN = 10;
    uint256 internal constant SHARE_ONE = 65_535;

    /// @notice Row normalization: w_k · W_ONE / Σw (floor). Caller guarantees Σw > 0.
    function normalizeWeight(uint256 w, uint256 sum) internal pure returns (uint256) {
        return (w * W_ONE) / sum;
    }

    /// @notice Stake share: stake · S_ONE / Σstake (floor); 0 when Σstake = 0.
    function stakeShare(uint256 stake_, uint256 total) internal pure returns (uint256) {
        return total == 0 ? 0 : (stake_ * S_ONE) / total;
    }

    /// @notice Stake-weighted median with κ = 1/2: the largest c among the w_k such that the stake of the entries with
    ///         w ≥ c, doubled, reaches sTotal. `keys` holds n entries (w << 64 | s); it is sorted in place (desc).
    function weightedMedian(uint256[] memory keys, uint256 n, uint256 sTotal) internal pure returns (uint256 c) {
        if (n == 0 || sTotal == 0) return 0;
        // Insertion sort, descending (n ≤ 32). Assembly: this loop runs 256 times per settlement.
        assembly ("memory-safe") {
            let base := add(keys, 0x20)
            for { let a := 1 } lt(a, n) { a := add(a, 1) } {
                let v := mload(add(base, shl(5, a)))
                let b := a
                for {} gt(b, 0) {} {
                    let prev := mload(add(base, shl(5, sub(b, 1))))
                    if iszero(lt(prev, v)) { break }
                    mstore(add(base, shl(5, b)), prev)
                    b := sub(b, 1)
                }
                mstore(add(base, shl(5, b)), v)
            }
            let cum := 0
            for { let a := 0 } lt(a, n) { a := add(a, 1) } {
                let k := mload(add(base, shl(5, a)))
                cum := add(cum, and(k, 0xffffffffffffffff))
                if iszero(lt(shl(1, cum), sTotal)) {
                    c := shr(64, k)
                    break
                }
            }
        }
    }

    /// @notice Bond EMA for one (validator, miner): ΔB = s·w̄·BOND_ONE / R (0 if R = 0), B' = (α·ΔB + (1−α)·B).
    function bondEma(uint256 bOld, uint256 s, uint256 wbar, uint256 r) internal pure returns (uint256) {
        uint256 db = r == 0 ? 0 : (s * wbar * BOND_ONE) / r;
        return (ALPHA_NUM * db + (ALPHA_DEN - ALPHA_NUM) * bOld) / ALPHA_DEN;
    }

    /// @notice Incentive share for display and pruning: 65,535·R_j/ΣR capped at 65,534 (stored on-chain as share + 1
    ///         so that its slots never return to zero; only a lone miner with all the rank hits the cap).
    function incentiveShare(uint256 r, uint256 sumRank) internal pure returns (uint256) {
        uint256 x = share(SHARE_ONE, r, sumRank);
        return x > SHARE_ONE - 1 ? SHARE_ONE - 1 : x;
    }

    /// @notice amount · part / whole (floor), 0 if whole = 0.
    function share(uint256 amount, uint256 part, uint256 whole) internal pure returns (uint256) {
        return whole == 0 ? 0 : (amount * part) / whole;
    }

    // SWAR layout: a packed weight slot holds 16 uint16 lanes; lane l is miner 16g + l. For the median it is split
    // into 2 vectors of 8 × 32-bit lanes (vector q, 32-bit lane k ↔ slot lane 2k + q, i.e. (slot >> 16q) & L32),
    // leaving room for a guard bit; for ranks into 4 vectors of 4 × 64-bit lanes ((slot >> 16q) & L64).
    uint256 private constant L32 = 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
    uint256 private constant G16 = 0x0001000000010000000100000001000000010000000100000001000000010000;
    uint256 private constant G24 = 0x0100000001000000010000000100000001000000010000000100000001000000;
    uint256 private constant ONE32 = 0x0000000100000001000000010000000100000001000000010000000100000001;
    uint256 private constant L64 = 0x000000000000ffff000000000000ffff000000000000ffff000000000000ffff;

    /// @notice Scratch for one group of 16 miners × 32 validator seats (all fixed-size, in memory).
    struct Group {
        uint256[32] wSlot; // in: packed weights per validator seat (revealed seats only)
        uint256[32] bSlot; // in/out: packed bonds per validator seat, lanes = bond + 1
        uint256[32] sh; // in: stake share per seat, scale S_ONE (0 for seats that did not reveal)
        uint256[32] dr; // in/out: Σ_j B_ij·R_j per seat (revealed seats only)
        uint256[16] rank; // out: R_j per lane (0 for unoccupied lanes)
        uint256[16] cons; // out: consensus C_j per lane
        uint256[32] wbar; // scratch: packed clipped weights per seat
        uint256[96] dense; // scratch: (s >> 16, even lanes, odd lanes) per revealed seat
    }

    /// @notice Stake share used by the median: the S_ONE-scaled share truncated to 16 bits (s >> 16), so that the
    ///         per-lane stake sums fit 32-bit SWAR lanes.
    function medianStake(uint256 s) internal pure returns (uint256) {
        return s >> 16;
    }

    /// @notice Settlement of one group of 16 miners: consensus (stake-weighted median, κ = 1/2) for all lanes at
    ///         once by a 16-step binary search on the weight bits (SWAR), clipping, ranks, bond EMA and dividend
    ///         sums. Lanes whose bit in `laneMask` is clear (no miner seated) get rank 0 and keep their bonds.
    /// @dev The binary search returns the largest c in [0, 65535] with 2·Σ_{w ≥ c} (s >> 16) ≥ Σ (s >> 16), which is
    ///      the largest such c among the revealed weights (the stake step function only changes at weight values);
    ///      0 when the sum is 0.
    function settleGroup(Group memory x, uint256 revealed, uint256 vMask, uint256 laneMask) internal pure {
        (uint256 n, uint256 t16) = dense(x, revealed);
        (uint256 c0, uint256 c1) = median(x.dense, n, t16);
        _clipRank(x, revealed, c0, c1, laneMask);
        _bondsEma(x, revealed, vMask, laneMask);
    }

    /// @dev Packs (s >> 16, even-lane vector, odd-lane vector) of every revealed seat densely, zero-padded to a
    ///      multiple of 4 entries (zero stake: no effect); returns the padded count and Σ s>>16.
    function dense(Group memory x, uint256 revealed) internal pure returns (uint256 n, uint256 t16) {
        uint256[32] memory wS = x.wSlot;
        uint256[32] memory shs = x.sh;
        uint256[96] memory d = x.dense;
        assembly ("memory-safe") {
            let p := d
            for { let i := 0 } lt(i, 32) { i := add(i, 1) } {
                if and(shr(i, revealed), 1) {
                    let slot := mload(add(wS, shl(5, i)))
                    let s := shr(16, mload(add(shs, shl(5, i))))
                    mstore(p, s)
                    mstore(add(p, 0x20), and(slot, L32))
                    mstore(add(p, 0x40), and(shr(16, slot), L32))
                    p := add(p, 0x60)
                    t16 := add(t16, s)
                    n := add(n, 1)
                }
            }
            for {} and(n, 3) { n := add(n, 1) } {
                mstore(p, 0)
                mstore(add(p, 0x20), 0)
                mstore(add(p, 0x40), 0)
                p := add(p, 0x60)
            }
        }
    }

    /// @dev Binary search over bits 15..0 for all 16 lanes (two vectors of 8); the inner loop is unrolled by 4
    ///      (n is a multiple of 4).
    function median(uint256[96] memory d, uint256 n, uint256 t16) internal pure returns (uint256 c0, uint256 c1) {
        if (t16 == 0) return (0, 0);
        assembly ("memory-safe") {
            let trep := mul(t16, ONE32)
            let end := add(d, mul(n, 0x60))
            for { let b := 16 } b {} {
                b := sub(b, 1)
                let bitv := mul(shl(b, 1), ONE32)
                let k0 := or(c0, bitv)
                let k1 := or(c1, bitv)
                let a0 := 0
                let a1 := 0
                for { let p := d } lt(p, end) { p := add(p, 0x180) } {
                    let s := 0
                    s := mload(add(p, 0x0))
                    a0 := add(a0, mul(shr(16, and(sub(or(mload(add(p, 0x20)), G16), k0), G16)), s))
                    a1 := add(a1, mul(shr(16, and(sub(or(mload(add(p, 0x40)), G16), k1), G16)), s))
                    s := mload(add(p, 0x60))
                    a0 := add(a0, mul(shr(16, and(sub(or(mload(add(p, 0x80)), G16), k0), G16)), s))
                    a1 := add(a1, mul(shr(16, and(sub(or(mload(add(p, 0xa0)), G16), k1), G16)), s))
                    s := mload(add(p, 0xc0))
                    a0 := add(a0, mul(shr(16, and(sub(or(mload(add(p, 0xe0)), G16), k0), G16)), s))
                    a1 := add(a1, mul(shr(16, and(sub(or(mload(add(p, 0x100)), G16), k1), G16)), s))
                    s := mload(add(p, 0x120))
                    a0 := add(a0, mul(shr(16, and(sub(or(mload(add(p, 0x140)), G16), k0), G16)), s))
                    a1 := add(a1, mul(shr(16, and(sub(or(mload(add(p, 0x160)), G16), k1), G16)), s))
                }
                // a lane keeps bit b iff 2·acc ≥ t16 (acc ≤ 2^16 per lane; guard bit 24)
                c0 := or(c0, shr(sub(24, b), and(sub(add(shl(1, a0), G24), trep), G24)))
                c1 := or(c1, shr(sub(24, b), and(sub(add(shl(1, a1), G24), trep), G24)))
            }
        }
    }

    /// @dev Clipping w̄ = min(w, C) per seat (packed into x.wbar) and ranks R = Σ s·w̄ per occupied lane.
    function _clipRank(Group memory x, uint256 revealed, uint256 c0, uint256 c1, uint256 laneMask) private pure {
        uint256[32] memory wS = x.wSlot;
        uint256[32] memory shs = x.sh;
        uint256[32] memory wb = x.wbar;
        uint256 r0;
        uint256 r1;
        uint256 r2;
        uint256 r3;
        assembly ("memory-safe") {
            for { let i := 0 } lt(i, 32) { i := add(i, 1) } {
                if and(shr(i, revealed), 1) {
                    let slot := mload(add(wS, shl(5, i)))
                    let w := and(slot, L32)
                    let sel := mul(shr(16, and(sub(or(w, G16), c0), G16)), 0xffff)
                    let wbar := or(and(c0, sel), and(w, not(sel)))
                    w := and(shr(16, slot), L32)
                    sel := mul(shr(16, and(sub(or(w, G16), c1), G16)), 0xffff)
                    wbar := or(wbar, shl(16, or(and(c1, sel), and(w, not(sel)))))
                    mstore(add(wb, shl(5, i)), wbar)
                    let s := mload(add(shs, shl(5, i)))
                    r0 := add(r0, mul(and(wbar, L64), s))
                    r1 := add(r1, mul(and(shr(16, wbar), L64), s))
                    r2 := add(r2, mul(and(shr(32, wbar), L64), s))
                    r3 := add(r3, mul(and(shr(48, wbar), L64), s))
                }
            }
        }
        uint256[16] memory rank = x.rank;
        uint256[16] memory cons = x.cons;
        for (uint256 l; l < 16; ++l) {
            uint256 q = l & 3;
            uint256 rv = q == 0 ? r0 : q == 1 ? r1 : q == 2 ? r2 : r3;
            rank[l] = (laneMask >> l) & 1 == 1 ? (rv >> ((l >> 2) << 6)) & 0xffffffffffffffff : 0;
            cons[l] = ((l & 1 == 0 ? c0 : c1) >> ((l >> 1) << 5)) & 0xffff;
        }
    }

    /// @dev Bond EMA of every seated validator on every occupied lane, and dividend sums of revealed validators.
    ///      Seats that did not reveal have stake share 0, hence ΔB = 0 (pure decay), and their sums are not kept.
    function _bondsEma(Group memory x, uint256 revealed, uint256 vMask, uint256 laneMask) private pure {
        uint256[32] memory bS = x.bSlot;
        uint256[32] memory drs = x.dr;
        uint256[32] memory shs = x.sh;
        uint256[32] memory wb = x.wbar;
        uint256 rankPtr;
        {
            uint256[16] memory rank = x.rank;
            assembly ("memory-safe") {
                rankPtr := rank
            }
        }
        // lanes of unoccupied seats keep their old bond: all-ones in the 16 bits of each occupied lane
        uint256 keep;
        for (uint256 l; l < 16; ++l) {
            if ((laneMask >> l) & 1 == 0) keep |= uint256(0xffff) << (l << 4);
        }
        for (uint256 i; i < 32; ++i) {
            if ((vMask >> i) & 1 == 0) continue;
            (uint256 nb, uint256 d) = _bondRow(bS[i], drs[i], shs[i], wb[i], rankPtr);
            bS[i] = (nb & ~keep) | (bS[i] & keep);
            if ((revealed >> i) & 1 == 1) drs[i] = d;
        }
    }

    /// @dev One validator row of a group, unrolled over the 16 lanes (this is the hottest code of the settlement).
    ///      ΔB = s·w̄·BOND_ONE / R (BOND_ONE = 2^15; the EVM's div by zero yields 0, so ΔB = 0 when R = 0);
    ///      B' = (ΔB + 9·B) / 10 (α = 1/10); lanes hold B + 1. Ranks of unoccupied lanes are 0, so they add nothing
    ///      to d; their bond lanes are restored by the caller.
    function _bondRow(uint256 bs, uint256 d, uint256 s, uint256 wbar, uint256 rankPtr)
        private
        pure
        returns (uint256 nb, uint256)
    {
        assembly ("memory-safe") {
                {
                    let r := mload(add(rankPtr, 0x0))
                    let bOld := and(shr(0, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(0, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(0, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x20))
                    let bOld := and(shr(16, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(16, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(16, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x40))
                    let bOld := and(shr(32, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(32, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(32, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x60))
                    let bOld := and(shr(48, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(48, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(48, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x80))
                    let bOld := and(shr(64, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(64, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(64, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0xa0))
                    let bOld := and(shr(80, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(80, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(80, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0xc0))
                    let bOld := and(shr(96, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(96, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(96, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0xe0))
                    let bOld := and(shr(112, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(112, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(112, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x100))
                    let bOld := and(shr(128, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(128, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(128, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x120))
                    let bOld := and(shr(144, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(144, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(144, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x140))
                    let bOld := and(shr(160, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(160, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(160, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x160))
                    let bOld := and(shr(176, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(176, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(176, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x180))
                    let bOld := and(shr(192, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(192, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(192, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x1a0))
                    let bOld := and(shr(208, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(208, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(208, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x1c0))
                    let bOld := and(shr(224, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(224, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(224, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
                {
                    let r := mload(add(rankPtr, 0x1e0))
                    let bOld := and(shr(240, bs), 0xffff)
                    let bNew := div(add(div(shl(15, mul(s, and(shr(240, wbar), 0xffff))), r), mul(9, sub(bOld, gt(bOld, 0)))), 10)
                    nb := or(nb, shl(240, add(bNew, 1)))
                    d := add(d, mul(bNew, r))
                }
        }
        return (nb, d);
    }

    /// @notice One miner column. For validators i with bit i of `revealed` set, reads W_ij from lane `shift` of
    ///         wSlot[i], computes the consensus C_j = weightedMedian, leaves the clipped weight min(W_ij, C_j) in w[i]
    ///         (0 for the others) and returns the rank R_j = Σ_i s_i · min(W_ij, C_j).
    function column(
        uint256[] memory keys,
        uint256[] memory w,
        uint256[] memory wSlot,
        uint256[] memory sh,
        uint256 revealed,
        uint256 shift,
        uint256 sTotal
    ) internal pure returns (uint256 r) {
        uint256 n;
        unchecked {
            uint256 m = w.length;
            for (uint256 i; i < m; ++i) {
                if (revealed & (1 << i) == 0) {
                    w[i] = 0;
                    continue;
                }
                uint256 wi = (wSlot[i] >> shift) & 0xffff;
                w[i] = wi;
                keys[n++] = (wi << 64) | sh[i];
            }
            uint256 c = weightedMedian(keys, n, sTotal);
            for (uint256 i; i < m; ++i) {
                uint256 wi = w[i];
                if (wi > c) w[i] = wi = c;
                r += sh[i] * wi;
            }
        }
    }
}
