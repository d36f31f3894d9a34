// Clusters: several hosts, each in its own worker thread; results equal running each alone.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCluster, runCluster } from "../src/sim/cluster.ts";
import { runScenario } from "../src/sim/run.ts";

const file = "examples/scenarios/cluster-4-hosts.json";
const input = JSON.parse(readFileSync(file, "utf8")) as { hosts: unknown[] };

function withoutWallTime<T extends { wallSeconds: number }>(value: T): Omit<T, "wallSeconds"> {
  const { wallSeconds, ...rest } = value;
  void wallSeconds;
  return rest;
}

describe("cluster", () => {
  it("runs each host in a worker with the result of running it alone, and adds them up", async () => {
    const cluster = parseCluster(input, file);
    expect(cluster.hosts.map((h) => h.name)).toEqual(["esx1", "esx2", "esx3", "esx4"]);
    const result = await runCluster(cluster, { workers: 2 });
    cluster.hosts.forEach((host, i) => {
      const alone = runScenario(host.scenario);
      const got = result.hosts[i];
      expect(got?.hostName).toBe(host.name);
      expect(withoutWallTime(got ?? { wallSeconds: 0 })).toMatchObject({ vms: alone.vms, stateSeconds: alone.stateSeconds, host: alone.host });
    });
    const consumed = result.hosts.reduce((t, h) => t + h.vms.reduce((s, v) => s + v.consumedMiB, 0), 0);
    expect(result.totals.consumedMiB).toBeCloseTo(consumed, 6);
    expect(result.totals.memoryMiB).toBe(4 * 96);
    // Hosts get different seeds derived from the cluster's, so they are not copies of each other.
    expect(new Set(cluster.hosts.map((h) => h.scenario.seed)).size).toBe(4);
  }, 120_000);

  it("says what is wrong with a cluster file", () => {
    expect(() => parseCluster({ hosts: [] }, "c.json")).toThrow(/c\.json: invalid cluster: hosts/);
    expect(() => parseCluster({ hosts: [{ name: "a", host: { memoryMiB: 8 }, vms: [{ name: "v", memoryMiB: 4 }] }, { name: "a", host: { memoryMiB: 8 }, vms: [{ name: "v", memoryMiB: 4 }] }], durationSec: 5 }, "c.json")).toThrow(/duplicate host name "a"/);
    expect(() => parseCluster({ hosts: [{ name: "a", host: { memoryMiB: "big" }, vms: [] }], durationSec: 5 }, "c.json")).toThrow(/hosts\[0\] \("a"\).*host\.memoryMiB/s);
  });
});
