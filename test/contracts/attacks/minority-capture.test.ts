/**
 * Minority capture: a validator with 57% of the revealed stake but 40% of the Brain's eligible validator stake puts
 * everything on one miner while others fail to reveal. Non-revealing stake abstains (it counts in the median's
 * total), so a coalition under half of the eligible stake cannot move consensus: the miner does not get 100%.
 */
import { expect } from "chai";
import * as h from "../helpers";
import { world, nextEpoch, row } from "../fixture";

describe("attack: minority capture", () => {
  it("57% of the revealed but 40% of the total stake cannot give one miner the whole miner pool", async () => {
    // stakes 400 (attacker, 40%) / 300 (honest, reveals) / 200 + 100 (commit, do not reveal)
    const w = await world();
    const epoch = await nextEpoch(w);
    const rows = [row([0, 0, 0, 0, 0, 65535], 0), row([100, 90, 80, 70, 60, 0], 1)];
    rows.push(row([100, 90, 80, 70, 60, 0], 2), row([100, 90, 80, 70, 60, 0], 3));
    await h.gotoCommitWindow(w, w.brainId, epoch);
    await h.commitAll(w, w.brainId, epoch, w.validators, rows);
    await h.gotoRevealWindow(w, w.brainId, epoch);
    await h.revealAll(w, w.brainId, epoch, w.validators.slice(0, 2), rows.slice(0, 2));
    await h.gotoSettle(w, w.brainId, epoch);
    await (await w.consensus.settle(w.brainId, epoch, 1000)).wait();
    const [ev] = await w.consensus.queryFilter(w.consensus.filters.EpochSettled(w.brainId, epoch));
    const captured = await w.consensus.minerPending(w.brainId, 5);
    const inc = (await w.consensus.minerIncentives(w.brainId))[5];
    const msg = `miner 5 got ${captured} of ${ev.args.minerPaid} paid to miners (incentive ${inc}/65535)`;
    expect(inc, msg).to.be.lessThan(65534n);
    if (ev.args.minerPaid > 0n) expect(captured, msg).to.be.lessThan(ev.args.minerPaid);
  });
});
