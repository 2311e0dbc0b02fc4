package torture

import "bytes"

// Write is one write of a workload as the Model knows it.
type Write struct {
	ID      int // unique across the models of one case, increasing in issue order
	Off     int64
	Data    []byte
	Untorn  bool // atomicio.WriteAt rather than (*File).WriteAt
	Dropped bool // the write failed and wrote nothing
}

// End returns the offset just past the write.
func (w *Write) End() int64 { return w.Off + int64(len(w.Data)) }

// Snapshot is what the Model promised at one moment: the first N writes
// were issued (the last may still be in flight), and the first Synced of
// them returned before a Sync began that then succeeded.
type Snapshot struct {
	N, Synced int
}

// Model is the history of one file since a baseline (all zero for a new
// file, or the content found when it was reopened): every write issued,
// which of them are durable, and the content reads must return. It is not
// safe for concurrent use.
type Model struct {
	size    int64
	base    []byte // the content at the baseline; nil: all zero
	firstID int    // the ID of writes[0]
	writes  []Write
	synced  int
	current []byte
}

// NewModel returns the model of a zeroed file of size bytes.
func NewModel(size int64) *Model {
	return &Model{size: size, firstID: 1, current: make([]byte, size)}
}

// NewModelFrom returns the model of a file whose content is base (a
// verified image, which the model keeps), for writes with IDs from firstID
// on: give it the next ID of the model that base came from, so that no
// write of the new history has the content of an older one.
func NewModelFrom(base []byte, firstID int) *Model {
	return &Model{size: int64(len(base)), base: base, firstID: firstID, current: bytes.Clone(base)}
}

// NextID returns the ID the next write will get.
func (m *Model) NextID() int { return m.firstID + len(m.writes) }

// Size returns the file's size.
func (m *Model) Size() int64 { return m.size }

// Writes returns the history; the caller must not modify it.
func (m *Model) Writes() []Write { return m.writes }

// Begin records a write of n bytes at off about to be issued and returns
// its index and content. Until Commit or Drop it is in flight: an image may
// or may not show it.
func (m *Model) Begin(off int64, n int, untorn bool) (int, []byte) {
	id := m.NextID()
	p := make([]byte, n)
	Fill(p, id, off)
	m.writes = append(m.writes, Write{ID: id, Off: off, Data: p, Untorn: untorn})
	return len(m.writes) - 1, p
}

// Commit records that write i returned successfully: reads see it.
func (m *Model) Commit(i int) {
	w := &m.writes[i]
	copy(m.current[w.Off:], w.Data)
}

// Drop records that write i failed and wrote nothing.
func (m *Model) Drop(i int) { m.writes[i].Dropped = true }

// SyncStart returns the mark to give SyncDone when the Sync that is about
// to begin succeeds.
func (m *Model) SyncStart() int { return len(m.writes) }

// SyncDone records that a Sync begun at mark succeeded.
func (m *Model) SyncDone(mark int) { m.synced = max(m.synced, mark) }

// Snapshot returns the promises as of now.
func (m *Model) Snapshot() Snapshot { return Snapshot{N: len(m.writes), Synced: m.synced} }

// Current returns what reads must return now; the caller must not modify
// it.
func (m *Model) Current() []byte { return m.current }

// baseAt returns the baseline byte at off.
func (m *Model) baseAt(off int64) byte {
	if m.base == nil {
		return 0
	}
	return m.base[off]
}
