// The global sharing table: one open-addressed hash table for all VMs, mapping a page's 64-bit
// content hash to an MPN. Whether an entry is a *shared* entry or a *hint* is not stored: it is
// the frame's refcount (>= 2: shared frame; 1: a private page hashed earlier, i.e. a hint). The key
// is not stored either: it is the frame's own hash (kept in its metadata while it is in the table),
// so a slot costs 4 bytes.
//
//   vals: capacity x u32 (MPN + 1; 0 = empty slot)
//
// Linear probing, capacity a power of two at least twice the frame count (every entry belongs to a
// distinct frame, so the load stays <= 1/2), deletion by backward shift so probe chains stay intact
// without tombstones. Equal keys may repeat: two different contents with the same hash both get
// entries, and the byte compare, never the hash, decides what is shared.

import { reserveRegion } from "./alloc";
import { hostAdd, HOST_TABLE_ENTRIES } from "./counters";
import { tableKeyOf } from "./contents";

let valsBase: usize = 0;
let slotMask: u32 = 0;

@inline function valAt(slot: u32): u32 {
  return load<u32>(valsBase + (<usize>slot << 2));
}

@inline function homeSlot(hash: u64): u32 {
  return <u32>(hash ^ (hash >>> 29)) & slotMask;
}

export function reserveTable(frameCount: u32): bool {
  let capacity: u32 = 1024;
  while (capacity < frameCount * 2) capacity <<= 1;
  valsBase = reserveRegion(<u64>capacity * 4, 64);
  slotMask = capacity - 1;
  return valsBase != 0;
}

/** Inserts `mpn`, whose table key (tableKeyOf) is `hash`. */
export function tableInsert(hash: u64, mpn: u32): void {
  let slot = homeSlot(hash);
  while (valAt(slot) != 0) slot = (slot + 1) & slotMask;
  store<u32>(valsBase + (<usize>slot << 2), mpn + 1);
  hostAdd(HOST_TABLE_ENTRIES, 1);
}

/**
 * The first slot from `fromSlot` on in `hash`'s probe chain whose frame has that key; call with
 * `tableHome(hash)` first, then with the returned slot + 1. Returns -1 at the end of the chain.
 */
@inline export function tableFind(hash: u64, fromSlot: u32): i32 {
  let slot = fromSlot & slotMask;
  while (true) {
    const val = valAt(slot);
    if (val == 0) return -1;
    if (tableKeyOf(val - 1) == hash) return <i32>slot;
    slot = (slot + 1) & slotMask;
  }
}

@inline export function tableHome(hash: u64): u32 {
  return homeSlot(hash);
}

@inline export function tableMpnAt(slot: u32): u32 {
  return valAt(slot) - 1;
}

/** Finds the slot holding `mpn` (whose key is `hash`), or -1. */
function slotOf(hash: u64, mpn: u32): i32 {
  let slot = homeSlot(hash);
  while (true) {
    const val = valAt(slot);
    if (val == 0) return -1;
    if (val == mpn + 1) return <i32>slot;
    slot = (slot + 1) & slotMask;
  }
}

/** Removes the entry of `mpn` (key `hash`). Returns false if there was none. */
export function tableRemove(hash: u64, mpn: u32): bool {
  const found = slotOf(hash, mpn);
  if (found < 0) return false;
  let hole = <u32>found;
  let probe = hole;
  while (true) {
    probe = (probe + 1) & slotMask;
    const val = valAt(probe);
    if (val == 0) break;
    const home = homeSlot(tableKeyOf(val - 1));
    // The entry at `probe` may move into the hole only if its home is not cyclically in (hole, probe].
    const stays = hole <= probe ? (hole < home && home <= probe) : (hole < home || home <= probe);
    if (stays) continue;
    store<u32>(valsBase + (<usize>hole << 2), val);
    hole = probe;
  }
  store<u32>(valsBase + (<usize>hole << 2), 0);
  hostAdd(HOST_TABLE_ENTRIES, -1);
  return true;
}

/** Points the entry of `oldMpn` (key `hash`) at `newMpn` (a frame moved). False if there was none. */
export function tableRetarget(hash: u64, oldMpn: u32, newMpn: u32): bool {
  const slot = slotOf(hash, oldMpn);
  if (slot < 0) return false;
  store<u32>(valsBase + (<usize>slot << 2), newMpn + 1);
  return true;
}
