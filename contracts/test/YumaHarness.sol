// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {YumaMath} from "../lib/YumaMath.sol";

/// @notice Test-only harness exposing YumaMath (known-answer tests against nodes/chain/yuma.ts).
contract YumaHarness {
    /// @notice Consensus and rank of 16 miners (lanes of the packed weight slots) for up to 32 validators.
    function columns(uint256[] memory wSlot, uint256[] memory sh, uint256 revealed, uint256 sTotal)
        external
        pure
        returns (uint256[16] memory ranks, uint256[][] memory clipped)
    {
        uint256 m = wSlot.length;
        uint256[] memory keys = new uint256[](m);
        clipped = new uint256[][](16);
        for (uint256 l; l < 16; ++l) {
            uint256[] memory w = new uint256[](m);
            ranks[l] = YumaMath.column(keys, w, wSlot, sh, revealed, l << 4, sTotal);
            clipped[l] = w;
        }
    }

    /// @notice One 16-miner group through YumaMath.settleGroup (the code path of Consensus phase A).
    function settleGroup(
        uint256[32] memory wSlot,
        uint256[32] memory bSlot,
        uint256[32] memory sh,
        uint256 revealed,
        uint256 vMask,
        uint256 laneMask
    )
        external
        pure
        returns (uint256[16] memory rank, uint256[16] memory cons, uint256[32] memory bonds, uint256[32] memory dr)
    {
        YumaMath.Group memory x;
        x.wSlot = wSlot;
        x.bSlot = bSlot;
        x.sh = sh;
        YumaMath.settleGroup(x, revealed, vMask, laneMask);
        return (x.rank, x.cons, x.bSlot, x.dr);
    }

    function probeMedian(uint256[32] memory wSlot, uint256[32] memory sh, uint256 revealed, uint256 reps)
        external
        pure
        returns (uint256 c0)
    {
        YumaMath.Group memory x;
        x.wSlot = wSlot;
        x.sh = sh;
        (uint256 n, uint256 t16) = YumaMath.dense(x, revealed);
        for (uint256 k; k < reps; ++k) {
            (uint256 a,) = YumaMath.median(x.dense, n, t16);
            c0 ^= a;
        }
    }

    function weightedMedian(uint256[] memory ws, uint256[] memory ss, uint256 sTotal) external pure returns (uint256) {
        uint256[] memory keys = new uint256[](ws.length);
        for (uint256 i; i < ws.length; ++i) keys[i] = (ws[i] << 64) | ss[i];
        return YumaMath.weightedMedian(keys, ws.length, sTotal);
    }

    function bondEma(uint256 bOld, uint256 s, uint256 wbar, uint256 r) external pure returns (uint256) {
        return YumaMath.bondEma(bOld, s, wbar, r);
    }
}
