package crashmodel

import (
	"bytes"
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// Model records the history of one device: its durable image as of the last
// Flush, the volatile writes since, and what reads must see now.
type Model struct {
	blockSize int
	durable   []byte  // every write before the last Flush applied
	current   []byte  // every write applied: what reads see
	log       []write // writes since the last Flush, in issue order
}

type write struct {
	off   int64
	data  []byte
	flags blockdev.Flags
}

// New returns a Model of a zeroed device of size bytes that tears plain
// writes at blockSize.
func New(size int64, blockSize int) (*Model, error) {
	if blockSize <= 0 || size <= 0 || size%int64(blockSize) != 0 {
		return nil, fmt.Errorf("%w: size %d, block size %d", ErrHistory, size, blockSize)
	}
	return &Model{blockSize: blockSize, durable: make([]byte, size), current: make([]byte, size)}, nil
}

// Write records a write that the device completed.
func (m *Model) Write(p []byte, off int64, flags blockdev.Flags) error {
	bs := int64(m.blockSize)
	if off < 0 || off%bs != 0 || int64(len(p))%bs != 0 || off+int64(len(p)) > int64(len(m.current)) {
		return fmt.Errorf("%w: write [%d, +%d)", ErrHistory, off, len(p))
	}
	data := bytes.Clone(p)
	copy(m.current[off:], data)
	m.log = append(m.log, write{off: off, data: data, flags: flags})
	return nil
}

// Flush records a Flush that the device completed.
func (m *Model) Flush() {
	for _, w := range m.log {
		copy(m.durable[w.off:], w.data)
	}
	m.log = m.log[:0]
}

// Current returns what reads must see now. The caller must not modify it.
func (m *Model) Current() []byte { return m.current }

// Volatile returns the number of writes since the last Flush.
func (m *Model) Volatile() int { return len(m.log) }

// Check reports whether img, the whole content of a device found after a
// crash, is allowed by the model. It returns nil or an error wrapping
// ErrTorn, ErrLost, ErrPhantom or ErrHistory that names the first block in
// violation.
func (m *Model) Check(img []byte) error {
	if len(img) != len(m.current) {
		return fmt.Errorf("%w: image of %d bytes, device of %d", ErrHistory, len(img), len(m.current))
	}
	writer, err := m.attribute(img)
	if err != nil {
		return err
	}
	// An Atomic write seen in one block survived whole: every block it
	// covers must show it or a later write.
	bs := m.blockSize
	for b, i := range writer {
		if i < 0 || m.log[i].flags&blockdev.Atomic == 0 {
			continue
		}
		w := m.log[i]
		first := int(w.off) / bs
		for c := first; c < first+len(w.data)/bs; c++ {
			if writer[c] < i {
				return fmt.Errorf("%w: write #%d at [%d, +%d) shows at offset %d but offset %d holds %s",
					ErrTorn, i, w.off, len(w.data), int64(b)*int64(bs), int64(c)*int64(bs), m.describe(writer[c]))
			}
		}
	}
	return nil
}

// attribute returns, for every block, the index in m.log of the write whose
// data the block shows (the latest one if several match), or -1 for the
// durable content.
func (m *Model) attribute(img []byte) ([]int, error) {
	bs := m.blockSize
	nblocks := len(img) / bs
	writer := make([]int, nblocks)
	touching := make([][]int, nblocks) // log indexes touching each block, ascending
	for i, w := range m.log {
		first := int(w.off) / bs
		for b := first; b < first+len(w.data)/bs; b++ {
			touching[b] = append(touching[b], i)
		}
	}
	for b := range nblocks {
		got := img[b*bs : (b+1)*bs]
		lastFUA := -1
		for _, i := range touching[b] {
			if m.log[i].flags&blockdev.FUA != 0 {
				lastFUA = i
			}
		}
		writer[b] = -2
		for k := len(touching[b]) - 1; k >= 0; k-- {
			i := touching[b][k]
			if bytes.Equal(got, m.blockOf(i, b)) {
				if i < lastFUA {
					return nil, fmt.Errorf("%w: offset %d shows write #%d, older than FUA write #%d",
						ErrLost, int64(b)*int64(bs), i, lastFUA)
				}
				writer[b] = i
				break
			}
		}
		if writer[b] != -2 {
			continue
		}
		if !bytes.Equal(got, m.durable[b*bs:(b+1)*bs]) {
			return nil, fmt.Errorf("%w: offset %d", ErrPhantom, int64(b)*int64(bs))
		}
		if lastFUA >= 0 {
			return nil, fmt.Errorf("%w: offset %d shows pre-crash durable data, FUA write #%d is missing",
				ErrLost, int64(b)*int64(bs), lastFUA)
		}
		writer[b] = -1
	}
	return writer, nil
}

func (m *Model) blockOf(i, b int) []byte {
	w := m.log[i]
	start := b*m.blockSize - int(w.off)
	return w.data[start : start+m.blockSize]
}

func (m *Model) describe(i int) string {
	if i < 0 {
		return "data older than every volatile write"
	}
	return fmt.Sprintf("older write #%d", i)
}

// CheckDevice reads dev whole and checks it. dev's buffers are allocated
// with its MemAlign.
func (m *Model) CheckDevice(dev blockdev.Device) error {
	img, err := ReadAll(dev)
	if err != nil {
		return err
	}
	return m.Check(img)
}

// ReadAll reads a whole device into memory in 1 MiB (or smaller) chunks.
func ReadAll(dev blockdev.Device) ([]byte, error) {
	l := dev.Limits()
	size := dev.Size()
	img := make([]byte, size)
	chunk := int64(1 << 20)
	chunk -= chunk % int64(l.BlockSize)
	buf := blockdev.AlignedBuffer(int(min(chunk, size)), l.MemAlign)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n := min(int64(len(buf)), size-off)
		if _, err := dev.ReadAt(buf[:n], off); err != nil {
			return nil, fmt.Errorf("crashmodel: read device: %w", err)
		}
		copy(img[off:], buf[:n])
	}
	return img, nil
}
