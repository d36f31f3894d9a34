// Batched operations: the TypeScript side writes op records into the command region and calls
// `runBatch` once for thousands of pages. Each record gets a status and an aux word back.
//
//   command record, 16 bytes:  u32 (op << 24 | vm) | u32 gpn | u64 argument
//   results:                   u32 status per record     aux: u32 per record (a swap slot, a bit)
//
// The batch stops at the first record that needs the caller (no free frame, a page to swap in, a
// ballooned page accessed, a bad argument) and returns its index; `lastBatchStatus()` says why.
// Everything before that index is done; the caller fixes the cause and calls again from there.

import {
  PAGE_SHIFT, STATUS_OK, STATUS_BAD_ARGUMENT, STATUS_NO_FRAMES, STATUS_NEED_SWAP_IN,
  STATUS_BALLOONED, STATUS_CORRUPT, INDEX_MASK,
} from "./layout";
import { reserveRegion } from "./alloc";
import { validPage } from "./vms";
import {
  touchPage, touchWritePage, writeSeed, writePageFrom, writeBytesFrom, peekPage, compressPage,
  swapOutPage, swapInPage, inflatePage, deflatePage, clearAccessed, testAccessed, moveToLowFrame,
  takeAux,
} from "./pages";
import { scanPage } from "./sharing";

export const OP_TOUCH: u32 = 1; // guest read access
export const OP_WRITE_SEED: u32 = 2; // arg: content seed
export const OP_WRITE_STAGING: u32 = 3; // arg: staging page index
export const OP_WRITE_BYTES: u32 = 4; // arg: staging byte offset | page offset << 32 | length << 48
export const OP_TOUCH_WRITE: u32 = 5; // guest write access, bytes not modelled
export const OP_PEEK: u32 = 6; // arg: staging page index to copy the content to
export const OP_SCAN: u32 = 7;
export const OP_COMPRESS: u32 = 8;
export const OP_SWAP_OUT: u32 = 9; // arg: swap slot | staging page index << 32
export const OP_SWAP_IN: u32 = 10; // arg: staging page index holding the slot's bytes
export const OP_INFLATE: u32 = 11;
export const OP_DEFLATE: u32 = 12;
export const OP_CLEAR_ACCESSED: u32 = 13;
export const OP_TEST_ACCESSED: u32 = 14;
export const OP_MOVE_LOW: u32 = 15;

const RECORD_BYTES: u32 = 16;

let commandsBase: usize = 0;
let resultsBase: usize = 0;
let auxBase: usize = 0;
let capacity: u32 = 0;
let stagingBase: usize = 0;
let stagingPageCount: u32 = 0;
let lastStatus: u32 = STATUS_OK;

export function reserveBatch(commandCapacity: u32, stagingPages: u32): bool {
  stagingBase = reserveRegion(<u64>stagingPages << PAGE_SHIFT, 4096);
  commandsBase = reserveRegion(<u64>commandCapacity * RECORD_BYTES, 64);
  resultsBase = reserveRegion(<u64>commandCapacity * 4, 64);
  auxBase = reserveRegion(<u64>commandCapacity * 4, 64);
  capacity = commandCapacity;
  stagingPageCount = stagingPages;
  return stagingBase != 0 && commandsBase != 0 && resultsBase != 0 && auxBase != 0;
}

export function commandRegion(): usize { return commandsBase; }
export function resultRegion(): usize { return resultsBase; }
export function auxRegion(): usize { return auxBase; }
export function commandCapacity(): u32 { return capacity; }
export function stagingRegion(): usize { return stagingBase; }
export function stagingPages(): u32 { return stagingPageCount; }
export function lastBatchStatus(): u32 { return lastStatus; }

@inline function stagingPage(index: u64): usize {
  return index < <u64>stagingPageCount ? stagingBase + (<usize>index << PAGE_SHIFT) : 0;
}

function runOne(op: u32, vm: u32, gpn: u32, arg: u64): u32 {
  switch (op) {
    case OP_TOUCH: return touchPage(vm, gpn);
    case OP_WRITE_SEED: return writeSeed(vm, gpn, arg);
    case OP_TOUCH_WRITE: return touchWritePage(vm, gpn);
    case OP_SCAN: return scanPage(vm, gpn);
    case OP_COMPRESS: return compressPage(vm, gpn);
    case OP_INFLATE: return inflatePage(vm, gpn);
    case OP_DEFLATE: return deflatePage(vm, gpn);
    case OP_CLEAR_ACCESSED: return clearAccessed(vm, gpn);
    case OP_TEST_ACCESSED: return testAccessed(vm, gpn);
    case OP_MOVE_LOW: return moveToLowFrame(vm, gpn);
    case OP_WRITE_STAGING: {
      const src = stagingPage(arg);
      return src == 0 ? STATUS_BAD_ARGUMENT : writePageFrom(vm, gpn, src);
    }
    case OP_PEEK: {
      const dst = stagingPage(arg);
      return dst == 0 ? STATUS_BAD_ARGUMENT : peekPage(vm, gpn, dst);
    }
    case OP_SWAP_OUT: {
      const slot = <u32>arg;
      const dst = stagingPage(arg >>> 32);
      return dst == 0 || slot > INDEX_MASK ? STATUS_BAD_ARGUMENT : swapOutPage(vm, gpn, slot, dst);
    }
    case OP_SWAP_IN: {
      const src = stagingPage(arg);
      return src == 0 ? STATUS_BAD_ARGUMENT : swapInPage(vm, gpn, src);
    }
    case OP_WRITE_BYTES: {
      const stagingOffset = <u32>arg;
      const pageOffset = <u32>(arg >>> 32) & 0xffff;
      const length = <u32>(arg >>> 48);
      if (pageOffset + length > 4096) return STATUS_BAD_ARGUMENT;
      if (<u64>stagingOffset + length > (<u64>stagingPageCount << PAGE_SHIFT)) return STATUS_BAD_ARGUMENT;
      return writeBytesFrom(vm, gpn, pageOffset, length, stagingBase + stagingOffset);
    }
  }
  return STATUS_BAD_ARGUMENT;
}

@inline function stops(status: u32): bool {
  return status == STATUS_NO_FRAMES || status == STATUS_NEED_SWAP_IN || status == STATUS_BALLOONED
    || status == STATUS_BAD_ARGUMENT || status == STATUS_CORRUPT;
}

/** Runs records [start, end). Returns the index it stopped at (end when all ran). */
export function runBatch(start: u32, end: u32): u32 {
  if (end > capacity) end = capacity;
  for (let i = start; i < end; i++) {
    const record = commandsBase + <usize>i * RECORD_BYTES;
    const head = load<u32>(record);
    const op = head >>> 24;
    const vm = head & 0xffffff;
    const gpn = load<u32>(record, 4);
    let status: u32;
    if (!validPage(vm, gpn)) status = STATUS_BAD_ARGUMENT;
    else status = runOne(op, vm, gpn, load<u64>(record, 8));
    store<u32>(resultsBase + (<usize>i << 2), status);
    store<u32>(auxBase + (<usize>i << 2), takeAux());
    if (stops(status)) {
      lastStatus = status;
      return i;
    }
  }
  lastStatus = STATUS_OK;
  return end;
}
