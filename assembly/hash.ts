// PLACEHOLDER until the hash module lands (being written now): do not ship.
export function xxh64(ptr: usize, len: usize, seed: u64): u64 { return 0; }
export function xxh3Page(ptr: usize): u64 { return 0; }
