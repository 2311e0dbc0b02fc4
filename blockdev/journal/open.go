package journal

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/internal/logrec"
)

// blockSize is the block size of a journal over data and jdev: the larger
// of theirs, at least 4 KiB.
func blockSize(data, jdev blockdev.Device) int64 {
	return int64(max(4096, data.Limits().BlockSize, jdev.Limits().BlockSize))
}

// Format writes a new, empty journal over jdev for the file on data, and
// returns the Device. Both header copies and the whole record area are
// written first (zeros) and flushed, so that the journal's later writes
// carry no file-system metadata and no older journal on jdev can come
// back; then the header (generation 1), flushed. The file starts as the
// data device holds it: its exact length (blockdev.Lengther), else
// Options.BaseSize. A jdev that can grow is grown to hold the area. The
// Device owns both devices: Close closes them.
func Format(data, jdev blockdev.Device, opts Options) (*Device, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("%w: %+v", err, opts)
	}
	bs := blockSize(data, jdev)
	area := opts.Capacity / bs
	if area < minAreaBlocks {
		return nil, fmt.Errorf("%w: capacity %d is less than %d blocks", ErrInvalidOptions, opts.Capacity, minAreaBlocks)
	}
	total := (hdrCopies + area) * bs
	if jdev.Size() < total {
		r, ok := jdev.(blockdev.Resizer)
		if !ok || !blockdev.Resizable(jdev) {
			return nil, fmt.Errorf("%w: a journal of %d bytes on a device of %d", ErrInvalidOptions, total, jdev.Size())
		}
		if err := r.Resize(total); err != nil {
			return nil, fmt.Errorf("journal: size the journal: %w", err)
		}
	}
	h := header{blockSize: bs, gen: 1, rootSeq: 1, area: area, startSeq: 1, baseSize: opts.BaseSize}
	if n, ok := blockdev.LengthOf(data); ok {
		h.baseSize = n
	}
	if h.logical, err = logicalSize(data, bs, opts); err != nil {
		return nil, err
	}
	if h.baseSize > h.logical {
		return nil, fmt.Errorf("%w: the file holds %d bytes, more than the capacity %d", ErrInvalidOptions, h.baseSize, h.logical)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	h.id = binary.LittleEndian.Uint64(id[:])
	if err := zero(jdev, 0, total, int(bs)); err != nil {
		return nil, fmt.Errorf("journal: write the journal: %w", err)
	}
	if err := jdev.Flush(); err != nil {
		return nil, fmt.Errorf("journal: flush the journal: %w", err)
	}
	d := newDevice(data, jdev, h, opts)
	// Both copies hold the first header (writes 0 and 1), so that one
	// damaged copy leaves the other even before the first checkpoint.
	h0 := h
	h0.rootSeq = 0
	if err := d.writeRoot(h0); err != nil {
		return nil, err
	}
	if err := d.writeRoot(h); err != nil {
		return nil, err
	}
	if err := d.prepareHome(); err != nil {
		return nil, err
	}
	d.startBackground()
	return d, nil
}

// logicalSize is the capacity of a journal over data.
func logicalSize(data blockdev.Device, bs int64, opts Options) (int64, error) {
	growable := blockdev.Resizable(data)
	logical := opts.LogicalSize
	if logical == 0 {
		logical = DefaultLogicalSize
		if !growable {
			logical = data.Size()
		}
	}
	logical -= logical % bs
	switch {
	case logical < bs || logical/bs > 1<<32-1:
		return 0, fmt.Errorf("%w: capacity %d: at least a block, at most 2^32-1 blocks of %d bytes", ErrInvalidOptions, logical, bs)
	case !growable && logical > data.Size():
		return 0, fmt.Errorf("%w: capacity %d over a data device of %d bytes", ErrInvalidOptions, logical, data.Size())
	}
	return logical, nil
}

// zeros is a block of zeros that every journal of the process writes its
// new area with (read only).
var zeros = blockdev.AlignedBuffer(1<<20, ckptBufAlign)

