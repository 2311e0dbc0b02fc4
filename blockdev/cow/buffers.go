package cow

import (
	"math/bits"
	"sync"

	"github.com/untorn/untorn/blockdev"
)

// Memory for I/O. A container holds, between its operations, only its
// maps, its staging buffer (grown to the largest checkpoint or copied
// record it wrote, in powers of two) and its header buffer: a process with
// hundreds of open containers must not hold a segment's worth of buffers
// for each. The segment buffers that replay and the cleaner read into come
// from a pool the process's containers share, for the length of one replay
// or one relocation; the zeros that fill a segment come from one read-only
// buffer per process.

// segBuffers are the segment buffers of every container of the process.
var segBuffers sync.Pool // *[]byte

// getSegBuffer returns an aligned buffer of n bytes from the shared pool.
func (d *Device) getSegBuffer(n int64) *[]byte {
	align := max(d.limits.MemAlign, 1)
	if b, ok := segBuffers.Get().(*[]byte); ok && int64(cap(*b)) >= n && blockdev.IsAligned(*b, align) {
		*b = (*b)[:n]
		return b
	}
	b := blockdev.AlignedBuffer(int(n), align)
	return &b
}

// putSegBuffer gives a buffer of getSegBuffer back.
func putSegBuffer(b *[]byte) {
	if b != nil {
		segBuffers.Put(b)
	}
}

// zeroChunk is the size of the shared zero buffer.
const zeroChunk = 1 << 20

// zeroBuffer is the one buffer of zeros every fill writes from, aligned
// for any inner device (MemAlign up to 64 KiB). Nothing writes into it.
var zeroBuffer = sync.OnceValue(func() []byte { return blockdev.AlignedBuffer(zeroChunk, 64<<10) })

// writeZeros writes n blocks of zeros at block pos of the inner device from
// the shared zero buffer: one vectored write when the inner device takes
// them, else a write per chunk. It marks the device dirty and reports the
// inner device's error as it is (the caller decides whether it fails the
// device).
// REQUIRES: mu held.
func (d *Device) writeZeros(pos, n int64) error {
	zeros := zeroBuffer()
	bytes := n * d.g.bs
	d.dirty = true
	if d.vec != nil {
		bufs := d.iov[:0]
		for left := bytes; left > 0; left -= zeroChunk {
			bufs = append(bufs, zeros[:min(left, zeroChunk)])
		}
		d.iov = bufs[:0]
		_, err := d.vec.WritevAt(bufs, pos*d.g.bs, 0)
		return err
	}
	for off := int64(0); off < bytes; off += zeroChunk {
		if _, err := d.inner.WriteAt(zeros[:min(bytes-off, zeroChunk)], pos*d.g.bs+off, 0); err != nil {
			return err
		}
	}
	return nil
}

// stageKeep is the most staging buffer a container keeps between
// operations: a checkpoint's buffer (8 bytes per block of file size) is
// let go once it is written or read.
const stageKeep = 64 << 10

// dropStageLocked lets a staging buffer larger than stageKeep go.
// REQUIRES: mu held.
func (d *Device) dropStageLocked() {
	if cap(d.stage) > stageKeep {
		d.stage = nil
	}
}

// pow2Ceil returns the least power of two >= v (v >= 1).
func pow2Ceil(v int64) int64 { return 1 << bits.Len64(uint64(v-1)) }
