import { InvalidModelError, UnsupportedOpError } from "./errors.ts";
import { attrInts, attrNumber, parseOnnxMulti, tensorData, type ConstTensor, type ParsedNode } from "./onnx.ts";

/**
 * Circuit squeeze for graphs (the transformer): ONNX → rounds of operations on several encrypted registers.
 *
 * Where the chain compiler (compiler.ts) turns one vector through stages, this one follows a DAG: a value may feed
 * several consumers (residual connections), registers are summed (levels aligned by mod-switching), ciphertexts are
 * multiplied by ciphertexts (the attention products against the miner's cache of rows, the activation's square) and
 * summed by rotations. Each Softmax is a round boundary: its input's encrypted part goes back to the client, which
 * adds its own bias input, applies the softmax exactly and sends the weights encrypted — the miner learns nothing
 * more (it sees ciphertexts), the client only learns about its own prompt. Optional `cuts` end a round on a named
 * value (a refresh: the client decrypts and re-encrypts it at the top level, applying the square exactly if that is
 * what comes next), trading a round trip for levels.
 *
 * The graph contract (ONNX metadata, written by the exporter): `cerberus.cache` names the input [W, d] whose rows the
 * miner keeps between words (the key/value cache: the model's attention reads only these rows), `cerberus.query` the
 * input [1, d] that is the newest row (uploaded once per word and appended to the cache), `cerberus.client` an input
 * only the client holds (added to the scores before the softmax), `cerberus.result` the output the last round returns
 * (the logits); other graph outputs are taps a plaintext reference may read (e.g. what a refresh returns). Supported ops: MatMul (encrypted × constant;
 * encrypted row × transposed cache; softmax weights × cache), Add, Sub, Mul (constants, encrypted sums, squares),
 * Softmax (last axis, over scores + client input), Transpose (of the cache), Constant, Identity, Reshape, Flatten,
 * Squeeze, Unsqueeze. Anything else throws UnsupportedOpError naming the op and the node.
 *
 * Every encrypted value is symbolic until something needs it as a register: Σ_k (a1_k ⊙ r_k + a2_k ⊙ r_k²) + c0 over
 * registers r_k. A matrix folds a single degree-1 term's scale and offset into its weights and bias (no level); a sum
 * of terms becomes one `sum` op (adds, levels aligned); a square of one term completes the square (the shift goes
 * into the bias of the linear op that produced the register when nothing else reads it).
 */
export type Layout = "rep" | "rowsum" | "weights" | "blocks";

export interface RegisterInfo { readonly id: number; readonly dim: number; readonly layout: Layout; readonly name: string }

export type RoundInput =
  /** The newest row, uploaded in its cache block; appended to the cache and replicated. */
  | { kind: "query"; reg: number }
  /** softmax(output + client input) over the window's rows, as row weights. */
  | { kind: "softmax"; reg: number; of: number; client: string }
  /** A register the client decrypted and re-encrypts at the top level (optionally squared with a shift: `square`). */
  | { kind: "refresh"; reg: number; of: number; square: Float64Array | null };

export type GraphOp =
  | { op: "linear"; dst: number; src: number; inDim: number; outDim: number; M: Float64Array; bias: Float64Array }
  | { op: "sum"; dst: number; terms: number[]; bias: Float64Array | null }
  | { op: "square"; dst: number; src: number; shift: Float64Array | null }
  | { op: "cacheDot"; dst: number; src: number }
  | { op: "cacheMix"; dst: number; src: number };

export interface GraphRound {
  readonly inputs: RoundInput[];
  readonly ops: GraphOp[];
  /** Registers returned to the client at the round's end (decrypted by it). */
  readonly outputs: number[];
}

export interface RoundGraph {
  readonly kind: "rounds";
  readonly width: number;
  readonly window: number;
  readonly registers: RegisterInfo[];
  readonly rounds: GraphRound[];
  /** The values each round returns, by their ONNX names (a validator fetches the same names from its reference). */
  readonly outputs: { name: string; reg: number; round: number }[];
  readonly inputs: { cache: string; query: string; client: string };
}

