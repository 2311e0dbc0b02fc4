package journal

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/untorn/untorn/blockdev"
)

// Home copies read the log back in chunks of up to ckptChunk bytes, in
// log order, each with one sequential read (the superseded images and
// headers in between come along: a sequential read costs less than many
// small ones); then the images of a chunk go home in block order, a run
// of consecutive blocks (up to maxHomeWrite) in one vectored write.
//
// The copy is a pipeline of two buffers: while the home writes of one
// chunk are in flight, the next chunk is read back, and QueueDepth writes
// stay in flight across chunk boundaries (a barrier after each chunk left
// the device idle for its read and for the chunk's slowest write). A
// chunk of 1 MiB keeps the reads large and the pool's buffers (maxCkptBufs
// of them for the whole process) small.
const (
	ckptChunk    = 1 << 20
	maxHomeWrite = 1 << 20
)

// ckptBufs are the buffers checkpoints read images back into, shared by
// every journal of the process and bounded: a journal holds none between
// checkpoints, and at most maxCkptBufs copies hold one at once (the others
// wait for one), so that with hundreds of files on one Cache the memory
// follows the copies running, not the files open. pipeBufs are the second
// buffers of the copies' pipelines, at most maxPipeBufs of them: a copy
// takes one only if one is free at once and never waits for it, so the
// copies' first buffers depend on nothing but other copies' progress, as
// without pipelines (a copy whose writes wait on something that needs
// another copy's first buffer, as a crash test's callback does, cannot
// hold that buffer as a second one). ckptBufAlign suits every device's
// MemAlign here.
var (
	ckptBufs = newBufferPool(maxCkptBufs, ckptChunk, ckptBufAlign)
	pipeBufs = newBufferPool(maxPipeBufs, ckptChunk, ckptBufAlign)
)

const (
	maxCkptBufs  = 4
	maxPipeBufs  = 2
	ckptBufAlign = 4096
)

// bufferPool hands out at most max aligned buffers of size bytes at a
// time, made on demand and kept for reuse.
type bufferPool struct {
	size, align int
	tokens      chan struct{} // one per buffer that may exist
	mu          sync.Mutex    // guards free
	free        [][]byte
}

func newBufferPool(max, size, align int) *bufferPool {
	return &bufferPool{size: size, align: align, tokens: make(chan struct{}, max)}
}

// get returns a buffer, waiting while max are out.
func (p *bufferPool) get() []byte {
	p.tokens <- struct{}{}
	return p.take()
}

// tryGet returns a buffer if fewer than max are out, without waiting.
func (p *bufferPool) tryGet() ([]byte, bool) {
	select {
	case p.tokens <- struct{}{}:
		return p.take(), true
	default:
		return nil, false
	}
}

// take returns a free buffer or a new one.
// REQUIRES: a token taken.
func (p *bufferPool) take() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	return blockdev.AlignedBuffer(p.size, p.align)
}

// put gives a buffer from get or tryGet back.
func (p *bufferPool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b)
	p.mu.Unlock()
	<-p.tokens
}

// homeChunk is a chunk of the log read back: buf holds its span bytes of
// log blocks from lsn lo on, and images (ascending blocks) lie in it.
type homeChunk struct {
	buf      []byte
	lo, span int64
	images   []image
}

// copyHome writes images (ascending blocks) home and returns the time it
// spent reading them back: cloned (blockdev.Cloner) where the devices can
// share blocks, else copied.
// REQUIRES: ckptMu held.
func (d *Device) copyHome(images []image) (readBack time.Duration, err error) {
	if len(images) == 0 {
		return 0, nil
	}
	if d.cloner != nil && !d.noClone && len(d.repaired) == 0 {
		err := d.cloneHome(images)
		if !errors.Is(err, blockdev.ErrNotSupported) {
			return 0, err
		}
		d.noClone = true // and copy them all (what was cloned is the same data)
	}
	bufs, pools := d.takeCkptBufs()
	defer func() {
		for i, b := range bufs {
			pools[i].put(b)
		}
	}()
	local := bufs
	if d.limits.MemAlign > ckptBufAlign {
		local = make([][]byte, len(bufs))
		for i := range local {
			local[i] = blockdev.AlignedBuffer(ckptChunk, d.limits.MemAlign)
		}
	}
	free := make(chan []byte, len(local))
	for _, b := range local {
		free <- b
	}
	w := d.newHomeWriter()
	for _, c := range d.logChunks(images) {
		buf := <-free // a buffer whose writes are all done
		if w.failed() {
			free <- buf
			break
		}
		c.buf = buf[:c.span]
		rstart := time.Now()
		rerr := d.readLog(c.buf, c.lo)
		took := time.Since(rstart)
		readBack += took
		d.mu.Lock()
		d.stats.ReadTime += took
		d.stats.HomeReads++
		d.mu.Unlock()
		if rerr != nil {
			w.fail(rerr)
			free <- buf
			break
		}
		w.write(c, func() { free <- buf })
	}
	return readBack, w.wait()
}

