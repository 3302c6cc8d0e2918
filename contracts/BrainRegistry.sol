// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IBrainRegistry, IEmission, BrainLimits} from "./interfaces/ICerberus.sol";
import {CerberusToken} from "./CerberusToken.sol";

/// @title BrainRegistry
/// @notice Brains are ERC721 tokens (ids 1..1024). Minting one burns `registrationFee` CBR from the minter. A Brain
///         pins one model (modelHash = sha256 of the ONNX bytes, fheParamsHash, uri) and its limits; the holder of
///         the NFT is the Brain owner and may update the metadata and (grow-only) limits. The tempo (blocks per
///         epoch) and the genesis block are fixed at mint because epoch numbers are derived from them.
contract BrainRegistry is IBrainRegistry, ERC721, Ownable {
    uint256 public constant MAX_BRAINS = 1_024;
    uint256 public constant MAX_MINERS = 256;
    uint256 public constant MAX_VALIDATORS = 32;
    uint32 public constant MIN_TEMPO = 4;
    uint32 public constant MAX_TEMPO = 1_000_000;
    uint32 public constant MAX_IMMUNITY = 1_000_000;
    uint256 public constant MAX_URI_BYTES = 512;

    struct Brain {
        bytes32 modelHash;
        bytes32 fheParamsHash;
        uint64 genesisBlock;
        uint32 tempo;
        BrainLimits limits;
        string uri;
    }

    CerberusToken public immutable token;
    IEmission public immutable emission;
    /// @notice CBR burned to mint a Brain (settable by the protocol owner).
    uint256 public registrationFee;
    /// @notice Number of Brains minted so far (ids are 1..brainCount).
    uint256 public brainCount;
    mapping(uint256 brainId => Brain) private _brains;

    event BrainMinted(uint256 indexed brainId, address indexed owner, uint32 tempo, uint256 feeBurned);
    event ModelUpdated(uint256 indexed brainId, bytes32 modelHash, bytes32 fheParamsHash, string uri);
    event LimitsUpdated(uint256 indexed brainId, BrainLimits limits);
    event RegistrationFeeChanged(uint256 fee);

    error TooManyBrains();
    error InvalidTempo(uint32 tempo);
    error InvalidLimits();
    error UriTooLong();
    error NotBrainOwner(uint256 brainId, address caller);
    error UnknownBrain(uint256 brainId);

    constructor(CerberusToken token_, IEmission emission_, uint256 registrationFee_)
        ERC721("Cerberus Brain", "BRAIN")
        Ownable(msg.sender)
    {
        token = token_;
        emission = emission_;
        registrationFee = registrationFee_;
    }

    /// @notice Mints a Brain to the caller, burning `registrationFee` CBR (approve this contract first).
    /// @param tempo blocks per epoch (fixed forever)
    /// @return brainId the new Brain's id
    function mintBrain(
        bytes32 modelHash,
        bytes32 fheParamsHash,
        string calldata uri,
        uint32 tempo,
        BrainLimits calldata limits_
    ) external returns (uint256 brainId) {
        if (brainCount >= MAX_BRAINS) revert TooManyBrains();
        if (tempo < MIN_TEMPO || tempo > MAX_TEMPO) revert InvalidTempo(tempo);
        _checkLimits(limits_);
        if (bytes(uri).length > MAX_URI_BYTES) revert UriTooLong();
        uint256 fee = registrationFee;
        if (fee != 0) token.burnFrom(msg.sender, fee);
        brainId = ++brainCount;
        Brain storage b = _brains[brainId];
        b.modelHash = modelHash;
        b.fheParamsHash = fheParamsHash;
        b.uri = uri;
        b.genesisBlock = uint64(block.number);
        b.tempo = tempo;
        b.limits = limits_;
        _safeMint(msg.sender, brainId);
        emission.onBrainAdded(brainId);
        emit BrainMinted(brainId, msg.sender, tempo, fee);
        emit ModelUpdated(brainId, modelHash, fheParamsHash, uri);
        emit LimitsUpdated(brainId, limits_);
    }

    /// @notice Brain owner: updates the pinned model metadata.
    function setModel(uint256 brainId, bytes32 modelHash, bytes32 fheParamsHash, string calldata uri) external {
        _onlyBrainOwner(brainId);
        if (bytes(uri).length > MAX_URI_BYTES) revert UriTooLong();
        Brain storage b = _brains[brainId];
        b.modelHash = modelHash;
        b.fheParamsHash = fheParamsHash;
        b.uri = uri;
        emit ModelUpdated(brainId, modelHash, fheParamsHash, uri);
    }

    /// @notice Brain owner: updates limits. maxMiners/maxValidators may only grow (uids must stay valid).
    function setLimits(uint256 brainId, BrainLimits calldata limits_) external {
        _onlyBrainOwner(brainId);
        _checkLimits(limits_);
        BrainLimits storage cur = _brains[brainId].limits;
        if (limits_.maxMiners < cur.maxMiners || limits_.maxValidators < cur.maxValidators) revert InvalidLimits();
        _brains[brainId].limits = limits_;
        emit LimitsUpdated(brainId, limits_);
    }

    /// @notice Protocol owner: sets the CBR burned per Brain mint.
    function setRegistrationFee(uint256 fee) external onlyOwner {
        registrationFee = fee;
        emit RegistrationFeeChanged(fee);
    }

    /// @notice The whole Brain record.
    function brain(uint256 brainId) external view returns (Brain memory) {
        _requireExists(brainId);
        return _brains[brainId];
    }

    /// @inheritdoc IBrainRegistry
    function brainExists(uint256 brainId) public view returns (bool) {
        return brainId != 0 && brainId <= brainCount;
    }

    /// @inheritdoc IBrainRegistry
    function limits(uint256 brainId) external view returns (BrainLimits memory) {
        _requireExists(brainId);
        return _brains[brainId].limits;
    }

    /// @inheritdoc IBrainRegistry
    function timing(uint256 brainId) external view returns (uint64 genesisBlock, uint32 tempo) {
        _requireExists(brainId);
        Brain storage b = _brains[brainId];
        return (b.genesisBlock, b.tempo);
    }

    /// @inheritdoc IBrainRegistry
    function ownerOf(uint256 brainId) public view override(ERC721, IBrainRegistry) returns (address) {
        return super.ownerOf(brainId);
    }

    function _checkLimits(BrainLimits calldata l) private pure {
        if (
            l.maxMiners == 0 || l.maxMiners > MAX_MINERS || l.maxValidators == 0 || l.maxValidators > MAX_VALIDATORS
                || l.immunityPeriod > MAX_IMMUNITY
        ) revert InvalidLimits();
    }

    function _onlyBrainOwner(uint256 brainId) private view {
        _requireExists(brainId);
        if (ownerOf(brainId) != msg.sender) revert NotBrainOwner(brainId, msg.sender);
    }

    function _requireExists(uint256 brainId) private view {
        if (!brainExists(brainId)) revert UnknownBrain(brainId);
    }
}