interface Term { reg: number; a1: Float64Array; a2: Float64Array | null }
type Val =
  | { kind: "const"; t: ConstTensor }
  | { kind: "enc"; dim: number; terms: Term[]; c0: Float64Array }
  | { kind: "cache" } | { kind: "cacheT" }
  | { kind: "client"; name: string }
  | { kind: "scores"; reg: number; name: string }
  | { kind: "biasedScores"; reg: number; client: string; name: string }
  | { kind: "weights"; reg: number };

const PASS_THROUGH = new Set(["Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze"]);
const SUPPORTED = "MatMul, Add, Sub, Mul, Softmax, Transpose (of the cache), Constant, Identity, Reshape, Flatten, Squeeze, Unsqueeze";

export interface GraphCompileOptions {
  /** ONNX value names after which a round ends (refresh by the client). */
  readonly cuts?: readonly string[];
}

export function compileGraph(bytes: Uint8Array, options: GraphCompileOptions = {}): RoundGraph {
  const g = parseOnnxMulti(bytes);
  const meta = (k: string) => {
    const v = g.metadata.get(k);
    if (v === undefined) throw new InvalidModelError(`graph metadata lacks ${k} (the cache / query / client contract)`);
    return v;
  };
  const cacheName = meta("cerberus.cache"), queryName = meta("cerberus.query"), clientName = meta("cerberus.client");
  const resultName = meta("cerberus.result");
  if (!g.outputs.includes(resultName)) throw new InvalidModelError(`the result ${resultName} is not a graph output`);
  const inputOf = (n: string) => {
    const i = g.inputs.find((x) => x.name === n);
    if (!i) throw new InvalidModelError(`metadata names input ${n}, which the graph does not have`);
    return i;
  };
  const cacheIn = inputOf(cacheName), queryIn = inputOf(queryName), clientIn = inputOf(clientName);
  if (cacheIn.dims.length !== 2) throw new InvalidModelError(`cache input ${cacheName} must be [rows, width]`);
  const [window, width] = cacheIn.dims as [number, number];
  if (queryIn.dims.reduce((a, b) => a * b, 1) !== width) throw new InvalidModelError(`query input ${queryName} must hold ${width} values`);
  if (clientIn.dims.reduce((a, b) => a * b, 1) !== window) throw new InvalidModelError(`client input ${clientName} must hold ${window} values`);
  for (const i of g.inputs) if (![cacheName, queryName, clientName].includes(i.name)) throw new InvalidModelError(`input ${i.name} is not part of the graph contract`);

  const registers: RegisterInfo[] = [];
  const rounds: GraphRound[] = [{ inputs: [], ops: [], outputs: [] }];
  const cur = () => rounds[rounds.length - 1]!;
  const newReg = (dim: number, layout: Layout, name: string) => { registers.push({ id: registers.length, dim, layout, name }); return registers.length - 1; };
  const producer = new Map<number, GraphOp>();
  const consumers = new Map<number, number>();
  const consume = (r: number) => consumers.set(r, (consumers.get(r) ?? 0) + 1);
  const emit = (op: GraphOp) => { cur().ops.push(op); producer.set(op.dst, op); };
  const roundOf = new Map<number, number>();
  const defined = (r: number) => roundOf.set(r, rounds.length - 1);
  const squares: { op: Extract<GraphOp, { op: "square" }>; shift: Float64Array }[] = [];
  const clientSquare = new Map<number, Extract<RoundInput, { kind: "refresh" }>>();

  const query = newReg(width, "rep", queryName);
  cur().inputs.push({ kind: "query", reg: query });
  defined(query);
  const vals = new Map<string, Val>();
  for (const [name, t] of g.initializers) vals.set(name, { kind: "const", t });
  vals.set(cacheName, { kind: "cache" });
  vals.set(queryName, single(query, width));
  vals.set(clientName, { kind: "client", name: clientName });

  const get = (node: ParsedNode, i: number): Val => {
    const name = node.inputs[i];
    const v = name === undefined ? undefined : vals.get(name);
    if (!v) throw new InvalidModelError(`${node.op} ${node.name}: input ${i} (${name ?? "missing"}) is not defined`);
    return v;
  };
  const unsupported = (node: ParsedNode, detail: string): never => {
    throw new UnsupportedOpError(node.op || "(empty)", `node ${node.name}: ${detail}`);
  };

  /** The register holding v (emitting a sum or a square when needed) and the affine to fold into a linear consumer. */
  const materialize = (v: Extract<Val, { kind: "enc" }>, node: ParsedNode, forLinear: boolean): { reg: number; scale: Float64Array; shift: Float64Array } => {
    const quad = v.terms.filter((t) => t.a2 !== null && t.a2.some((x) => x !== 0));
    if (v.terms.length === 0) unsupported(node, "its encrypted input has become a constant");
    if (quad.length > 0) {
      if (v.terms.length !== 1) unsupported(node, "a square summed with other encrypted terms");
      const t = v.terms[0]!;
      const a2 = t.a2!;
      if (a2.some((x) => x === 0)) unsupported(node, "a quadratic whose square coefficient is zero for some elements only");
      const shift = t.a1.map((x, i) => x / (2 * a2[i]!));
      const constant = v.c0.map((x, i) => x - (t.a1[i]! * t.a1[i]!) / (4 * a2[i]!));
      consume(t.reg);
      const refresh = clientSquare.get(t.reg);
      if (refresh !== undefined && refresh.square === null && (consumers.get(t.reg) ?? 0) === 1) {
        // The client re-encrypts this register anyway: it squares it exactly (with the shift), no level spent here.
        refresh.square = shift;
        return finish(t.reg, a2, constant, forLinear, node);
      }
      const dst = newReg(v.dim, "rep", `${node.name}:square`);
      const op: Extract<GraphOp, { op: "square" }> = { op: "square", dst, src: t.reg, shift };
      emit(op);
      defined(dst);
      squares.push({ op, shift });
      return finish(dst, a2, constant, forLinear, node);
    }
    if (v.terms.length === 1) {
      const t = v.terms[0]!;
      consume(t.reg);
      return finish(t.reg, t.a1, v.c0, forLinear, node);
    }
    // A sum of registers: plain adds (element-wise scaled terms would each cost a level; none of our graphs has one).
    for (const t of v.terms) if (t.a1.some((x) => x !== 1)) unsupported(node, "a sum of encrypted terms with element-wise weights other than 1");
    const dst = newReg(v.dim, "rep", `${node.name}:sum`);
    v.terms.forEach((t) => consume(t.reg));
    emit({ op: "sum", dst, terms: v.terms.map((t) => t.reg), bias: v.c0.some((x) => x !== 0) ? v.c0 : null });
    defined(dst);
    return { reg: dst, scale: ones(v.dim), shift: zeros(v.dim) };
  };
  const finish = (reg: number, scale: Float64Array, shift: Float64Array, forLinear: boolean, node: ParsedNode) => {
    if (!forLinear && (scale.some((x) => x !== 1) || shift.some((x) => x !== 0))) {
      unsupported(node, "an element-wise affine map that no matrix can absorb");
    }
    return { reg, scale, shift };
  };

  const endRound = (outputs: number[]) => {
    cur().outputs.push(...outputs);
    rounds.push({ inputs: [], ops: [], outputs: [] });
  };
  const cuts = new Set(options.cuts ?? []);
  const roundNames: { name: string; reg: number; round: number }[] = [];

  for (const node of g.nodes) {
    const out = node.outputs[0];
    if (node.outputs.length !== 1 || !out) throw new InvalidModelError(`${node.op} ${node.name} must have one output`);
    const result = ((): Val => {
      switch (node.op) {
        case "Constant": {
          const a = node.attrs.get("value");
          if (!a?.t) return unsupported(node, "only the tensor `value` form of Constant");
          return { kind: "const", t: tensorData(a.t) };
        }
        case "Transpose": {
          const a = get(node, 0);
          const perm = attrInts(node, "perm");
          if (a.kind === "cache" && (perm === undefined || (perm[0] === 1 && perm[1] === 0))) return { kind: "cacheT" };
          return unsupported(node, "only the transpose of the cache");
        }
        case "MatMul": {
          const a = get(node, 0), b = get(node, 1);
          if (a.kind === "enc" && b.kind === "const") {
            if (b.t.dims.length !== 2) throw new InvalidModelError(`MatMul ${node.name}: weight must be 2-D`);
            const [inDim, outDim] = b.t.dims as [number, number];
            if (inDim !== a.dim) throw new InvalidModelError(`MatMul ${node.name}: weight expects ${inDim} inputs, vector has ${a.dim}`);
            const pre = materialize(a, node, true);
            const M = new Float64Array(outDim * inDim), bias = new Float64Array(outDim);
            for (let o = 0; o < outDim; o++) {
              let acc = 0;
              for (let i = 0; i < inDim; i++) {
                const w = b.t.data[i * outDim + o]!;
                M[o * inDim + i] = w * pre.scale[i]!;
                acc += w * pre.shift[i]!;
              }
              bias[o] = acc;
            }
            const dst = newReg(outDim, outDim > 4096 ? "blocks" : "rep", node.name);
            // A matrix runs in the round its input is computed in, even if the graph lists it later (e.g. the FFN's
            // matrix on the query row runs beside the scores' one, sharing its rotations; the miner keeps the result).
            const home = roundOf.get(pre.reg) ?? rounds.length - 1;
            const op: GraphOp = { op: "linear", dst, src: pre.reg, inDim, outDim, M, bias };
            rounds[home]!.ops.push(op);
            producer.set(dst, op);
            roundOf.set(dst, home);
            return single(dst, outDim);
          }
          if (a.kind === "enc" && b.kind === "cacheT") {
            if (a.dim !== width) throw new InvalidModelError(`MatMul ${node.name}: a row of ${a.dim} values against cache rows of ${width}`);
            const pre = materialize(a, node, false);
            const dst = newReg(window, "rowsum", node.name);
            emit({ op: "cacheDot", dst, src: pre.reg });
            defined(dst);
            return { kind: "scores", reg: dst, name: out };
          }
          if (a.kind === "weights" && b.kind === "cache") {
            consume(a.reg);
            const dst = newReg(width, "rep", node.name);
            emit({ op: "cacheMix", dst, src: a.reg });
            defined(dst);
            return single(dst, width);
          }
          return unsupported(node, `operands ${a.kind} × ${b.kind} (supported: encrypted vector × constant, row × transposed cache, softmax weights × cache)`);
        }
        case "Add":
        case "Sub": {
          const a = get(node, 0), b = get(node, 1);
          const sign = node.op === "Sub" ? -1 : 1;
          if (a.kind === "const" && b.kind === "const") return constBinary(a.t, b.t, (x, y) => x + sign * y, node);
          if (a.kind === "scores" && b.kind === "client" && sign > 0) return { kind: "biasedScores", reg: a.reg, client: b.name, name: a.name };
          if (a.kind === "client" && b.kind === "scores" && sign > 0) return { kind: "biasedScores", reg: b.reg, client: a.name, name: b.name };
          if (a.kind === "enc" && b.kind === "const") return { ...a, c0: a.c0.map((x, i) => x + sign * bcast(b.t, a.dim, node)[i]!) };
          if (a.kind === "const" && b.kind === "enc") {
            const nb = sign < 0 ? scaleVal(b, fill(b.dim, -1)) : b;
            return { ...nb, c0: nb.c0.map((x, i) => x + bcast(a.t, b.dim, node)[i]!) };
          }
          if (a.kind === "enc" && b.kind === "enc") return addVals(a, sign < 0 ? scaleVal(b, fill(b.dim, -1)) : b, node);
          return unsupported(node, `${node.op} of ${a.kind} and ${b.kind}`);
        }
        case "Mul": {
          let a = get(node, 0), b = get(node, 1);
          if (a.kind === "const" && b.kind === "const") return constBinary(a.t, b.t, (x, y) => x * y, node);
          if (a.kind === "enc" && b.kind === "const") return scaleVal(a, bcast(b.t, a.dim, node));
          if (a.kind === "const" && b.kind === "enc") return scaleVal(b, bcast(a.t, b.dim, node));
          if (a.kind === "enc" && b.kind === "enc") {
            // A product needs its operands as registers: a sum of registers becomes one (once: later readers of the
            // same ONNX value see the register).
            for (const i of [0, 1]) {
              const v = get(node, i);
              if (v.kind === "enc" && v.terms.length > 1) vals.set(node.inputs[i]!, single(materialize(v, node, false).reg, v.dim));
            }
            a = get(node, 0);
            b = get(node, 1);
            return mulVals(a as Extract<Val, { kind: "enc" }>, b as Extract<Val, { kind: "enc" }>, node);
          }
          return unsupported(node, `Mul of ${a.kind} and ${b.kind}`);
        }
        case "Softmax": {
          const a = get(node, 0);
          const axis = attrNumber(node, "axis", -1);
          if (a.kind !== "biasedScores" || (axis !== -1 && axis !== 1)) return unsupported(node, "only a softmax over the last axis of scores + the client's input");
          if (a.name === undefined) return unsupported(node, "scores without a name");
          // Round boundary: the scores go back to the client, the weights come next round.
          roundNames.push({ name: a.name, reg: a.reg, round: rounds.length - 1 });
          endRound([a.reg]);
          const reg = newReg(window, "weights", node.name);
          cur().inputs.push({ kind: "softmax", reg, of: a.reg, client: a.client });
          defined(reg);
          return { kind: "weights", reg };
        }
        default:
          if (PASS_THROUGH.has(node.op)) {
            const a = get(node, 0);
            if (a.kind === "const") return unsupported(node, "on constants (fold it offline)");
            return a;
          }
          return unsupported(node, `supported: ${SUPPORTED}`);
      }
    })();
    vals.set(out, result);
    if (cuts.has(out)) {
      if (result.kind !== "enc") throw new UnsupportedOpError("cut", `node ${node.name}: a round can only end on an encrypted vector (${out} is ${result.kind})`);
      const m = materialize(result, node, false);
      roundNames.push({ name: out, reg: m.reg, round: rounds.length - 1 });
      endRound([m.reg]);
      const reg = newReg(result.dim, "rep", `${out}:refresh`);
      const input: Extract<RoundInput, { kind: "refresh" }> = { kind: "refresh", reg, of: m.reg, square: null };
      cur().inputs.push(input);
      clientSquare.set(reg, input);
      defined(reg);
      vals.set(out, single(reg, result.dim));
      cuts.delete(out);
    }
  }
  if (cuts.size > 0) throw new InvalidModelError(`cut values not in the graph: ${[...cuts].join(", ")}`);

  // The result ends the last round; what every earlier round returns was recorded at its boundary.
  const v = vals.get(resultName);
  if (v?.kind !== "enc") throw new InvalidModelError(`result ${resultName} is not computed from the encrypted inputs`);
  const last = { name: resultName, reg: finalRegister(v, resultName), round: rounds.length - 1 };
  cur().outputs.push(last.reg);
  const outputs: RoundGraph["outputs"] = [...roundNames, last];
  for (const o of roundNames) if (!g.outputs.includes(o.name)) throw new InvalidModelError(`round ${o.round} returns ${o.name}, which is not a graph output (a reference could not check it)`);

  // Squares: fold the shift into the bias of the linear op that produced the register when nothing else reads it.
  for (const { op, shift } of squares) {
    const prod = producer.get(op.src);
    if (prod?.op === "linear" && (consumers.get(op.src) ?? 0) === 1) {
      for (let i = 0; i < shift.length; i++) prod.bias[i] = prod.bias[i]! + shift[i]!;
      op.shift = null;
    } else if (prod?.op === "sum" && (consumers.get(op.src) ?? 0) === 1) {
      prod.bias = (prod.bias ?? zeros(shift.length)).map((x, i) => x + shift[i]!);
      op.shift = null;
    }
  }
  return { kind: "rounds", width, window, registers, rounds, outputs, inputs: { cache: cacheName, query: queryName, client: clientName } };

  function finalRegister(v: Extract<Val, { kind: "enc" }>, name: string): number {
    // A trailing affine on a linear register folds into its rows (free), as the chain compiler does.
    if (v.terms.length === 1 && (v.terms[0]!.a2 === null || v.terms[0]!.a2.every((x) => x === 0))) {
      const t = v.terms[0]!;
      const prod = producer.get(t.reg);
      if (prod?.op === "linear" && (consumers.get(t.reg) ?? 0) === 0) {
        for (let o = 0; o < prod.outDim; o++) {
          for (let i = 0; i < prod.inDim; i++) prod.M[o * prod.inDim + i] = prod.M[o * prod.inDim + i]! * t.a1[o]!;
          prod.bias[o] = t.a1[o]! * prod.bias[o]! + v.c0[o]!;
        }
        consume(t.reg);
        return t.reg;
      }
    }
    return materialize(v, { op: "output", name, inputs: [], outputs: [], attrs: new Map() }, false).reg;
  }
}