// takeCkptBufs takes a copy's buffers and the pools they go back to: one
// from ckptBufs, waiting for it, and a second from pipeBufs for its
// pipeline if one is free at once. A device with QueueDepth 1 keeps its
// I/O in one deterministic order and takes one.
func (d *Device) takeCkptBufs() ([][]byte, []*bufferPool) {
	bufs, pools := [][]byte{ckptBufs.get()}, []*bufferPool{ckptBufs}
	if d.opts.QueueDepth > 1 {
		if b, ok := pipeBufs.tryGet(); ok {
			bufs, pools = append(bufs, b), append(pools, pipeBufs)
		}
	}
	return bufs, pools
}

// logChunks splits images into the chunks one read brings back: sorted
// by log position, each spanning less than ckptChunk bytes of the log,
// and each sorted by block again for its home writes. A chunk's buf has
// no memory yet, only the length its read takes.
func (d *Device) logChunks(images []image) []homeChunk {
	byLog := slices.Clone(images)
	slices.SortFunc(byLog, func(a, b image) int { return int(a.lsn - b.lsn) })
	per := int64(ckptChunk) / d.bs
	var chunks []homeChunk
	for i := 0; i < len(byLog); {
		lo := byLog[i].lsn
		j := i
		for j < len(byLog) && byLog[j].lsn < lo+per {
			j++
		}
		span := (byLog[j-1].lsn + 1 - lo) * d.bs
		chunk := byLog[i:j:j]
		slices.SortFunc(chunk, func(a, b image) int { return int(a.block - b.block) })
		chunks = append(chunks, homeChunk{lo: lo, span: span, images: chunk})
		i = j
	}
	return chunks
}

// homeWriter keeps up to QueueDepth home writes in flight, across the
// chunks given to it, and remembers the first error.
type homeWriter struct {
	d     *Device
	vec   blockdev.VectorWriter // nil: the data device writes one buffer at a time
	slots chan struct{}         // one per write in flight
	all   sync.WaitGroup        // every write started

	errMu sync.Mutex // guards first
	first error
}

func (d *Device) newHomeWriter() *homeWriter {
	vec, _ := d.data.(blockdev.VectorWriter)
	return &homeWriter{d: d, vec: vec, slots: make(chan struct{}, max(d.opts.QueueDepth, 1))}
}

func (w *homeWriter) fail(err error) {
	w.errMu.Lock()
	if w.first == nil {
		w.first = err
	}
	w.errMu.Unlock()
}

func (w *homeWriter) failed() bool {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.first != nil
}

// wait waits for every write started and returns the first error.
func (w *homeWriter) wait() error {
	w.all.Wait()
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.first
}

// write starts c's home writes, runs of consecutive blocks, and calls
// done once all of them have returned (c.buf is then free again). It
// returns once the last one has started; with QueueDepth 1 each write
// returns before the next starts.
func (w *homeWriter) write(c homeChunk, done func()) {
	d, bs := w.d, w.d.bs
	var runs [][2]int
	for k := 0; k < len(c.images); {
		m := k + 1
		for m < len(c.images) && c.images[m].block == c.images[m-1].block+1 && int64(m-k)*bs < maxHomeWrite &&
			(w.vec != nil || c.images[m].lsn == c.images[m-1].lsn+1) {
			m++
		}
		runs = append(runs, [2]int{k, m})
		k = m
	}
	d.mu.Lock()
	d.stats.HomeWrites += int64(len(runs))
	d.stats.HomeBytes += int64(len(c.images)) * bs
	d.mu.Unlock()
	var chunkDone sync.WaitGroup
	for _, r := range runs {
		w.slots <- struct{}{}
		if w.failed() {
			<-w.slots
			break
		}
		chunkDone.Add(1)
		w.all.Add(1)
		go func() {
			defer func() { <-w.slots; chunkDone.Done(); w.all.Done() }()
			if err := w.writeRun(c, c.images[r[0]:r[1]]); err != nil {
				w.fail(err)
			}
		}()
		if d.opts.QueueDepth <= 1 {
			chunkDone.Wait()
		}
	}
	w.all.Add(1)
	go func() {
		defer w.all.Done()
		chunkDone.Wait()
		done()
	}()
}

// writeRun writes run (consecutive blocks) home from c.buf: one write if
// its images lie consecutively in the log, else a vectored one.
func (w *homeWriter) writeRun(c homeChunk, run []image) error {
	bs := w.d.bs
	off := run[0].block * bs
	at := func(im image) int64 { return (im.lsn - c.lo) * bs }
	contiguous := true
	for x := 1; x < len(run); x++ {
		contiguous = contiguous && run[x].lsn == run[x-1].lsn+1
	}
	var err error
	if contiguous {
		_, err = w.d.data.WriteAt(c.buf[at(run[0]):at(run[len(run)-1])+bs], off, 0)
	} else {
		bufs := make([][]byte, len(run))
		for x, im := range run {
			bufs[x] = c.buf[at(im) : at(im)+bs]
		}
		_, err = w.vec.WritevAt(bufs, off, 0)
	}
	if err != nil {
		return fmt.Errorf("journal: write home at %d: %w", off, err)
	}
	return nil
}
