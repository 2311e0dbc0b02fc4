package blockdev

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Stat asks the kernel what path offers for direct and untorn I/O. It does
// not open the file with O_DIRECT and needs no write permission.
func Stat(path string) (AtomicInfo, error) {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_STATX_SYNC_AS_STAT,
		unix.STATX_BASIC_STATS|unix.STATX_WRITE_ATOMIC|unix.STATX_DIOALIGN, &st)
	if err != nil {
		return AtomicInfo{}, &OpError{Op: "statx", Path: path, Off: -1, Err: err}
	}
	return atomicInfo(&st), nil
}

func statFD(fd int) (AtomicInfo, error) {
	var st unix.Statx_t
	err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT,
		unix.STATX_BASIC_STATS|unix.STATX_WRITE_ATOMIC|unix.STATX_DIOALIGN, &st)
	if err != nil {
		return AtomicInfo{}, err
	}
	return atomicInfo(&st), nil
}

func atomicInfo(st *unix.Statx_t) AtomicInfo {
	info := AtomicInfo{
		Mode:  uint32(st.Mode),
		Size:  st.Size,
		Rdev:  [2]uint32{st.Rdev_major, st.Rdev_minor},
		Blksz: st.Blksize,
	}
	if st.Mask&unix.STATX_DIOALIGN != 0 {
		info.DIOReported = true
		info.DIOMemAlign = st.Dio_mem_align
		info.DIOOffsetAlign = st.Dio_offset_align
	}
	if st.Mask&unix.STATX_WRITE_ATOMIC != 0 {
		info.AtomicReported = true
		info.AtomicAttr = st.Attributes&unix.STATX_ATTR_WRITE_ATOMIC != 0
		info.AtomicUnitMin = st.Atomic_write_unit_min
		info.AtomicUnitMax = st.Atomic_write_unit_max
		info.AtomicUnitMaxOpt = st.Atomic_write_unit_max_opt
		info.AtomicSegmentsMax = st.Atomic_write_segments_max
	}
	return info
}

// limits turns a statx answer into Limits. Without a DIO answer it falls
// back to 4096 (safe on every Linux file system); without an untorn answer,
// or with segments_max < 1, the file has no untorn writes.
func (info AtomicInfo) limits() Limits {
	l := Limits{BlockSize: 4096, MemAlign: 4096}
	if info.DIOReported && info.DIOOffsetAlign > 0 {
		l.BlockSize = max(int(info.DIOOffsetAlign), 512)
		l.MemAlign = max(int(info.DIOMemAlign), 1)
	}
	if info.AtomicReported && info.AtomicAttr && info.AtomicSegmentsMax >= 1 &&
		info.AtomicUnitMin > 0 && info.AtomicUnitMax >= info.AtomicUnitMin {
		l.AtomicMin = int(info.AtomicUnitMin)
		l.AtomicMax = int(info.AtomicUnitMax)
		// A block-sized unit below the addressing unit cannot be expressed.
		if l.AtomicMin < l.BlockSize {
			l.AtomicMin = l.BlockSize
		}
		if l.AtomicMax < l.AtomicMin {
			l.AtomicMin, l.AtomicMax = 0, 0
		}
		l.AtomicHardwareMax = hardwareMax(l, int(info.AtomicUnitMaxOpt))
	}
	return l
}

// hardwareMax is the AtomicHardwareMax of limits l whose device reports
// hw bytes as its largest hardware untorn write (statx
// atomic_write_unit_max_opt, or a block device's queue limit): the largest
// power of two within [AtomicMin, min(hw, AtomicMax)], 0 when there is
// none (hw 0 means the kernel reported none).
func hardwareMax(l Limits, hw int) int {
	if hw <= 0 || l.AtomicMax <= 0 {
		return 0
	}
	v := 1 << (bits.Len(uint(min(hw, l.AtomicMax))) - 1)
	if v < l.AtomicMin {
		return 0
	}
	return v
}

// blockDeviceLimits reads the statx answer and, where the kernel left
// gaps, the device's sysfs queue attributes (logical_block_size,
// dma_alignment, atomic_write_unit_min_bytes, atomic_write_unit_max_bytes).
func blockDeviceLimits(info AtomicInfo) Limits {
	l := info.limits()
	q, ok := sysfsQueue(info.Rdev)
	if !ok {
		return l
	}
	if lbs, err := readSysfsInt(q, "logical_block_size"); err == nil && lbs > 0 {
		l.BlockSize = max(l.BlockSize, lbs)
	}
	if dma, err := readSysfsInt(q, "dma_alignment"); err == nil && dma > 0 && !info.DIOReported {
		l.MemAlign = dma + 1 // sysfs reports the mask
	}
	if !info.AtomicReported {
		umin, err1 := readSysfsInt(q, "atomic_write_unit_min_bytes")
		umax, err2 := readSysfsInt(q, "atomic_write_unit_max_bytes")
		if err1 == nil && err2 == nil && umin > 0 && umax >= umin {
			l.AtomicMin, l.AtomicMax = max(umin, l.BlockSize), umax
			if l.AtomicMax < l.AtomicMin {
				l.AtomicMin, l.AtomicMax = 0, 0
			}
		}
	}
	// A block device's untorn writes are the drive's own (REQ_ATOMIC, no
	// software fallback): all of them are hardware ones, up to the queue's
	// atomic_write_unit_max_bytes when it says.
	hw := l.AtomicMax
	if umax, err := readSysfsInt(q, "atomic_write_unit_max_bytes"); err == nil {
		hw = min(hw, umax)
	}
	l.AtomicHardwareMax = hardwareMax(l, hw)
	return l
}

// sysfsQueue finds /sys/dev/block/MAJ:MIN/queue, or the parent's for a
// partition.
func sysfsQueue(rdev [2]uint32) (string, bool) {
	base := fmt.Sprintf("/sys/dev/block/%d:%d", rdev[0], rdev[1])
	for _, q := range []string{filepath.Join(base, "queue"), filepath.Join(base, "..", "queue")} {
		if st, err := os.Stat(q); err == nil && st.IsDir() {
			return q, true
		}
	}
	return "", false
}

func readSysfsInt(dir, name string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, errors.Join(unix.EINVAL, err)
	}
	return v, nil
}