function single(reg: number, dim: number): Val {
  return { kind: "enc", dim, terms: [{ reg, a1: ones(dim), a2: null }], c0: zeros(dim) };
}
function zeros(n: number): Float64Array { return new Float64Array(n); }
function ones(n: number): Float64Array { return new Float64Array(n).fill(1); }
function fill(n: number, x: number): Float64Array { return new Float64Array(n).fill(x); }
function bcast(t: ConstTensor, n: number, node: ParsedNode): Float64Array {
  if (t.data.length === 1) return fill(n, t.data[0]!);
  if (t.data.length === n) return Float64Array.from(t.data);
  throw new InvalidModelError(`${node.op} ${node.name}: constant of ${t.data.length} values vs vector of ${n}`);
}
function constBinary(a: ConstTensor, b: ConstTensor, f: (x: number, y: number) => number, node: ParsedNode): Val {
  if (a.data.length === b.data.length) return { kind: "const", t: { dims: a.dims, data: a.data.map((x, i) => f(x, b.data[i]!)) } };
  if (b.data.length === 1) return { kind: "const", t: { dims: a.dims, data: a.data.map((x) => f(x, b.data[0]!)) } };
  if (a.data.length === 1) return { kind: "const", t: { dims: b.dims, data: b.data.map((y) => f(a.data[0]!, y)) } };
  throw new UnsupportedOpError(node.op, `node ${node.name}: constant broadcasting of [${a.dims}] with [${b.dims}]`);
}
function scaleVal(v: Extract<Val, { kind: "enc" }>, k: Float64Array): Extract<Val, { kind: "enc" }> {
  return { ...v, terms: v.terms.map((t) => ({ reg: t.reg, a1: t.a1.map((x, i) => x * k[i]!), a2: t.a2 ? t.a2.map((x, i) => x * k[i]!) : null })),
    c0: v.c0.map((x, i) => x * k[i]!) };
}
function addVals(a: Extract<Val, { kind: "enc" }>, b: Extract<Val, { kind: "enc" }>, node: ParsedNode): Val {
  if (a.dim !== b.dim) throw new InvalidModelError(`${node.op} ${node.name}: vectors of ${a.dim} and ${b.dim} values`);
  const terms = a.terms.map((t) => ({ ...t }));
  for (const t of b.terms) {
    const same = terms.find((x) => x.reg === t.reg);
    if (same) {
      same.a1 = same.a1.map((x, i) => x + t.a1[i]!);
      same.a2 = same.a2 || t.a2 ? (same.a2 ?? zeros(a.dim)).map((x, i) => x + (t.a2?.[i] ?? 0)) : null;
    } else terms.push({ ...t });
  }
  return { kind: "enc", dim: a.dim, terms, c0: a.c0.map((x, i) => x + b.c0[i]!) };
}
function mulVals(a: Extract<Val, { kind: "enc" }>, b: Extract<Val, { kind: "enc" }>, node: ParsedNode): Val {
  // Only products of one register with itself, of total degree ≤ 2: (p·r + q)(s·r + t).
  if (a.terms.length !== 1 || b.terms.length !== 1 || a.terms[0]!.reg !== b.terms[0]!.reg || a.terms[0]!.a2 || b.terms[0]!.a2) {
    throw new UnsupportedOpError("Mul", `node ${node.name}: only the square of one encrypted value (total degree ≤ 2)`);
  }
  const p = a.terms[0]!.a1, q = a.c0, s = b.terms[0]!.a1, t = b.c0;
  return {
    kind: "enc", dim: a.dim,
    terms: [{ reg: a.terms[0]!.reg, a1: p.map((x, i) => x * t[i]! + q[i]! * s[i]!), a2: p.map((x, i) => x * s[i]!) }],
    c0: q.map((x, i) => x * t[i]!),
  };
}
