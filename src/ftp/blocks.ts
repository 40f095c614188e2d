/**
 * Page-aligned transfer buffers, shared by every session and reused from one transfer to the next.
 *
 * Aligned, because the kernel's copy into a user buffer (`read`, `pread`, `recv`) is several times
 * slower when the destination is not 64-byte aligned on some CPUs. Measured on the benchmark
 * machine (AMD EPYC VM, Linux 6.18): `pread` of a cached 1 GiB file into a 1 MiB buffer ran at
 * ~1,300–1,900 MiB/s into an address 16 bytes past a page boundary, ~5,300–6,800 MiB/s into a
 * 64-byte-aligned one. `Buffer.allocUnsafeSlow` promises no alignment: a large one is glibc's
 * mmap chunk, whose data starts exactly 16 bytes past a page boundary (the slow case), and a
 * smaller or later one lands on whatever 16-byte boundary the heap has — so downloads and uploads
 * ran at half speed or full speed depending on the allocator's mood. The buffer of a
 * `WebAssembly.Memory` is page-aligned, so blocks are carved from such memories ("slabs").
 *
 * Reused, because a slab cannot give memory back piecemeal: a transfer returns its blocks with
 * {@link giveBlock} and the next transfer takes them again (already faulted in). The slabs stay as
 * large as the busiest moment needed, at most {@link MAX_SLAB_BYTES}; beyond that, or where
 * WebAssembly memory is unavailable, blocks are ordinary (unaligned, garbage-collected) buffers.
 */

/** One slab: 128 WebAssembly pages of 64 KiB. */
const SLAB_BYTES = 8 * 1024 * 1024;
/** Slabs stop growing here; blocks beyond it are ordinary buffers. */
export const MAX_SLAB_BYTES = 64 * 1024 * 1024;

/** The part of the WebAssembly API used here (not in this project's type libraries). */
type MemoryConstructor = new (d: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
const Memory = (globalThis as { WebAssembly?: { Memory: MemoryConstructor } }).WebAssembly?.Memory;

let slab: ArrayBuffer | undefined;
let slabUsed = 0;
let slabTotal = 0;
let slabsUnavailable = false;
const slabMemory = new WeakSet<ArrayBuffer>();
const spare = new Map<number, Buffer[]>();
/** bytes of blocks taken and not given back yet */
let held = 0;

/**
 * Bytes of blocks that transfers hold right now (taken, not given back): the user-space memory of
 * the transfers running, which a client that stops reading must not be able to grow.
 */
export function heldBlockBytes(): number {
  return held;
}

function newSlab(): ArrayBuffer | undefined {
  if (!Memory || slabsUnavailable || slabTotal + SLAB_BYTES > MAX_SLAB_BYTES) return undefined;
  try {
    const buffer = new Memory({ initial: SLAB_BYTES / 65536, maximum: SLAB_BYTES / 65536 }).buffer;
    slabMemory.add(buffer);
    slabTotal += SLAB_BYTES;
    return buffer;
  } catch {
    // no WebAssembly (--jitless) or no address space for it (ulimit -v): ordinary buffers
    slabsUnavailable = true;
    return undefined;
  }
}

/** A block of `size` bytes (a multiple of 64 KiB, at most 8 MiB), page-aligned when possible. */
export function takeBlock(size: number): Buffer {
  held += size;
  const reused = spare.get(size)?.pop();
  if (reused) return reused;
  if (size % 65536 === 0 && size <= SLAB_BYTES) {
    if (!slab || slabUsed + size > SLAB_BYTES) {
      slab = newSlab();
      slabUsed = 0;
    }
    if (slab) {
      const block = Buffer.from(slab, slabUsed, size);
      slabUsed += size;
      return block;
    }
  }
  return Buffer.allocUnsafeSlow(size);
}

/** Hand a block back once nothing (no socket, no pending write) uses it any more. */
export function giveBlock(block: Buffer): void {
  held -= block.length;
  if (!slabMemory.has(block.buffer as ArrayBuffer)) return;
  const list = spare.get(block.length);
  if (list) list.push(block);
  else spare.set(block.length, [block]);
}
