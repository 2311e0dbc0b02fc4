package cow

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/crashmodel"
)

// cowMachine drives a COW device over a Mem and a model of it: the owner
// (write id) of every block now, and every state since the last durable
// point, one of which a crash must recover.
type cowMachine struct {
	mem     *blockdev.Mem
	d       *Device
	bs      int64
	nblocks int64
	nextID  uint64
	cur     []uint64   // owners now
	since   [][]uint64 // states since the last Flush/FUA; since[0] is durable
}

// commit records a completed operation. A plain write longer than
// MaxBatch is committed in MaxBatch chunks, each a state a crash may show.
func (m *cowMachine) commit(o wop, err error, t *rapid.T) {
	require.NoError(t, err, "%v", o)
	chunk := m.nblocks
	if o.kind == opPlain {
		chunk = m.d.MaxBatch() / m.bs
	}
	for _, p := range o.pieces {
		first, end := p.Off/m.bs, (p.Off+int64(len(p.Data)))/m.bs
		for c := first; c < end; c += chunk {
			m.cur = slices.Clone(m.cur)
			for b := c; b < min(c+chunk, end); b++ {
				m.cur[b] = o.id
			}
			if o.kind == opPlain {
				m.since = append(m.since, m.cur)
			}
		}
	}
	if o.kind != opPlain {
		m.since = append(m.since, m.cur)
	}
	if o.durable() {
		m.since = [][]uint64{m.cur}
	}
}

func (m *cowMachine) newOp(kind opKind, t *rapid.T) wop {
	m.nextID++
	o := wop{kind: kind, id: m.nextID}
	if rapid.IntRange(0, 3).Draw(t, "fua") == 0 {
		o.flags |= blockdev.FUA
	}
	return o
}

func (m *cowMachine) piece(off, n int64, id uint64) blockdev.Piece {
	p := blockdev.Piece{Off: off, Data: blockdev.AlignedBuffer(int(n), 512)}
	crashmodel.Fill(p.Data, id, off)
	return p
}

func (m *cowMachine) write(t *rapid.T) {
	o := m.newOp(opPlain, t)
	nb := rapid.Int64Range(1, 12).Draw(t, "blocks")
	lb := rapid.Int64Range(0, m.nblocks-nb).Draw(t, "block")
	o.pieces = []blockdev.Piece{m.piece(lb*m.bs, nb*m.bs, o.id)}
	m.commit(o, o.apply(m.d), t)
}

func (m *cowMachine) atomic(t *rapid.T) {
	o := m.newOp(opAtomic, t)
	o.flags |= blockdev.Atomic
	l := m.d.Limits()
	size := int64(l.AtomicMin) << rapid.IntRange(0, 2).Draw(t, "shift")
	off := rapid.Int64Range(0, m.nblocks*m.bs/size-1).Draw(t, "unit") * size
	o.pieces = []blockdev.Piece{m.piece(off, size, o.id)}
	m.commit(o, o.apply(m.d), t)
}

func (m *cowMachine) batch(t *rapid.T) {
	o := m.newOp(opBatch, t)
	o.pieces = []blockdev.Piece{} // may stay empty
	used := make([]bool, m.nblocks)
	left := m.d.MaxBatch() / m.bs
	for range rapid.IntRange(0, 6).Draw(t, "pieces") {
		nb := min(rapid.Int64Range(1, 3).Draw(t, "blocks"), left)
		lb := rapid.Int64Range(0, m.nblocks-nb).Draw(t, "block")
		if nb == 0 || slices.Contains(used[lb:lb+nb], true) {
			continue
		}
		for b := lb; b < lb+nb; b++ {
			used[b] = true
		}
		left -= nb
		o.pieces = append(o.pieces, m.piece(lb*m.bs, nb*m.bs, o.id))
	}
	m.commit(o, o.apply(m.d), t)
}

func (m *cowMachine) read(t *rapid.T) {
	nb := rapid.Int64Range(1, m.nblocks).Draw(t, "blocks")
	lb := rapid.Int64Range(0, m.nblocks-nb).Draw(t, "block")
	buf := blockdev.AlignedBuffer(int(nb*m.bs), 512)
	_, err := m.d.ReadAt(buf, lb*m.bs)
	require.NoError(t, err)
	want := make([]byte, m.bs)
	for b := range nb {
		clear(want)
		if id := m.cur[lb+b]; id != 0 {
			crashmodel.Fill(want, id, (lb+b)*m.bs)
		}
		require.True(t, bytes.Equal(want, buf[b*m.bs:(b+1)*m.bs]), "block %d: want write %d", lb+b, m.cur[lb+b])
	}
}

