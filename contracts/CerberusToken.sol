// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title CerberusToken (CBR)
/// @notice The stake and reward token. Supply is capped at `genesisSupply + emissionCap`; the genesis supply goes to
///         the deployer, everything else can only be minted by the Emission contract (set once by the owner).
contract CerberusToken is ERC20, ERC20Permit, ERC20Burnable, ERC20Capped, Ownable {
    /// @notice The only address allowed to mint (the Emission contract); zero until set.
    address public minter;

    /// @notice Emitted once when the owner sets the minter.
    event MinterSet(address indexed minter);

    error MinterAlreadySet();
    error NotMinter(address caller);
    error ZeroAddress();

    /// @param cap_ hard cap on total supply (genesis + all emission)
    /// @param genesisSupply minted to `genesisHolder` at construction
    constructor(uint256 cap_, uint256 genesisSupply, address genesisHolder)
        ERC20("Cerberus", "CBR")
        ERC20Permit("Cerberus")
        ERC20Capped(cap_)
        Ownable(msg.sender)
    {
        if (genesisHolder == address(0)) revert ZeroAddress();
        _mint(genesisHolder, genesisSupply);
    }

    /// @notice Sets the Emission contract as the sole minter. Callable once, by the owner.
    function setMinter(address minter_) external onlyOwner {
        if (minter != address(0)) revert MinterAlreadySet();
        if (minter_ == address(0)) revert ZeroAddress();
        minter = minter_;
        emit MinterSet(minter_);
    }

    /// @notice Mints `amount` to `to`. Only the minter; reverts above the cap (ERC20ExceededCap).
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
