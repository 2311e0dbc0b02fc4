package blockdev

import "unsafe"

// Memory outside the Go heap for a cache of pages, the one other thing the
// packages above blockdev need of the operating system (pagecache's
// arenas):
//
//   - MapMemory: anonymous private memory (mmap on Unix; on Windows an
//     ordinary Go allocation, which the garbage collector never scans for
//     pointers since it holds bytes);
//   - AdviseHugePages: transparent huge pages (MADV_HUGEPAGE, Linux only);
//   - Populate: fault the memory in now (MADV_POPULATE_WRITE, Linux 5.14+;
//     elsewhere it reports ErrNotSupported and the caller touches it);
//   - ReleaseMemory: give the pages back (MADV_DONTNEED on Linux,
//     MADV_FREE on macOS; nothing on Windows). The content of released
//     memory is undefined until written again.

// alignedIn returns the n bytes of raw that start at its first address
// aligned to align (a power of two), raw holding n+align bytes.
func alignedIn(raw []byte, n int64, align int) []byte {
	skip := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % uintptr(align)); r != 0 {
		skip = align - r
	}
	return raw[skip : skip+int(n) : skip+int(n)]
}