// crash cuts the power, reopens the image and checks it shows one of the
// states since the last durable point.
func (m *cowMachine) crash(t *rapid.T) {
	cfg := blockdev.CrashConfig{
		Seed:    rapid.Uint64().Draw(t, "seed"),
		Survive: rapid.SampledFrom([]float64{0, 0.5, 1}).Draw(t, "survive"),
	}
	clone := m.mem.CrashClone(cfg)
	d, err := Open(clone, Options{})
	require.NoError(t, err)
	got, err := owners(d)
	require.NoError(t, err)
	ok := slices.ContainsFunc(m.since, func(s []uint64) bool { return slices.Equal(s, got) })
	require.True(t, ok, "crash %+v: recovered state is none of the %d allowed", cfg, len(m.since))
	m.mem, m.d, m.cur, m.since = clone, d, got, [][]uint64{got}
}

// reopen opens the device again without a crash: nothing may change.
func (m *cowMachine) reopen(t *rapid.T) {
	d, err := Open(m.mem, Options{})
	require.NoError(t, err)
	got, err := owners(d)
	require.NoError(t, err)
	require.Equal(t, m.cur, got)
	m.d, m.since = d, [][]uint64{m.cur}
}

func TestRapidStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mem := newSmallMem(t)
		d, err := Format(mem, smallOptions)
		require.NoError(t, err)
		bs := int64(d.Limits().BlockSize)
		n := d.Size() / bs
		m := &cowMachine{mem: mem, d: d, bs: bs, nblocks: n, cur: make([]uint64, n)}
		m.since = [][]uint64{m.cur}
		t.Repeat(map[string]func(*rapid.T){
			"write":  m.write,
			"atomic": m.atomic,
			"batch":  m.batch,
			"flush":  func(t *rapid.T) { require.NoError(t, m.d.Flush()); m.since = [][]uint64{m.cur} },
			"read":   m.read,
			"crash":  m.crash,
			"reopen": m.reopen,
			"": func(t *rapid.T) {
				require.NoError(t, m.d.checkInvariants())
			},
		})
	})
}

// TestLongPlainWriteCommitsInChunks is the regression case of a rapid
// failure (of the model, not the device): a plain write longer than
// MaxBatch is committed in MaxBatch chunks, so a crash may keep a prefix
// of its chunks, here because cleaning before the second chunk
// checkpointed (and so made durable) the first.
func TestLongPlainWriteCommitsInChunks(t *testing.T) {
	mem := newSmallMem(t)
	d, err := Format(mem, smallOptions)
	require.NoError(t, err)
	bs := int64(d.Limits().BlockSize)
	chunk := d.MaxBatch() / bs
	n := chunk + 3
	id := uint64(1)
	for range 40 { // fill the log so that the long write needs cleaning
		p := blockdev.AlignedBuffer(int(bs), 512)
		crashmodel.Fill(p, id, 0)
		_, err := d.WriteAt(p, 0, 0)
		require.NoError(t, err)
		id++
	}
	require.NoError(t, d.Flush())
	before, err := owners(d)
	require.NoError(t, err)
	p := blockdev.AlignedBuffer(int(n*bs), 512)
	crashmodel.Fill(p, id, 0)
	_, err = d.WriteAt(p, 0, 0)
	require.NoError(t, err)
	d2, err := Open(mem.CrashClone(blockdev.CrashConfig{}), Options{})
	require.NoError(t, err)
	got, err := owners(d2)
	require.NoError(t, err)
	first := slices.Clone(before)
	for b := range chunk {
		first[b] = id
	}
	all := slices.Clone(first)
	for b := chunk; b < n; b++ {
		all[b] = id
	}
	ok := slices.Equal(got, before) || slices.Equal(got, first) || slices.Equal(got, all)
	require.True(t, ok, "a long plain write survived in other than MaxBatch chunks: %v", got)
}
