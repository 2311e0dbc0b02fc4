package blockdev

import "golang.org/x/sys/unix"

// AdviseHugePages asks for transparent huge pages (MADV_HUGEPAGE; the
// system's default, "madvise", gives them only to memory that asks).
// Advice only: a refusal leaves ordinary pages.
func AdviseHugePages(mem []byte) { _ = unix.Madvise(mem, unix.MADV_HUGEPAGE) }

// Populate faults mem in for writing now (MADV_POPULATE_WRITE), so that no
// later access faults. Kernels before 5.14 refuse: the caller touches the
// memory instead.
func Populate(mem []byte) error { return unix.Madvise(mem, unix.MADV_POPULATE_WRITE) }

// ReleaseMemory gives mem's pages back to the system (MADV_DONTNEED).
func ReleaseMemory(mem []byte) { _ = unix.Madvise(mem, unix.MADV_DONTNEED) }
