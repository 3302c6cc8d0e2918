// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {YumaMath} from "../lib/YumaMath.sol";

/// @notice Test-only harness exposing YumaMath (known-answer tests against nodes/chain/yuma.ts).
contract YumaHarness {
    /// @notice One 16-miner group through YumaMath.settleGroup (the code path of Consensus phase A).
    /// @param sh stake shares σ (S_ONE scale) over the revealed voting stake
    /// @param vs voting stakes in whole gwei
    /// @param eligible Σ voting stake of every eligible seat (abstainers included)
    /// @param unit a common unit of the eligible voting stakes with eligible/unit < 2^28, or 0 (approximate path)
    function settleGroup(
        uint256[32] memory wSlot,
        uint256[32] memory bSlot,
        uint256[32] memory sh,
        uint256[32] memory vs,
        uint256 eligible,
        uint256 unit,
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
        x.vs = vs;
        x.eligible = eligible;
        x.unit = unit;
        YumaMath.settleGroup(x, revealed, vMask, laneMask);
        return (x.rank, x.cons, x.bSlot, x.dr);
    }
}
