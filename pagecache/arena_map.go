package pagecache

import (
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// hugePage is the size of a transparent huge page on x86-64 and arm64
// (4 KiB base pages).
const hugePage = 2 << 20

// mapArena maps n bytes of anonymous memory for folios, aligned to a huge
// page and advised to be backed by transparent huge pages (MADV_HUGEPAGE;
// the system's default, "madvise", gives them only to memory that asks):
// the kernel then pins the folios of an O_DIRECT write for less (measured:
// COW record writes 11.1 -> 9.4 us per 16 KiB page; a copy into the cache,
// WriteAt, did not change). With prefault the memory is written once now
// (MADV_POPULATE_WRITE), so that no later access faults. It returns the
// aligned n bytes and the whole mapping, which unmap releases. Huge pages
// are an optimisation: where the kernel refuses the advice, the memory is
// ordinary pages.
func mapArena(n int64, prefault bool) (mem, raw []byte, err error) {
	mem, raw, err = blockdev.MapMemory(n, hugePage)
	if err != nil {
		return nil, nil, fmt.Errorf("pagecache: %w", err)
	}
	blockdev.AdviseHugePages(mem)
	if prefault {
		if err := blockdev.Populate(mem); err != nil {
			for i := 0; i < len(mem); i += PageSize { // kernels before 5.14, other systems
				mem[i] = 0
			}
		}
	}
	return mem, raw, nil
}