// zero writes zeros over [off, off+n) of dev.
func zero(dev blockdev.Device, off, n int64, align int) error {
	buf := zeros
	if a := max(align, dev.Limits().MemAlign); a > ckptBufAlign {
		buf = blockdev.AlignedBuffer(len(zeros), a)
	}
	for done := int64(0); done < n; {
		k := min(int64(len(buf)), n-done)
		if _, err := dev.WriteAt(buf[:k], off+done, 0); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// prepareHome gives a data device that grows the capacity the file needs
// (its length rounded up to a block). It runs once the header that holds
// the exact size is durable.
func (d *Device) prepareHome() error {
	if need := ceilDiv(d.size, d.bs) * d.bs; d.growHome && d.data.Size() < need {
		if err := d.data.(blockdev.Resizer).Resize(need); err != nil {
			return fmt.Errorf("journal: size the data file: %w", err)
		}
	}
	return nil
}

// Open opens the journal on jdev for the file on data and recovers: it
// replays every record the journal holds into the data device (newest
// image of each block, cuts and sizes), flushes the data device, and only
// then resets the journal to a new generation (its header durable before
// any record is written). A power cut during Open leaves the journal as it
// was, and the next Open replays again. Open fails with ErrNotFormatted on
// a journal device that holds no journal, ErrVersion on another format
// version and ErrCorrupt on damage that is not the torn tail of a crash,
// and then has written nothing to either device (unless Options.Salvage).
// The Device owns both devices: Close closes them.
func Open(data, jdev blockdev.Device, opts Options) (*Device, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("%w: %+v", err, opts)
	}
	bs := blockSize(data, jdev)
	h, err := readRoot(data, jdev, bs)
	if err != nil {
		return nil, err
	}
	d := newDevice(data, jdev, h, opts)
	recs, repaired, err := d.scan()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	for _, r := range recs {
		d.publishLocked(r)
	}
	d.durable = d.head
	d.repaired = repaired
	d.stats.Repaired = int64(len(repaired))
	d.mu.Unlock()
	d.ckptMu.Lock()
	defer d.ckptMu.Unlock()
	if _, err := d.checkpointLocked(false); err != nil {
		return nil, err
	}
	d.repaired = nil
	if err := d.resetLocked(d.area); err != nil {
		return nil, err
	}
	if err := d.prepareHome(); err != nil {
		return nil, err
	}
	d.startBackground()
	return d, nil
}

// readRoot returns the newest valid header copy of jdev.
func readRoot(data, jdev blockdev.Device, bs int64) (header, error) {
	if jdev.Size() < hdrCopies*bs {
		return header{}, fmt.Errorf("%w: journal device of %d bytes", ErrNotFormatted, jdev.Size())
	}
	buf := blockdev.AlignedBuffer(int(bs), jdev.Limits().MemAlign)
	var hs []header
	var errs []error
	formatted := false
	for i := range int64(hdrCopies) {
		if _, err := jdev.ReadAt(buf, i*bs); err != nil {
			return header{}, fmt.Errorf("journal: read header copy %d: %w", i, err)
		}
		h, err := decodeHeader(buf)
		switch {
		case errors.Is(err, ErrVersion):
			return header{}, fmt.Errorf("journal: header copy %d: %w", i, err)
		case errors.Is(err, ErrNotFormatted) && !allZero(buf):
			formatted = true // not a header, not blank either: a damaged one
			errs = append(errs, fmt.Errorf("%w: header copy %d: no header magic in a block that is not blank", ErrCorrupt, i))
		case errors.Is(err, ErrNotFormatted):
		case err != nil:
			formatted = true
			errs = append(errs, fmt.Errorf("journal: header copy %d: %w", i, err))
		case h.blockSize != bs || (hdrCopies+h.area)*bs > jdev.Size():
			formatted = true
			errs = append(errs, fmt.Errorf("%w: header copy %d: block size %d and %d blocks do not match the journal device (%d, %d bytes)",
				ErrCorrupt, i, h.blockSize, h.area, bs, jdev.Size()))
		case logrec.RootCopy(h.rootSeq) != int(i):
			formatted = true
			errs = append(errs, fmt.Errorf("%w: header copy %d holds write %d", ErrCorrupt, i, h.rootSeq))
		case !blockdev.Resizable(data) && h.logical > data.Size():
			formatted = true
			errs = append(errs, fmt.Errorf("%w: header copy %d: capacity %d, the data device holds %d", ErrCorrupt, i, h.logical, data.Size()))
		default:
			formatted = true
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		if !formatted {
			return header{}, ErrNotFormatted
		}
		return header{}, errors.Join(errs...)
	}
	logrec.NewestFirst(hs, func(h header) uint64 { return h.rootSeq })
	return hs[0], nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// resetLocked starts a new generation over an empty log (the start at the
// head), with a record area of area blocks: a larger area is grown and
// written with zeros first; then the header of the new generation (log
// position 0, sequence 1) is written and flushed. Records of the old
// generation left in the area never pass as records of the new one.
// REQUIRES: commitMu (or no other user yet), ckptMu held; the log empty.
func (d *Device) resetLocked(area int64) error {
	if area != d.area {
		total := (hdrCopies + area) * d.bs
		if err := d.jdev.(blockdev.Resizer).Resize(total); err != nil {
			return fmt.Errorf("journal: grow the journal to %d bytes: %w", total, err)
		}
		old := (hdrCopies + d.area) * d.bs
		if err := zero(d.jdev, old, total-old, int(d.bs)); err != nil {
			return fmt.Errorf("journal: write the grown journal: %w", err)
		}
		if err := d.jdev.Flush(); err != nil {
			return fmt.Errorf("journal: flush the grown journal: %w", err)
		}
	}
	d.mu.RLock()
	nh := d.hdr
	nh.baseSize = d.size
	d.mu.RUnlock()
	nh.rootSeq++
	if d.opts.Break&BreakGeneration == 0 {
		nh.gen++
	}
	nh.area, nh.start, nh.startSeq, nh.startPrev = area, 0, 1, 0
	if err := d.writeRoot(nh); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hdr, d.area, d.gen = nh, area, nh.gen
	d.recs = nil
	d.head, d.nextSeq, d.prev, d.durable = 0, 1, 0, 0
	d.index.Clear(false)
	d.zeroFrom = noCut
	d.suspect, d.suspectErr = false, nil
	return nil
}

// startBackground starts the checkpointer (unless Options.NoBackground).
func (d *Device) startBackground() {
	if d.opts.NoBackground {
		close(d.done)
		return
	}
	go d.background()
}

// background checkpoints when a flush left the journal fuller than
// CheckpointAt, and when it holds durable records and saw no commit for
// Idle. A checkpoint that fails is tried again at the next occasion; its
// error is in Stats until one succeeds.
func (d *Device) background() {
	defer close(d.done)
	tick := time.NewTicker(max(d.opts.Idle/2, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-d.kick:
		case <-tick.C:
			d.mu.RLock()
			idle := d.durable > d.hdr.start && time.Since(d.lastCommit) >= d.opts.Idle
			d.mu.RUnlock()
			if !idle {
				continue
			}
		}
		d.ckptMu.Lock()
		_, _ = d.checkpointLocked(false)
		d.ckptMu.Unlock()
	}
}

// Close flushes the journal and checkpoints everything in it, gives a
// regular data file its exact length and flushes it, then closes both
// devices: after a Close that returns nil the journal is empty and the
// data device holds the file, an ordinary file. If the checkpoint fails
// (the data device full, say), Close still closes the devices and returns
// the error: the journal keeps the data, and the next Open replays it. A
// second Close returns blockdev.ErrClosed.
func (d *Device) Close() error {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return blockdev.ErrClosed
	}
	d.mu.Unlock()
	close(d.stop)
	<-d.done
	err := d.finishLocked()
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return errors.Join(err, d.data.Close(), d.jdev.Close())
}

// finishLocked is Finish, and nothing when the last Finish left nothing
// to do.
// REQUIRES: commitMu held.
func (d *Device) finishLocked() error {
	d.mu.RLock()
	done := d.finished
	d.mu.RUnlock()
	if done {
		return nil
	}
	err := d.flushLocked()
	if err == nil {
		d.ckptMu.Lock()
		_, err = d.checkpointLocked(true)
		d.ckptMu.Unlock()
	}
	if err == nil {
		d.mu.Lock()
		d.finished = d.head == d.hdr.start
		d.mu.Unlock()
	}
	return err
}

// Finish does what Close does before it closes the devices: it flushes
// the journal, checkpoints everything in it, gives a regular data file its
// exact length and flushes it. The device stays open; a caller that
// removes the journal file does it after Finish returned nil and before
// Close, while the devices (and their locks) are still held.
func (d *Device) Finish() error {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	if d.isClosed() {
		return blockdev.ErrClosed
	}
	return d.finishLocked()
}

// Detach stops the device without writing anything and gives its two
// devices back, open: for a caller whose journal setup failed after
// Format or Open returned (the journal, still valid, is the caller's to
// remove or keep). The Device is closed afterwards.
func (d *Device) Detach() (data, jdev blockdev.Device) {
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return d.data, d.jdev
	}
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	<-d.done
	return d.data, d.jdev
}
