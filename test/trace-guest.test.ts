// The guest of a trace-driven VM: the balloon takes freed pages first, then never-used ones; a
// page the trace touches while ballooned goes back to the guest; taking pages back from the balloon
// returns exactly the pages it still holds, whatever happened in between.
import { describe, expect, it } from "vitest";
import { Machine } from "../src/core/machine.ts";
import { TraceGuest } from "../src/policy/trace-guest.ts";
import { xorshift32 } from "./helpers/random.ts";

describe("trace guest balloon", () => {
  it("gives freed pages first, and takes back only pages the balloon still holds", () => {
    const machine = Machine.create({ frames: 256, swap: "memory" });
    try {
      const vm = machine.addVm({ pages: 64 });
      const guest = new TraceGuest(machine, vm);
      guest.allocate(0, 8);
      guest.free(4, 2);
      expect(guest.giveToBalloon(3)).toEqual([5, 4, 8]); // freed (most recent first), then never used
      expect(guest.use(4)).toBe(true); // the trace touched a ballooned page: the guest took it back
      expect(guest.use(4)).toBe(false);
      expect(guest.balloonPages).toBe(2);
      expect(guest.takeFromBalloon(10).sort((a, b) => a - b)).toEqual([5, 8]);
      expect(guest.balloonPages).toBe(0);
    } finally {
      machine.dispose();
    }
  });

  it("keeps its count and its pages right over many inflations, take-backs and deflations", () => {
    const machine = Machine.create({ frames: 4096, swap: "memory" });
    try {
      const pages = 2048;
      const vm = machine.addVm({ pages });
      const guest = new TraceGuest(machine, vm);
      const next = xorshift32(7);
      const held = new Set<number>();
      for (let step = 0; step < 20_000; step++) {
        const r = next() % 3;
        if (r === 0) for (const gpn of guest.giveToBalloon(1 + (next() % 16))) held.add(gpn);
        else if (r === 1) {
          const gpn = next() % pages;
          expect(guest.use(gpn)).toBe(held.delete(gpn));
          if (next() % 2 === 0) guest.free(gpn, 1);
        } else {
          for (const gpn of guest.takeFromBalloon(1 + (next() % 8))) expect(held.delete(gpn)).toBe(true);
        }
        expect(guest.balloonPages).toBe(held.size);
      }
      expect(new Set(guest.takeFromBalloon(pages))).toEqual(held);
    } finally {
      machine.dispose();
    }
  });
});
