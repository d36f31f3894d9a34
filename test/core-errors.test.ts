// Every bad input to the `Machine` API gets a typed error (class and code) whose message says what
// was expected and what was found.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Machine } from "../src/core/machine.ts";
import {
  ImageFormatError, InvalidArgumentError, OutOfFramesError, OvercommitError, type OvercommitErrorCode,
} from "../src/core/errors.ts";

const PAGE = 4096;

/** Runs `action`, expecting an error of `type` with `code` whose message contains every `parts`. */
function expectError(
  action: () => unknown,
  type: abstract new (...args: never[]) => OvercommitError,
  code: OvercommitErrorCode,
  parts: readonly (string | RegExp)[],
): OvercommitError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected an error").toBeInstanceOf(type);
  const error = caught as OvercommitError;
  expect(error).toBeInstanceOf(OvercommitError);
  expect(error.code).toBe(code);
  for (const part of parts) expect(error.message).toMatch(part);
  return error;
}

async function expectRejection(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => OvercommitError,
  code: OvercommitErrorCode,
  parts: readonly (string | RegExp)[],
): Promise<OvercommitError> {
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught, "expected a rejection").toBeInstanceOf(type);
  const error = caught as OvercommitError;
  expect(error.code).toBe(code);
  for (const part of parts) expect(error.message).toMatch(part);
  return error;
}

let machine: Machine;
let dir: string;

beforeAll(() => {
  machine = Machine.create({ frames: 64 });
  machine.addVm({ pages: 16, name: "web" });
  machine.addVm({ pages: 8 });
  dir = mkdtempSync(join(tmpdir(), "overcommit-errors-"));
});

