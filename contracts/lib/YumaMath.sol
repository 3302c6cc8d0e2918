// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title YumaMath
/// @notice Integer fixed-point pieces of the Yuma-style settlement (docs/PROTOCOL.md "Consensus math"). Every
///         division truncates (floors). The TypeScript reference nodes/chain/yuma.ts does exactly the same integer
///         operations on bigint.
/// @dev Scales: weights W_ONE = 65,535 (a revealed row sums to ≤ W_ONE after normalization); voting stake in whole
///      gwei (median, dividends); stake shares S_ONE = 2^32 (ranks); bonds per unit of stake BOND_ONE = 2^24 (a bond
///      is ≤ 2·BOND_ONE + 1), stored as 16-bit float lanes (≥ 10 significant bits); EMA α = 1/10 rounded to
///      nearest; incentives/dividends for display 65,535.
library YumaMath {
    uint256 internal constant W_ONE = 65_535;
    uint256 internal constant S_ONE = 1 << 32;
    uint256 internal constant BOND_ONE = 1 << 24;
    /// @notice A bond slot whose 16 lanes all hold 0 (lane 0 is coded as e = 1, m = 0), so that it is never zero in
    ///         storage (no 20k-gas re-initialization); any lane coded 0x4000 reads 0.
    uint256 internal constant ZERO_BONDS = 0x4000;
    /// @notice Every lane coded 0x4000 (value 0): the mask value for resetting lanes.
    uint256 internal constant ZERO_LANES = 0x4000400040004000400040004000400040004000400040004000400040004000;
    uint256 internal constant ALPHA_NUM = 1;
    uint256 internal constant ALPHA_DEN = 10;
    uint256 internal constant SHARE_ONE = 65_535;
    /// @notice Voting stakes are whole gwei; the Consensus constructor checks that the token cap is below 2^60 gwei,
    ///         so every sum of voting stakes fits the 64-bit SWAR lanes of the median with room for doubling.
    uint256 internal constant GWEI = 1e9;
    uint256 internal constant MAX_STAKE_GWEI = 1 << 60;

    /// @notice Row normalization: w_k · W_ONE / Σw (floor). Caller guarantees Σw > 0.
    function normalizeWeight(uint256 w, uint256 sum) internal pure returns (uint256) {
        return (w * W_ONE) / sum;
    }

    /// @notice Stake share: stake · S_ONE / Σstake (floor); 0 when Σstake = 0.
    function stakeShare(uint256 stake_, uint256 total) internal pure returns (uint256) {
        return total == 0 ? 0 : (stake_ * S_ONE) / total;
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
    uint256 private constant G31 = 0x8000000080000000800000008000000080000000800000008000000080000000;
    uint256 private constant ONE32 = 0x0000000100000001000000010000000100000001000000010000000100000001;
    uint256 private constant L64 = 0x000000000000ffff000000000000ffff000000000000ffff000000000000ffff;
    uint256 private constant G16W = 0x0000000000010000000000000001000000000000000100000000000000010000;
    uint256 private constant G63 = 0x8000000000000000800000000000000080000000000000008000000000000000;
    uint256 private constant ONE64 = 0x0000000000000001000000000000000100000000000000010000000000000001;
    /// @dev Scale of the approximate stakes of the median's fast pass: a = ⌊S·2^28/T⌋, so Σa ≤ 2^28 and 2·(Σa + n)
    ///      plus the guard bit fit a 32-bit lane.
    uint256 private constant A_BITS = 28;

    /// @notice Scratch for one group of 16 miners × 32 validator seats (all fixed-size, in memory).
    struct Group {
        uint256[32] wSlot; // in: packed weights per validator seat (revealed seats only)
        uint256[32] bSlot; // in/out: packed bonds per validator seat, 16-bit float lanes (see _bondRow)
        uint256[32] sh; // in: stake share σ per seat, scale S_ONE, over the revealed voting stake (0 if not revealed)
        uint256[32] vs; // in: voting stake per seat in whole gwei (used for revealed seats)
        uint256 eligible; // in: Σ voting stake (gwei) of every eligible seat, revealed or not (abstainers count)
        uint256 unit; // in: gcd of the eligible voting stakes if eligible/unit < 2^28 (exact fast path), else 0
        uint256[32] dr; // in/out: Σ_j B_ij·R_j per seat (revealed seats only)
        uint256[16] rank; // out: R_j per lane (0 for unoccupied lanes)
        uint256[16] cons; // out: consensus C_j per lane
        uint256[32] wbar; // scratch: packed clipped weights per seat
        uint256[160] dense; // scratch: (a, even lanes, odd lanes, S, slot) per revealed seat
    }

    /// @notice Settlement of one group of 16 miners: consensus (stake-weighted median, κ = 1/2, exact on whole-gwei
    ///         voting stake, non-revealing eligible stake abstaining) for all lanes at once by a 16-step binary
    ///         search on the weight bits (SWAR), clipping, ranks, bond EMA and dividend sums. Lanes whose bit in
    ///         `laneMask` is clear (no miner seated) get rank 0 and keep their bonds.
    /// @dev The binary search returns the largest c in [0, 65535] with 2·Σ_{revealed, w ≥ c} S ≥ Σ_{eligible} S,
    ///      which is the largest such c among the revealed weights (the stake step function only changes at weight
    ///      values); 0 when no c qualifies or the eligible stake is 0.
    function settleGroup(Group memory x, uint256 revealed, uint256 vMask, uint256 laneMask) internal pure {
        (uint256 n, uint256 bits) = dense(x, revealed);
        (uint256 c0, uint256 c1) = median(x.dense, n, x.eligible, x.unit, bits);
        _clipRank(x, revealed, c0, c1, laneMask);
        _bondsEma(x, revealed, vMask, laneMask);
    }

    /// @dev Packs (a, even-lane vector | G16, odd-lane vector | G16, S, slot) of every revealed seat densely, padded
    ///      to a multiple of 4 entries with zero-stake entries (no effect); returns the padded count. a = S/unit
    ///      (exact) when the stakes have a common unit with T/unit < 2^28, else a = ⌊S·2^28/T⌋ (approximate).
    ///      Also returns the bit length of the largest revealed weight of the group (the median needs no higher bit).
    function dense(Group memory x, uint256 revealed) internal pure returns (uint256 n, uint256 bits) {
        uint256[32] memory wS = x.wSlot;
        uint256[32] memory vs = x.vs;
        uint256[160] memory d = x.dense;
        uint256 t = x.eligible;
        uint256 unit = x.unit;
        if (t == 0) return (0, 0);
        uint256 any;
        assembly ("memory-safe") {
            let p := d
            for { let i := 0 } lt(i, 32) { i := add(i, 1) } {
                if and(shr(i, revealed), 1) {
                    let slot := mload(add(wS, shl(5, i)))
                    any := or(any, slot)
                    let sv := mload(add(vs, shl(5, i)))
                    switch unit
                    case 0 { mstore(p, div(shl(A_BITS, sv), t)) }
                    default { mstore(p, div(sv, unit)) }
                    // weight vectors with the comparison guard bit already set (saves an OR per test)
                    mstore(add(p, 0x20), or(and(slot, L32), G16))
                    mstore(add(p, 0x40), or(and(shr(16, slot), L32), G16))
                    mstore(add(p, 0x60), sv)
                    mstore(add(p, 0x80), slot)
                    p := add(p, 0xa0)
                    n := add(n, 1)
                }
            }
            for {} and(n, 3) { n := add(n, 1) } {
                mstore(p, 0)
                mstore(add(p, 0x20), G16)
                mstore(add(p, 0x40), G16)
                mstore(add(p, 0x60), 0)
                mstore(add(p, 0x80), 0)
                p := add(p, 0xa0)
            }
            // OR of every weight lane, then its bit length
            any := or(any, shr(128, any))
            any := or(any, shr(64, any))
            any := or(any, shr(32, any))
            any := and(or(any, shr(16, any)), 0xffff)
            for {} any { any := shr(1, any) } { bits := add(bits, 1) }
        }
    }

    /// @dev Binary search over bits 15..0 for all 16 lanes (two vectors of 8 × 32-bit lanes); the inner loop is
    ///      unrolled by 4 (n is a multiple of 4). When the voting stakes share a unit u with T/u < 2^28 (round stakes:
    ///      the common case) a = S/u is exact and so is every decision. Otherwise, on the approximate stakes a:
    ///      with A = Σ_{w ≥ k} a, the
    ///      exact test 2·Σ_{w ≥ k} S ≥ T is certainly true when 2A ≥ 2^28 and certainly false when 2(A + n) < 2^28
    ///      (each a loses less than 1 to the floor); a lane in between is decided exactly by `_exactLane` (ties,
    ///      rare for honest stakes). So the result is exact for any stakes.
    /// @param b the bit length of the largest weight (the binary search starts below it: higher bits are all 0)
    function median(uint256[160] memory d, uint256 n, uint256 t, uint256 unit, uint256 b)
        internal
        pure
        returns (uint256 c0, uint256 c1)
    {
        if (t == 0) return (0, 0);
        uint256 end;
        // exact fast path: A = Σ S/unit compared with T/unit, no band; else A ≈ Σ S·2^28/T with a band of 2n
        uint256 trep = (unit == 0 ? uint256(1) << A_BITS : t / unit) * ONE32;
        uint256 nrep = unit == 0 ? (n << 1) * ONE32 : 0;
        assembly ("memory-safe") {
            end := add(d, mul(n, 0xa0))
        }
        // (the parameter `b` counts the bits down: it is the bit being decided in each step)
        while (b != 0) {
            unchecked {
                --b;
            }
            (uint256 a0, uint256 a1) = _accumulate(d, end, c0 | ((uint256(1) << b) * ONE32), c1 | ((uint256(1) << b) * ONE32));
            uint256 sure0;
            uint256 sure1;
            uint256 amb;
            assembly ("memory-safe") {
                // sure: lanes with 2A ≥ target; maybe: lanes with 2A + band ≥ target (guard bit 31 of each lane)
                sure0 := and(sub(add(shl(1, a0), G31), trep), G31)
                sure1 := and(sub(add(shl(1, a1), G31), trep), G31)
                let m0 := and(and(sub(add(add(shl(1, a0), nrep), G31), trep), G31), not(sure0))
                let m1 := and(and(sub(add(add(shl(1, a1), nrep), G31), trep), G31), not(sure1))
                amb := or(shr(31, m0), shr(30, m1)) // bit 32k ↔ lane 2k, bit 32k + 1 ↔ lane 2k + 1
            }
            if (amb != 0) {
                if (amb & (amb - 1) == 0) {
                    // one undecided lane: a scalar sum over the entries
                    sure0 = _resolve(d, end, t, b, c0, sure0, amb & ONE32, 0);
                    sure1 = _resolve(d, end, t, b, c1, sure1, (amb >> 1) & ONE32, 1);
                } else {
                    // several: the whole step exactly, on 64-bit lanes of gwei stakes
                    (sure0, sure1) = _exactStep(d, end, t, b, c0, c1);
                }
            }
            c0 |= sure0 >> (31 - b);
            c1 |= sure1 >> (31 - b);
        }
    }

    /// @dev Σ a·[w ≥ k] per 32-bit lane for the two weight vectors of every dense entry (unrolled by 4).
    function _accumulate(uint256[160] memory d, uint256 end, uint256 k0, uint256 k1)
        private
        pure
        returns (uint256 a0, uint256 a1)
    {
        assembly ("memory-safe") {
            for { let p := d } lt(p, end) { p := add(p, 0x280) } {
                let s := mload(p)
                a0 := add(a0, mul(shr(16, and(sub(mload(add(p, 0x20)), k0), G16)), s))
                a1 := add(a1, mul(shr(16, and(sub(mload(add(p, 0x40)), k1), G16)), s))
                s := mload(add(p, 0xa0))
                a0 := add(a0, mul(shr(16, and(sub(mload(add(p, 0xc0)), k0), G16)), s))
                a1 := add(a1, mul(shr(16, and(sub(mload(add(p, 0xe0)), k1), G16)), s))
                s := mload(add(p, 0x140))
                a0 := add(a0, mul(shr(16, and(sub(mload(add(p, 0x160)), k0), G16)), s))
                a1 := add(a1, mul(shr(16, and(sub(mload(add(p, 0x180)), k1), G16)), s))
                s := mload(add(p, 0x1e0))
                a0 := add(a0, mul(shr(16, and(sub(mload(add(p, 0x200)), k0), G16)), s))
                a1 := add(a1, mul(shr(16, and(sub(mload(add(p, 0x220)), k1), G16)), s))
            }
        }
    }

    /// @dev Decides the ambiguous lanes of one binary-search step exactly (2·Σ_{w ≥ cand} S ≥ t on whole gwei) for
    ///      one vector q (lanes 2k + q): bit 32k of `amb` flags 32-bit lane k; returns `sure` with the exact bits set.
    function _resolve(uint256[160] memory d, uint256 end, uint256 t, uint256 b, uint256 c, uint256 sure, uint256 amb, uint256 q)
        private
        pure
        returns (uint256)
    {
        assembly ("memory-safe") {
            for {} amb {} {
                // lowest flagged 32-bit lane k
                let k := 0
                for {} iszero(and(amb, shl(shl(5, k), 1))) {} { k := add(k, 1) }
                amb := and(amb, not(shl(shl(5, k), 1)))
                let cand := or(and(shr(shl(5, k), c), 0xffff), shl(b, 1))
                let sh := shl(4, add(shl(1, k), q))
                let sum := 0
                for { let p := d } lt(p, end) { p := add(p, 0xa0) } {
                    if iszero(lt(and(shr(sh, mload(add(p, 0x80))), 0xffff), cand)) { sum := add(sum, mload(add(p, 0x60))) }
                }
                if iszero(lt(shl(1, sum), t)) { sure := or(sure, shl(add(shl(5, k), 31), 1)) }
            }
        }
        return sure;
    }

    /// @dev One binary-search step decided exactly for all 16 lanes: candidates c | 2^b moved to the 64-bit layout
    ///      (vector q, lane m ↔ slot lane 4m + q), Σ S·[w ≥ cand] per lane on whole gwei (< 2^60, guard bit 63), and
    ///      the decisions moved back to the 32-bit layout of `median` (bit 32k + 31 of sure_q ↔ lane 2k + q).
    function _exactStep(uint256[160] memory d, uint256 end, uint256 t, uint256 b, uint256 c0, uint256 c1)
        private
        pure
        returns (uint256 sure0, uint256 sure1)
    {
        uint256[4] memory k;
        assembly ("memory-safe") {
            let bit := shl(b, 1)
            for { let l := 0 } lt(l, 16) { l := add(l, 1) } {
                let c := c0
                if and(l, 1) { c := c1 }
                let cand := or(and(shr(shl(5, shr(1, l)), c), 0xffff), bit)
                let ptr := add(k, shl(5, and(l, 3)))
                mstore(ptr, or(mload(ptr), shl(shl(6, shr(2, l)), cand)))
            }
        }
        uint256[4] memory e;
        (e[0], e[1]) = _exactPair(d, end, k[0], k[1], 0);
        (e[2], e[3]) = _exactPair(d, end, k[2], k[3], 32);
        assembly ("memory-safe") {
            let trep := mul(t, ONE64)
            for { let q := 0 } lt(q, 4) { q := add(q, 1) } {
                // bit 63 + 64m set iff 2·Σ ≥ t for lane l = 4m + q
                let yes := and(sub(add(shl(1, mload(add(e, shl(5, q)))), G63), trep), G63)
                for { let m := 0 } lt(m, 4) { m := add(m, 1) } {
                    if and(shr(add(shl(6, m), 63), yes), 1) {
                        let l := add(shl(2, m), q)
                        let bitPos := add(shl(5, shr(1, l)), 31)
                        switch and(l, 1)
                        case 0 { sure0 := or(sure0, shl(bitPos, 1)) }
                        default { sure1 := or(sure1, shl(bitPos, 1)) }
                    }
                }
            }
        }
    }

    /// @dev Σ S·[w ≥ k] on 64-bit lanes for the weight vectors at shifts `sh` and sh + 16 of every entry's slot.
    function _exactPair(uint256[160] memory d, uint256 end, uint256 ka, uint256 kb, uint256 sh)
        private
        pure
        returns (uint256 ea, uint256 eb)
    {
        assembly ("memory-safe") {
            for { let p := d } lt(p, end) { p := add(p, 0xa0) } {
                let slot := shr(sh, mload(add(p, 0x80)))
                let s := mload(add(p, 0x60))
                ea := add(ea, mul(shr(16, and(sub(or(and(slot, L64), G16W), ka), G16W)), s))
                eb := add(eb, mul(shr(16, and(sub(or(and(shr(16, slot), L64), G16W), kb), G16W)), s))
            }
        }
    }

    /// @dev Clipping w̄ = min(w, C) per seat (packed into x.wbar) and ranks R = Σ σ·w̄ per occupied lane.
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
        // lane l = 4m + q: rank from r_q's 64-bit lane m (0 for an unoccupied lane); consensus from c_(l mod 2)
        assembly ("memory-safe") {
            mstore(rank, mul(and(laneMask, 1), and(r0, 0xffffffffffffffff)))
            mstore(cons, and(c0, 0xffff))
            mstore(add(rank, 0x20), mul(and(shr(1, laneMask), 1), and(r1, 0xffffffffffffffff)))
            mstore(add(cons, 0x20), and(c1, 0xffff))
            mstore(add(rank, 0x40), mul(and(shr(2, laneMask), 1), and(r2, 0xffffffffffffffff)))
            mstore(add(cons, 0x40), and(shr(32, c0), 0xffff))
            mstore(add(rank, 0x60), mul(and(shr(3, laneMask), 1), and(r3, 0xffffffffffffffff)))
            mstore(add(cons, 0x60), and(shr(32, c1), 0xffff))
            mstore(add(rank, 0x80), mul(and(shr(4, laneMask), 1), and(shr(64, r0), 0xffffffffffffffff)))
            mstore(add(cons, 0x80), and(shr(64, c0), 0xffff))
            mstore(add(rank, 0xa0), mul(and(shr(5, laneMask), 1), and(shr(64, r1), 0xffffffffffffffff)))
            mstore(add(cons, 0xa0), and(shr(64, c1), 0xffff))
            mstore(add(rank, 0xc0), mul(and(shr(6, laneMask), 1), and(shr(64, r2), 0xffffffffffffffff)))
            mstore(add(cons, 0xc0), and(shr(96, c0), 0xffff))
            mstore(add(rank, 0xe0), mul(and(shr(7, laneMask), 1), and(shr(64, r3), 0xffffffffffffffff)))
            mstore(add(cons, 0xe0), and(shr(96, c1), 0xffff))
            mstore(add(rank, 0x100), mul(and(shr(8, laneMask), 1), and(shr(128, r0), 0xffffffffffffffff)))
            mstore(add(cons, 0x100), and(shr(128, c0), 0xffff))
            mstore(add(rank, 0x120), mul(and(shr(9, laneMask), 1), and(shr(128, r1), 0xffffffffffffffff)))
            mstore(add(cons, 0x120), and(shr(128, c1), 0xffff))
            mstore(add(rank, 0x140), mul(and(shr(10, laneMask), 1), and(shr(128, r2), 0xffffffffffffffff)))
            mstore(add(cons, 0x140), and(shr(160, c0), 0xffff))
            mstore(add(rank, 0x160), mul(and(shr(11, laneMask), 1), and(shr(128, r3), 0xffffffffffffffff)))
            mstore(add(cons, 0x160), and(shr(160, c1), 0xffff))
            mstore(add(rank, 0x180), mul(and(shr(12, laneMask), 1), and(shr(192, r0), 0xffffffffffffffff)))
            mstore(add(cons, 0x180), and(shr(192, c0), 0xffff))
            mstore(add(rank, 0x1a0), mul(and(shr(13, laneMask), 1), and(shr(192, r1), 0xffffffffffffffff)))
            mstore(add(cons, 0x1a0), and(shr(192, c1), 0xffff))
            mstore(add(rank, 0x1c0), mul(and(shr(14, laneMask), 1), and(shr(192, r2), 0xffffffffffffffff)))
            mstore(add(cons, 0x1c0), and(shr(224, c0), 0xffff))
            mstore(add(rank, 0x1e0), mul(and(shr(15, laneMask), 1), and(shr(192, r3), 0xffffffffffffffff)))
            mstore(add(cons, 0x1e0), and(shr(224, c1), 0xffff))
        }
    }

    /// @dev Bond EMA of every seated validator on every occupied lane, and dividend sums of revealed validators; each
    ///      row is unrolled over its 16 lanes (this is the hottest code of the settlement). Seats that did not reveal
    ///      (or are not eligible) have w̄ = 0, hence ΔB = 0 (pure decay), and their sums are not kept.
    ///      Bonds per unit of stake, BOND_ONE = 2^24: ΔB = w̄·S_ONE·BOND_ONE / R = (w̄ << 56) / R (the EVM's div by zero
    ///      yields 0, so ΔB = 0 when R = 0); B' = ⌊(ΔB + 9·B + 5) / 10⌋ (α = 1/10, rounded to nearest), which feeds
    ///      the dividend sum at full precision and is stored as a 16-bit float lane: code = e << 14 | m, B = m << 4e,
    ///      e ∈ {0, 1, 2, 3}; e counts the thresholds 2^14, 2^18 − 8, 2^22 − 128 that B' reaches and
    ///      m = (B' + half of 2^4e) >> 4e rounds to nearest (the thresholds keep m < 2^14), so every bond keeps at
    ///      least 10 significant bits (exact below 2^14), however small. ΔB ≤ 2·BOND_ONE + 1 because R ≥ C·S_ONE/2
    ///      (the validators at or above consensus hold at least half of the revealed stake) and w̄ ≤ C. Ranks of
    ///      unoccupied lanes are 0, so they add nothing to d; their bond lanes keep their old codes. A slot is never
    ///      written back as zero (all-zero bonds are coded ZERO_BONDS).
    function _bondsEma(Group memory x, uint256 revealed, uint256 vMask, uint256 laneMask) private pure {
        // lanes of unoccupied seats keep their old bond: all-ones in the 16 bits of each unoccupied lane
        uint256 keep;
        for (uint256 l; l < 16; ++l) {
            if ((laneMask >> l) & 1 == 0) keep |= uint256(0xffff) << (l << 4);
        }
        uint256[32] memory bS = x.bSlot;
        uint256[32] memory drs = x.dr;
        uint256[32] memory wb = x.wbar;
        uint256[16] memory rk = x.rank;
        uint256[3] memory p = [_ptr(bS), _ptr(drs), _ptr(wb)];
        assembly ("memory-safe") {
            let rankPtr := rk
            for { let i := 0 } lt(i, 32) { i := add(i, 1) } {
                if and(shr(i, vMask), 1) {
                    let bs := mload(add(mload(p), shl(5, i)))
                    let wbar := mul(and(shr(i, revealed), 1), mload(add(mload(add(p, 0x40)), shl(5, i))))
                    let d := mload(add(mload(add(p, 0x20)), shl(5, i)))
                    let nb := 0
                    {
                        let c := and(bs, 0xffff)
                        let r := mload(add(rankPtr, 0x0))
                        let v := div(add(add(div(shl(56, and(wbar, 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1))))))
                    }
                    {
                        let c := and(shr(16, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x20))
                        let v := div(add(add(div(shl(56, and(shr(16, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(16, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(32, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x40))
                        let v := div(add(add(div(shl(56, and(shr(32, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(32, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(48, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x60))
                        let v := div(add(add(div(shl(56, and(shr(48, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(48, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(64, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x80))
                        let v := div(add(add(div(shl(56, and(shr(64, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(64, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(80, bs), 0xffff)
                        let r := mload(add(rankPtr, 0xa0))
                        let v := div(add(add(div(shl(56, and(shr(80, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(80, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(96, bs), 0xffff)
                        let r := mload(add(rankPtr, 0xc0))
                        let v := div(add(add(div(shl(56, and(shr(96, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(96, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(112, bs), 0xffff)
                        let r := mload(add(rankPtr, 0xe0))
                        let v := div(add(add(div(shl(56, and(shr(112, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(112, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(128, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x100))
                        let v := div(add(add(div(shl(56, and(shr(128, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(128, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(144, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x120))
                        let v := div(add(add(div(shl(56, and(shr(144, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(144, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(160, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x140))
                        let v := div(add(add(div(shl(56, and(shr(160, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(160, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(176, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x160))
                        let v := div(add(add(div(shl(56, and(shr(176, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(176, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(192, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x180))
                        let v := div(add(add(div(shl(56, and(shr(192, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(192, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(208, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x1a0))
                        let v := div(add(add(div(shl(56, and(shr(208, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(208, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(224, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x1c0))
                        let v := div(add(add(div(shl(56, and(shr(224, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(224, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    {
                        let c := and(shr(240, bs), 0xffff)
                        let r := mload(add(rankPtr, 0x1e0))
                        let v := div(add(add(div(shl(56, and(shr(240, wbar), 0xffff)), r), mul(9, shl(shl(2, shr(14, c)), and(c, 0x3fff)))), 5), 10)
                        d := add(d, mul(v, r))
                        let sh := shl(2, add(add(gt(v, 16383), gt(v, 262135)), gt(v, 4194175)))
                        nb := or(nb, shl(240, or(shl(12, sh), shr(sh, add(v, shr(1, shl(sh, 1)))))))
                    }
                    nb := or(and(nb, not(keep)), and(bs, keep))
                    if iszero(nb) { nb := ZERO_BONDS } // a slot is never written back as zero
                    mstore(add(mload(p), shl(5, i)), nb)
                    if and(shr(i, revealed), 1) { mstore(add(mload(add(p, 0x20)), shl(5, i)), d) }
                }
            }
        }
    }

    function _ptr(uint256[32] memory a) private pure returns (uint256 q) {
        assembly ("memory-safe") {
            q := a
        }
    }


}
