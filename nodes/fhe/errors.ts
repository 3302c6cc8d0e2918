import { CerberusError } from "../core/errors.ts";

/**
 * Typed errors of the FHE engine. Every failure a peer can provoke (bad model, bad keys, bad ciphertext) ends in one
 * of these — never in a WASM abort — so a miner serving many sessions stays healthy. Codes are stable (wire-visible).
 */
export class FheError extends CerberusError {}

/** The ONNX graph uses an op (or op form) the compiler cannot run under CKKS; the message names the op. */
export class UnsupportedOpError extends FheError {
  readonly op: string;
  constructor(op: string, detail: string) {
    super("FHE_UNSUPPORTED_OP", `unsupported ONNX op ${op}: ${detail}`);
    this.op = op;
  }
}
/** The model bytes are not a well-formed ONNX model of the expected shape (one input vector, one output). */
export class InvalidModelError extends FheError {
  constructor(message: string, options?: { cause?: unknown }) { super("FHE_INVALID_MODEL", message, options); }
}
/** The compiled plan needs more multiplicative levels than the chosen (or any) parameter set provides. */
export class LevelBudgetError extends FheError {
  readonly needed: number;
  constructor(needed: number, message: string) { super("FHE_LEVEL_BUDGET", message); this.needed = needed; }
}
/** Unknown parameter-set name, or material made under another parameter set / plan. */
export class ParamsMismatchError extends FheError {
  constructor(message: string) { super("FHE_PARAMS_MISMATCH", message); }
}
/** A serialized ciphertext failed validation (header, compression, parms id, size, scale, count). */
export class CiphertextInvalidError extends FheError {
  constructor(message: string, options?: { cause?: unknown }) { super("FHE_CIPHERTEXT_INVALID", message, options); }
}
/** A serialized object is larger than the plan's cap for it (checked before SEAL sees a byte). */
export class SizeCapError extends FheError {
  constructor(what: string, size: number, cap: number) {
    super("FHE_SIZE_CAP", `${what} is ${size} bytes, over the cap of ${cap} bytes`);
  }
}
/**
 * A zstd-compressed SEAL object would inflate beyond the plan's bound for its kind (a decompression bomb), as read
 * from its block headers before SEAL inflates anything.
 */
export class InflateCapError extends FheError {
  readonly inflatesTo: number;
  readonly cap: number;
  constructor(what: string, inflatesTo: number, cap: number) {
    super("FHE_INFLATE_CAP", `${what} would inflate to ≥ ${inflatesTo} bytes, over its cap of ${cap} bytes`);
    this.inflatesTo = inflatesTo;
    this.cap = cap;
  }
}
/** Session key material is malformed, from another context, or lacks a rotation step the plan needs. */
export class KeysInvalidError extends FheError {
  constructor(message: string, options?: { cause?: unknown }) { super("FHE_KEYS_INVALID", message, options); }
}
/** Client input vector of the wrong length / non-finite values, or output count mismatch. */
export class ShapeError extends FheError {
  constructor(message: string) { super("FHE_SHAPE", message); }
}
/** Use of a closed session / disposed evaluator or client. */
export class ClosedError extends FheError {
  constructor(what: string) { super("FHE_CLOSED", `${what} is closed`); }
}
/**
 * The worker thread holding this session died or was retired after an unexpected (non-typed) failure; its keys went
 * with it. The pool starts a replacement; the client opens a new session.
 */
export class WorkerLostError extends FheError {
  constructor(message: string) { super("FHE_WORKER_LOST", message); }
}
/** A plan descriptor (from the network) failed schema validation or does not match this model. */
export class PlanDescriptorError extends FheError {
  constructor(message: string, options?: { cause?: unknown }) { super("FHE_PLAN_DESCRIPTOR", message, options); }
}

/** One half of a step split over two workers failed, vanished or took longer than the split channel allows. */
export class SplitAbortedError extends FheError {
  constructor(message: string) { super("FHE_SPLIT_ABORTED", message); }
}