afterAll(() => {
  machine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("unknown VM", () => {
  it.each([
    ["2 (one past the last)", 2],
    ["-1", -1],
    ["1.5", 1.5],
    ["NaN", Number.NaN],
  ])("vm %s: UNKNOWN_VM naming the VM and the valid ids", (_label, vm) => {
    for (const action of [
      () => machine.readPage(vm, 0),
      () => machine.writeSeed(vm, 0, 1n),
      () => machine.touch(vm, [0]),
      () => machine.vmCounters(vm),
      () => machine.pageInfo(vm, 0),
      () => machine.swapIn(vm, [0]),
      () => machine.swapOut(vm, [0]),
      () => machine.scanVmOrder(vm, 1n, 0, 1),
      () => machine.loadPages(vm, 0, new Uint8Array(PAGE)),
    ]) {
      expectError(action, InvalidArgumentError, "UNKNOWN_VM", [`VM ${String(vm)}`, /no such VM/, /has 2/, /ids 0\.\.1/]);
    }
  });

  it("loadImage of an unknown VM rejects with UNKNOWN_VM", async () => {
    await expectRejection(
      Promise.resolve().then(() => machine.loadImage(7, join(dir, "none.img"))),
      InvalidArgumentError, "UNKNOWN_VM", ["VM 7", /no such VM/],
    );
  });
});

describe("GPN out of range", () => {
  it.each([
    ["16 (one past the end)", 16],
    ["-1", -1],
    ["2.5", 2.5],
  ])("gpn %s: GPN_OUT_OF_RANGE naming the GPN, the VM and the range", (_label, gpn) => {
    for (const action of [
      () => machine.readPage(0, gpn),
      () => machine.writePage(0, gpn, new Uint8Array(PAGE)),
      () => machine.writeBytes(0, gpn, 0, Uint8Array.of(1)),
      () => machine.writeSeed(0, gpn, 1n),
      () => machine.pageInfo(0, gpn),
      () => machine.touch(0, [0, gpn]),
      () => machine.writeSeeds(0, [gpn], [1n]),
      () => machine.compress(0, [gpn]),
      () => machine.swapOut(0, [gpn]),
      () => machine.swapIn(0, [gpn]),
      () => machine.inflate(0, [gpn]),
      () => machine.deflate(0, [gpn]),
      () => machine.scanPages(0, [gpn]),
      () => machine.moveToLowMemory(0, [gpn]),
      () => machine.clearAccessed(0, [gpn]),
      () => machine.countAccessed(0, [gpn]),
    ]) {
      expectError(action, InvalidArgumentError, "GPN_OUT_OF_RANGE", [`GPN ${gpn}`, "vm 0", "(web)", /expected 0\.\.15/]);
    }
  });

  it("a batch with one bad GPN does nothing at all (validated before it crosses the boundary)", () => {
    const before = machine.vmCounters(1);
    expectError(() => machine.writeSeeds(1, [0, 1, 8], [1n, 2n, 3n]), InvalidArgumentError, "GPN_OUT_OF_RANGE", ["GPN 8", "vm 1", /expected 0\.\.7/]);
    expect(machine.vmCounters(1)).toEqual(before);
    expect(machine.pageInfo(1, 0).state).toBe("untouched");
  });

  it("loadPages past the end of the VM names the page range and the VM's range", () => {
    expectError(
      () => machine.loadPages(1, 6, new Uint8Array(3 * PAGE)),
      InvalidArgumentError, "GPN_OUT_OF_RANGE", ["pages 6..8", "vm 1", /expected GPNs 0\.\.7/],
    );
    expectError(() => machine.loadPages(1, -1, new Uint8Array(PAGE)), InvalidArgumentError, "GPN_OUT_OF_RANGE", ["vm 1", /expected GPNs 0\.\.7/]);
  });
});

describe("wrong page and byte-range sizes", () => {
  it.each([0, 4095, 4097, 8192])("writePage with %i bytes: expected 4096, found it", (length) => {
    expectError(() => machine.writePage(0, 0, new Uint8Array(length)), InvalidArgumentError, "INVALID_ARGUMENT", ["expected 4096 bytes", `found ${length}`]);
  });

  it("loadPages with a length that is not whole pages", () => {
    expectError(() => machine.loadPages(0, 0, new Uint8Array(5000)), InvalidArgumentError, "INVALID_ARGUMENT", [/multiple of 4096/, "found 5000"]);
  });

  it("writeBytes past the end of the page names offset, length and page size", () => {
    expectError(() => machine.writeBytes(0, 0, 4000, new Uint8Array(100)), InvalidArgumentError, "INVALID_ARGUMENT", ["offset 4000", "length 100", "4096-byte page"]);
    expectError(() => machine.writeBytes(0, 0, 1, new Uint8Array(PAGE)), InvalidArgumentError, "INVALID_ARGUMENT", ["offset 1", "length 4096"]);
  });

  it("writeBytes at a bad offset says what offsets are allowed", () => {
    for (const offset of [-1, 4097, 1.5]) {
      expectError(() => machine.writeBytes(0, 0, offset, Uint8Array.of(1)), InvalidArgumentError, "INVALID_ARGUMENT", ["byte offset", /from 0 to 4096/, `found ${offset}`]);
    }
  });

  it("writeSeeds with a seed count different from the page count", () => {
    expectError(() => machine.writeSeeds(0, [0, 1, 2], [1n, 2n]), InvalidArgumentError, "INVALID_ARGUMENT", ["one per page (3)", "found 2"]);
  });

  it("nothing was written by the rejected calls", () => {
    expect(machine.readPage(0, 0).every((b) => b === 0)).toBe(true);
    machine.audit();
  });
});

describe("memory images", () => {
  it("a size that is not a multiple of 4096: ImageFormatError naming the file and its size", async () => {
    const path = join(dir, "odd.img");
    writeFileSync(path, new Uint8Array(5000));
    const error = await expectRejection(machine.loadImage(0, path), ImageFormatError, "IMAGE_FORMAT", [path, "5000 bytes", /multiple of 4096/, /904 bytes/]);
    expect((error as ImageFormatError).file).toBe(path);
  });

  it("an image larger than the VM: ImageFormatError naming pages and the VM's size", async () => {
    const path = join(dir, "big.img");
    writeFileSync(path, new Uint8Array(9 * PAGE));
    await expectRejection(machine.loadImage(1, path), ImageFormatError, "IMAGE_FORMAT", [path, "9 pages", "vm 1", "of 8 pages"]);
    expect(machine.pageInfo(1, 0).state).toBe("untouched");
  });

  it("a missing file: ImageFormatError saying it cannot be opened", async () => {
    const path = join(dir, "missing.img");
    await expectRejection(machine.loadImage(0, path), ImageFormatError, "IMAGE_FORMAT", [path, /cannot open/]);
  });

  it("a good image loads (the control case)", async () => {
    const path = join(dir, "good.img");
    const bytes = new Uint8Array(2 * PAGE).map((_, i) => (i * 7) & 0xff);
    writeFileSync(path, bytes);
    expect(await machine.loadImage(1, path)).toBe(2);
    expect(Buffer.compare(machine.readPage(1, 1), bytes.subarray(PAGE))).toBe(0);
  });

  it("an image that does not fit machine memory: OutOfFramesError naming the file and the page", async () => {
    const small = Machine.create({ frames: 2 });
    try {
      small.addVm({ pages: 4 });
      const path = join(dir, "four.img");
      writeFileSync(path, new Uint8Array(4 * PAGE).fill(1));
      await expectRejection(small.loadImage(0, path), OutOfFramesError, "OUT_OF_FRAMES", [path, "2 frames", "page 2 of 4"]);
      small.audit();
    } finally {
      small.dispose();
    }
  });
});

describe("machine and VM sizes", () => {
  it("a machine too large for the 4 GiB WASM memory: MACHINE_TOO_LARGE with the limit", () => {
    expectError(() => Machine.create({ memoryMiB: 8192 }), OvercommitError, "MACHINE_TOO_LARGE", ["2097152 frames", "8192 MiB", /4 GiB WASM memory/, /at most about \d+ frames/]);
    expectError(() => Machine.create({ frames: 2_000_000 }), OvercommitError, "MACHINE_TOO_LARGE", ["2000000 frames"]);
  });

  it("bad machine options say what was expected", () => {
    expectError(() => Machine.create({}), InvalidArgumentError, "INVALID_ARGUMENT", [/give memoryMiB or frames/]);
    expectError(() => Machine.create({ frames: 0 }), InvalidArgumentError, "INVALID_ARGUMENT", ["frames", /from 1 to/, "found 0"]);
    expectError(() => Machine.create({ frames: 10.5 }), InvalidArgumentError, "INVALID_ARGUMENT", ["frames", "found 10.5"]);
    expectError(() => Machine.create({ frames: 16, lowFrames: 17 }), InvalidArgumentError, "INVALID_ARGUMENT", ["lowFrames", /from 0 to 16/, "found 17"]);
    expectError(() => Machine.create({ frames: 16, maxVms: 0 }), InvalidArgumentError, "INVALID_ARGUMENT", ["maxVms", "found 0"]);
  });

  it("bad VM options and too many VMs", () => {
    const small = Machine.create({ frames: 4, maxVms: 1 });
    try {
      expectError(() => small.addVm({}), InvalidArgumentError, "INVALID_ARGUMENT", [/give memoryMiB or pages/]);
      expectError(() => small.addVm({ pages: 0 }), InvalidArgumentError, "INVALID_ARGUMENT", ["VM pages", "found 0"]);
      expectError(() => small.addVm({ pages: -3 }), InvalidArgumentError, "INVALID_ARGUMENT", ["VM pages", "found -3"]);
      small.addVm({ pages: 2 });
      expectError(() => small.addVm({ pages: 2 }), InvalidArgumentError, "INVALID_ARGUMENT", [/at most 1 VMs/, "maxVms"]);
    } finally {
      small.dispose();
    }
  });
});

describe("out of frames for single-page writes", () => {
  it("writePage, writeSeed and writeBytes throw OutOfFramesError naming the page and the machine size", () => {
    const small = Machine.create({ frames: 2 });
    try {
      const vm = small.addVm({ pages: 4 });
      small.writeSeeds(vm, [0, 1], [1n, 2n]);
      for (const action of [
        () => small.writePage(vm, 2, new Uint8Array(PAGE)),
        () => small.writeSeed(vm, 2, 3n),
        () => small.writeBytes(vm, 3, 10, Uint8Array.of(1)),
      ]) {
        const error = expectError(action, OutOfFramesError, "OUT_OF_FRAMES", [/vm 0 page [23]/, /all 2 frames in use/]);
        expect(error.name).toBe("OutOfFramesError");
      }
      small.audit();
    } finally {
      small.dispose();
    }
  });
});

describe("a disposed machine", () => {
  it("every call throws DISPOSED", () => {
    const gone = Machine.create({ frames: 4 });
    gone.addVm({ pages: 4 });
    gone.dispose();
    for (const action of [
      () => gone.readPage(0, 0),
      () => gone.writeSeed(0, 0, 1n),
      () => gone.writePage(0, 0, new Uint8Array(PAGE)),
      () => gone.touch(0, [0]),
      () => gone.addVm({ pages: 1 }),
      () => gone.audit(),
      () => gone.hostCounters(),
      () => gone.vmCounters(0),
      () => gone.scanToConvergence(),
      () => gone.scanHostOrder(1n, 0, 4),
      () => gone.swapOut(0, [0]),
      () => gone.pageInfo(0, 0),
    ]) {
      expectError(action, OvercommitError, "DISPOSED", [/disposed/]);
    }
  });

  it("loadImage on a disposed machine rejects with DISPOSED", async () => {
    const gone = Machine.create({ frames: 4 });
    gone.addVm({ pages: 4 });
    gone.dispose();
    await expectRejection(Promise.resolve().then(() => gone.loadImage(0, join(dir, "good.img"))), OvercommitError, "DISPOSED", [/disposed/]);
  });
});
