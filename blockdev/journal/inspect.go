package journal

import (
	"fmt"

	"github.com/untorn/untorn/blockdev"
)

// Report is what Inspect found in a journal: its header, and the records
// an Open would replay into the data device.
type Report struct {
	BlockSize   int64  // the journal's block size
	ID          uint64 // the journal's random id (records carry it)
	Generation  uint64 // the current generation (new at every reset)
	HeaderWrite uint64 // the header write number (copy HeaderWrite%2 holds it)
	Capacity    int64  // bytes of the record area
	LogicalSize int64  // the device's capacity: the largest file size
	// BaseSize is the file size the data device holds as of the start of
	// the log; FileSize the size after replaying every record.
	BaseSize, FileSize int64
	// Records are the valid records from the start of the log, which
	// Open would replay, with sequence numbers FirstSeq to FirstSeq +
	// Records - 1.
	Records  int
	FirstSeq uint64
	// LogBytes is what those records take in the record area (headers
	// and data): the journal's fill, what a checkpoint has yet to free.
	LogBytes int64
	// DataBytes is the data they carry; HomeBytes the newest image of
	// each distinct block among it (after their cuts): what replay writes
	// home.
	DataBytes, HomeBytes int64
	// Repaired counts blocks of those records that failed their checksum
	// by one flipped bit and were corrected in memory (Open corrects them
	// the same way, and writes the corrected data home).
	Repaired int
}

// Inspect reads the journal on jdev for the file on data and walks its log
// exactly as Open's recovery does (the header copies, then record after
// record: header and data CRC-32C, id, generation, sequence, Prev chain;
// one flipped bit corrected; at the end of the log, the search that tells
// a torn tail from damage), and reports what it found, without writing
// anything to either device: it builds the journal's state in memory only,
// and every write or flush it might attempt on jdev fails instead of
// reaching it (data is only asked for its size and limits).
//
// The errors are Open's: ErrNotFormatted, ErrVersion, ErrCorrupt (damage
// that is not a torn tail, named), or a read error. With ErrCorrupt from
// the log (not the header) the Report holds the header's fields. Inspect
// takes no ownership: the caller closes both devices.
//
// progress, when not nil, is called after each read of jdev with the
// bytes read so far and a bound of what the walk reads (the header copies
// and the record area twice: once for the records, once for the search
// past the end of the log); done stays below the bound until the last
// call, which has done == total == the bytes actually read. It is called
// from the caller's goroutine.
//
// Limits: the report is as of the moment of the reads. A journal in use
// by an open Device changes under it; callers hold the files' locks (a
// read-only blockdev.OpenFile takes a shared lock, which a writer's
// excludes).
func Inspect(data, jdev blockdev.Device, progress func(done, total int64)) (Report, error) {
	if data == nil || jdev == nil {
		return Report{}, fmt.Errorf("%w: nil device", ErrInvalidOptions)
	}
	bs := blockSize(data, jdev)
	h, err := readRoot(data, jdev, bs)
	if err != nil {
		return Report{}, err
	}
	rep := Report{
		BlockSize: h.blockSize, ID: h.id, Generation: h.gen, HeaderWrite: h.rootSeq,
		Capacity: h.area * h.blockSize, LogicalSize: h.logical,
		BaseSize: h.baseSize, FileSize: h.baseSize, FirstSeq: h.startSeq,
	}
	rc := &readOnly{Device: jdev, read: hdrCopies * bs, total: (hdrCopies + 2*h.area) * bs, progress: progress}
	rc.report()
	d := newDevice(data, rc, h, Options{})
	recs, repaired, err := d.scan()
	if err != nil {
		return rep, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range recs {
		d.publishLocked(r)
		for _, e := range r.extents {
			rep.DataBytes += int64(e.Count) * h.blockSize
		}
	}
	rep.Records = len(recs)
	rep.LogBytes = (d.head - h.start) * h.blockSize
	rep.FileSize = d.size
	rep.HomeBytes = int64(d.index.Len()) * h.blockSize
	rep.Repaired = len(repaired)
	if progress != nil {
		progress(rc.read, rc.read)
	}
	return rep, nil
}

// readOnly is the journal device as Inspect uses it: reads pass and are
// counted for progress; writes and flushes fail, so nothing can reach the
// device; Close leaves it open (it is the caller's).
type readOnly struct {
	blockdev.Device
	read, total int64 // bytes read, and the bound
	progress    func(done, total int64)
}

// report reports the bytes read, below the bound (re-reads can pass it;
// the end is reported last).
func (r *readOnly) report() {
	if r.progress != nil {
		r.progress(min(r.read, r.total-1), r.total)
	}
}

func (r *readOnly) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.Device.ReadAt(p, off)
	r.read += int64(n)
	r.report()
	return n, err
}

func (r *readOnly) WriteAt(p []byte, off int64, _ blockdev.Flags) (int, error) {
	return 0, &blockdev.OpError{Op: "write", Off: off, Len: len(p), Err: fmt.Errorf("journal: Inspect writes nothing: %w", blockdev.ErrNotSupported)}
}

func (r *readOnly) Flush() error {
	return &blockdev.OpError{Op: "flush", Off: -1, Err: fmt.Errorf("journal: Inspect writes nothing: %w", blockdev.ErrNotSupported)}
}

func (r *readOnly) Close() error { return nil }
