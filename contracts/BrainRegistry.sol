// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IBrainRegistry, IEmission, IConsensus, BrainLimits} from "./interfaces/ICerberus.sol";
import {CerberusToken} from "./CerberusToken.sol";

/// @title BrainRegistry
/// @notice Brains are ERC721 tokens with ids 1, 2, … that are never reused; at most `MAX_BRAINS` are active at once.
///         Minting one burns the current `registrationPrice()` CBR from the minter. A Brain pins one model (modelHash
///         = sha256 of the ONNX bytes, fheParamsHash, uri) and its limits; the holder of the NFT is the Brain owner and
///         may update the metadata and limits (seat counts grow only, `minMinerStake` never rises) and deregister it.
///         The tempo (blocks per epoch) and the genesis block are fixed at mint because epoch numbers are derived
///         from them. Limits decide who votes, who is paid and who may be pruned, so a change never applies to an
///         epoch already begun: `setLimits` announces it (`LimitsUpdated` with the block it applies from) and it takes
///         effect at the start of the next epoch (`pendingLimits` shows it until then); an epoch is settled with the
///         `minValidatorStake` it began with (`minValidatorStakeAt`).
/// @dev Registration price (as subtensor's network lock cost): each mint burns price p and records it; afterwards
///      price(now) = max(floor, 2p − (2p − floor)·elapsed / priceDecay) for elapsed < priceDecay, else the floor
///      (`registrationFee`, set by the protocol owner). So demand doubles the price and it decays linearly back to the
///      floor over `priceDecay` blocks. Lifecycle: when `MAX_BRAINS` Brains are active, a mint first deregisters the
///      active Brain with the lowest low-water emission weight (the least it held since the start of the previous
///      prune period, Emission.pruneCandidate) among those minted at least `brainImmunity` blocks ago (ties: oldest,
///      then lowest id; `NoPrunableBrain` if none). A deregistered Brain's NFT is burned, `brainExists` turns false
///      (no neuron registrations, no settlements), its emission weight is 0 and its unreleased emission accrual goes
///      back to the emission schedule (Emission.BrainRemoved, Recycled); its record (`brain`, `limits`, `timing`) stays readable so that its
///      neurons can still deregister and claim what they were owed. Deregistration (and so a prune) is refused while
///      an epoch of the Brain is half-settled (`SettlementInProgress`).
contract BrainRegistry is IBrainRegistry, ERC721, Ownable {
    using Checkpoints for Checkpoints.Trace208;

    uint256 public constant MAX_BRAINS = 1_024;
    uint256 public constant MAX_MINERS = 256;
    uint256 public constant MAX_VALIDATORS = 32;
    uint32 public constant MIN_TEMPO = 4;
    uint32 public constant MAX_TEMPO = 1_000_000;
    uint32 public constant MAX_IMMUNITY = 1_000_000;
    uint256 public constant MAX_URI_BYTES = 512;
    uint256 public constant MAX_BRAIN_IMMUNITY = 10_000_000;
    uint256 public constant MAX_PRICE_DECAY = 10_000_000;

    struct Brain {
        bytes32 modelHash;
        bytes32 fheParamsHash;
        uint64 genesisBlock;
        uint32 tempo;
        BrainLimits limits;
        string uri;
    }

    /// @dev A limits change announced for the epoch that starts at `fromBlock` (0 = none pending).
    struct PendingLimits {
        BrainLimits limits;
        uint64 fromBlock;
    }

    CerberusToken public immutable token;
    IEmission public immutable emission;
    /// @notice Floor of the registration price (CBR wei; settable by the protocol owner).
    uint256 public registrationFee;
    /// @notice Blocks over which a doubled registration price decays back to the floor.
    uint256 public priceDecay;
    /// @notice Blocks after its mint during which a Brain cannot be pruned by a new mint.
    uint256 public brainImmunity;
    /// @notice Price burned by the last mint, and its block.
    uint256 public lastPrice;
    uint256 public lastMintBlock;
    /// @notice Number of Brains ever minted (ids are 1..brainCount; some may be deregistered).
    uint256 public brainCount;
    /// @notice Block at which a Brain was deregistered (0 while it is active).
    mapping(uint256 brainId => uint256) public deregisteredAt;
    mapping(uint256 brainId => Brain) private _brains;
    mapping(uint256 brainId => PendingLimits) private _pending;
    /// @dev Each Brain's minValidatorStake by the block it applies from (an epoch start).
    mapping(uint256 brainId => Checkpoints.Trace208) private _minValidatorStake;

    event BrainMinted(uint256 indexed brainId, address indexed owner, uint32 tempo, uint256 feeBurned);
    /// @notice `pruned`: deregistered by a mint at capacity (else by its owner).
    event BrainDeregistered(uint256 indexed brainId, address indexed owner, bool pruned);
    event PriceDecayChanged(uint256 blocks);
    event BrainImmunityChanged(uint256 blocks);
    event ModelUpdated(uint256 indexed brainId, bytes32 modelHash, bytes32 fheParamsHash, string uri);
    /// @notice `limits` apply from block `fromBlock` on: the mint block for a new Brain, else the start of the epoch
    ///         after the one in which the owner announced them.
    event LimitsUpdated(uint256 indexed brainId, BrainLimits limits, uint64 fromBlock);
    event RegistrationFeeChanged(uint256 fee);

    error InvalidTempo(uint32 tempo);
    error InvalidLimits();
    error UriTooLong();
    error NotBrainOwner(uint256 brainId, address caller);
    error UnknownBrain(uint256 brainId);
    error NoPrunableBrain();
    error InvalidPriceDecay();
    error InvalidBrainImmunity();
    error SettlementInProgress(uint256 brainId);

    /// @param registrationFee_ floor of the registration price (wei)
    /// @param priceDecay_ blocks for a doubled price to decay back to the floor (1..MAX_PRICE_DECAY)
    /// @param brainImmunity_ blocks after mint during which a Brain cannot be pruned (≤ MAX_BRAIN_IMMUNITY)
    constructor(
        CerberusToken token_,
        IEmission emission_,
        uint256 registrationFee_,
        uint256 priceDecay_,
        uint256 brainImmunity_
    ) ERC721("Cerberus Brain", "BRAIN") Ownable(msg.sender) {
        token = token_;
        emission = emission_;
        registrationFee = registrationFee_;
        _setPriceDecay(priceDecay_);
        _setBrainImmunity(brainImmunity_);
    }

    /// @notice Mints a Brain to the caller, burning `registrationPrice()` CBR (approve this contract first; the
    ///         allowance caps what a mint can burn if the price moves before the transaction lands). At capacity it
    ///         first deregisters the prune candidate (see contract NatSpec).
    /// @param tempo blocks per epoch (fixed forever)
    /// @return brainId the new Brain's id
    function mintBrain(
        bytes32 modelHash,
        bytes32 fheParamsHash,
        string calldata uri,
        uint32 tempo,
        BrainLimits calldata limits_
    ) external returns (uint256 brainId) {
        if (tempo < MIN_TEMPO || tempo > MAX_TEMPO) revert InvalidTempo(tempo);
        _checkLimits(limits_);
        if (bytes(uri).length > MAX_URI_BYTES) revert UriTooLong();
        if (emission.activeBrains() >= MAX_BRAINS) {
            uint256 immunity = brainImmunity;
            if (block.number < immunity) revert NoPrunableBrain();
            (bool found, uint256 victim) = emission.pruneCandidate(block.number - immunity);
            if (!found) revert NoPrunableBrain();
            _deregister(victim, true);
        }
        uint256 fee = registrationPrice();
        lastPrice = fee;
        lastMintBlock = block.number;
        if (fee != 0) token.burnFrom(msg.sender, fee);
        brainId = ++brainCount;
        Brain storage b = _brains[brainId];
        b.modelHash = modelHash;
        b.fheParamsHash = fheParamsHash;
        b.uri = uri;
        b.genesisBlock = uint64(block.number);
        b.tempo = tempo;
        b.limits = limits_;
        _minValidatorStake[brainId].push(SafeCast.toUint48(block.number), limits_.minValidatorStake);
        // Emission first: _safeMint calls the receiver, which must not see (or re-enter) a half-added Brain.
        emission.onBrainAdded(brainId);
        _safeMint(msg.sender, brainId);
        emit BrainMinted(brainId, msg.sender, tempo, fee);
        emit ModelUpdated(brainId, modelHash, fheParamsHash, uri);
        emit LimitsUpdated(brainId, limits_, uint64(block.number));
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

    /// @notice Brain owner: announces new limits, which apply from the start of the next epoch (never to an epoch
    ///         already begun; a later announcement in the same epoch replaces this one). Compared with the limits in
    ///         force now, maxMiners/maxValidators may only grow (uids must stay valid) and minMinerStake may not rise
    ///         (a seated miner would fall below the minimum it locked at registration).
    function setLimits(uint256 brainId, BrainLimits calldata limits_) external {
        _onlyBrainOwner(brainId);
        _checkLimits(limits_);
        Brain storage b = _brains[brainId];
        PendingLimits storage p = _pending[brainId];
        if (p.fromBlock != 0 && block.number >= p.fromBlock) b.limits = p.limits; // the announced change applies now
        BrainLimits storage cur = b.limits;
        if (
            limits_.maxMiners < cur.maxMiners || limits_.maxValidators < cur.maxValidators
                || limits_.minMinerStake > cur.minMinerStake
        ) revert InvalidLimits();
        uint256 g = b.genesisBlock;
        uint64 from = uint64(g + ((block.number - g) / b.tempo + 1) * b.tempo);
        p.limits = limits_;
        p.fromBlock = from;
        _minValidatorStake[brainId].push(SafeCast.toUint48(from), limits_.minValidatorStake);
        emit LimitsUpdated(brainId, limits_, from);
    }

    /// @notice Brain owner: deregisters the Brain for good (its NFT is burned; see contract NatSpec).
    function deregisterBrain(uint256 brainId) external {
        _onlyBrainOwner(brainId);
        _deregister(brainId, false);
    }

    /// @notice Protocol owner: sets the floor of the registration price.
    function setRegistrationFee(uint256 fee) external onlyOwner {
        registrationFee = fee;
        emit RegistrationFeeChanged(fee);
    }

    /// @notice Protocol owner: sets the decay period of the registration price (1..MAX_PRICE_DECAY blocks).
    function setPriceDecay(uint256 blocks) external onlyOwner {
        _setPriceDecay(blocks);
    }

    /// @notice Protocol owner: sets the Brain immunity period (≤ MAX_BRAIN_IMMUNITY blocks).
    function setBrainImmunity(uint256 blocks) external onlyOwner {
        _setBrainImmunity(blocks);
    }

    /// @notice CBR a mint burns in this block: the last price doubled, decaying linearly to the floor over
    ///         `priceDecay` blocks, never below `registrationFee`.
    function registrationPrice() public view returns (uint256) {
        uint256 floor = registrationFee;
        uint256 doubled = lastPrice * 2;
        uint256 elapsed = block.number - lastMintBlock;
        uint256 decay = priceDecay;
        if (doubled <= floor || elapsed >= decay) return floor;
        return doubled - ((doubled - floor) * elapsed) / decay;
    }

    /// @notice The whole Brain record with the limits in force now (also of a deregistered Brain; reverts only for an
    ///         id never minted).
    function brain(uint256 brainId) external view returns (Brain memory b) {
        _requireMinted(brainId);
        b = _brains[brainId];
        b.limits = _limitsNow(brainId);
    }

    /// @notice The limits announced for a later epoch and the block they apply from; (the limits in force, 0) if no
    ///         change is pending.
    function pendingLimits(uint256 brainId) external view returns (BrainLimits memory limits_, uint64 fromBlock) {
        _requireMinted(brainId);
        PendingLimits storage p = _pending[brainId];
        if (p.fromBlock > block.number) return (p.limits, p.fromBlock);
        return (_limitsNow(brainId), 0);
    }

    /// @inheritdoc IBrainRegistry
    function minValidatorStakeAt(uint256 brainId, uint256 blockNumber) external view returns (uint256) {
        return _minValidatorStake[brainId].upperLookupRecent(SafeCast.toUint48(blockNumber));
    }

    /// @inheritdoc IBrainRegistry
    /// @dev False for an id never minted and for a deregistered Brain.
    function brainExists(uint256 brainId) public view returns (bool) {
        return brainId != 0 && brainId <= brainCount && deregisteredAt[brainId] == 0;
    }

    /// @inheritdoc IBrainRegistry
    /// @dev Readable for deregistered Brains too (seat bookkeeping of their neurons still needs it).
    function limits(uint256 brainId) external view returns (BrainLimits memory) {
        _requireMinted(brainId);
        return _limitsNow(brainId);
    }

    /// @inheritdoc IBrainRegistry
    /// @dev Readable for deregistered Brains too.
    function timing(uint256 brainId) external view returns (uint64 genesisBlock, uint32 tempo) {
        _requireMinted(brainId);
        Brain storage b = _brains[brainId];
        return (b.genesisBlock, b.tempo);
    }

    /// @inheritdoc IBrainRegistry
    /// @dev ERC721: reverts (ERC721NonexistentToken) for a deregistered Brain, whose NFT is burned.
    function ownerOf(uint256 brainId) public view override(ERC721, IBrainRegistry) returns (address) {
        return super.ownerOf(brainId);
    }

    /// @dev Refused while an epoch of the Brain is half-settled: its miner pool is already minted to Consensus and
    ///      its seats are frozen until the settlement finishes (anyone can finish it with `Consensus.settle`).
    function _deregister(uint256 brainId, bool pruned) private {
        if (IConsensus(emission.consensus()).settlementInProgress(brainId)) revert SettlementInProgress(brainId);
        address owner_ = ownerOf(brainId);
        deregisteredAt[brainId] = block.number;
        _burn(brainId);
        emission.onBrainRemoved(brainId);
        emit BrainDeregistered(brainId, owner_, pruned);
    }

    /// @dev The limits in force at the current block: an announced change once its block is reached.
    function _limitsNow(uint256 brainId) private view returns (BrainLimits memory) {
        PendingLimits storage p = _pending[brainId];
        if (p.fromBlock != 0 && block.number >= p.fromBlock) return p.limits;
        return _brains[brainId].limits;
    }

    function _setPriceDecay(uint256 blocks) private {
        if (blocks == 0 || blocks > MAX_PRICE_DECAY) revert InvalidPriceDecay();
        priceDecay = blocks;
        emit PriceDecayChanged(blocks);
    }

    function _setBrainImmunity(uint256 blocks) private {
        if (blocks > MAX_BRAIN_IMMUNITY) revert InvalidBrainImmunity();
        brainImmunity = blocks;
        emit BrainImmunityChanged(blocks);
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

    function _requireMinted(uint256 brainId) private view {
        if (brainId == 0 || brainId > brainCount) revert UnknownBrain(brainId);
    }
}
