import { loadSeal, getContext } from "./seal.ts";
import { PARAM_SETS } from "./params.ts";
const seal = await loadSeal();
const fc = getContext(seal, PARAM_SETS["n8192-l3"]);
console.log(fc.primeAt, fc.primeAt.map(Math.log2), fc.parmsIds.length, fc.parmsIdValues);
