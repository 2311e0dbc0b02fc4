package pagestore

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/untorn/untorn/atomicio"
)

// Options tune a new store; an existing one keeps what it was created with.
type Options struct {
	// Buckets is the number of hash buckets of a new store
	// (DefaultBuckets; at most MaxBuckets).
	Buckets int

	// shadowOnly makes every Sync take the two-Sync shadow-paging path
	// (the benchmark's baseline; tests of this package only).
	shadowOnly bool
}

// Store is a hashed key-value store over an atomicio.File.
//
// Lock order: mu only (the File's locks are below it).
type Store struct {
	mu        sync.Mutex // guards every field below
	f         *atomicio.File
	maxPages  uint32             // pages the File holds
	committed meta               // the state the meta page on the File describes
	chains    [][]uint32         // per bucket: the pages of its committed chain
	counts    []int              // per bucket: the keys in its committed chain
	dirty     map[uint32][]entry // buckets changed since the last commit: their whole contents
	count     int                // keys, pending changes included
	free      []uint32           // pages below committed.pageCount no committed chain uses
	failed    error              // sticky: an I/O error inside Sync
	closed    bool
	page      []byte // scratch page

	batches, shadowCommits int  // commits by batch, and by the two-Sync fallback (Stats)
	shadowOnly             bool // Options.shadowOnly
}

// Open opens the store on f, creating it when f reads as zeros at page 0.
// It walks every chain to verify the pages and find the free ones. From
// then on the Store owns f: Close closes it. When Open fails, f is left to
// the caller.
func Open(f *atomicio.File, opts Options) (*Store, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: nil File", ErrInvalid)
	}
	if opts.Buckets < 0 || opts.Buckets > MaxBuckets {
		return nil, fmt.Errorf("%w: %d buckets (at most %d)", ErrInvalid, opts.Buckets, MaxBuckets)
	}
	s := &Store{f: f, dirty: map[uint32][]entry{}, page: make([]byte, PageSize), shadowOnly: opts.shadowOnly}
	// The File grows as pages are used, up to its largest size.
	if n := f.MaxSize() / PageSize; n < 2 {
		return nil, fmt.Errorf("%w: a File of at most %d bytes", ErrInvalid, f.MaxSize())
	} else {
		s.maxPages = uint32(min(n, 1<<31))
	}
	n, err := f.ReadAt(s.page, 0)
	switch {
	case err == io.EOF && n == 0: // a new, empty file
		clear(s.page)
	case err != nil && err != io.EOF:
		return nil, fmt.Errorf("pagestore: read the meta page: %w", err)
	}
	if isZero(s.page) {
		if err := s.formatLocked(opts); err != nil {
			return nil, err
		}
		return s, nil
	}
	m, err := decodeMeta(s.page, s.maxPages)
	if err != nil {
		return nil, err
	}
	s.committed = m
	if err := s.walkLocked(false); err != nil {
		return nil, err
	}
	s.count = int(m.count)
	used := make([]bool, m.pageCount)
	for _, chain := range s.chains {
		for _, n := range chain {
			used[n] = true
		}
	}
	for n := m.pageCount - 1; n >= 1; n-- {
		if !used[n] {
			s.free = append(s.free, n) // descending: the lowest page is popped first
		}
	}
	return s, nil
}

// formatLocked writes an empty store.
// REQUIRES: mu held (or s not shared yet).
func (s *Store) formatLocked(opts Options) error {
	buckets := opts.Buckets
	if buckets == 0 {
		buckets = DefaultBuckets
	}
	m := meta{gen: 1, pageCount: 1, heads: make([]uint32, buckets)}
	encodeMeta(s.page, m)
	if _, err := atomicio.WriteAt(s.f, s.page, 0); err != nil {
		return fmt.Errorf("pagestore: format: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("pagestore: format: %w", err)
	}
	s.committed, s.chains, s.counts = m, make([][]uint32, buckets), make([]int, buckets)
	return nil
}

// usableLocked returns the error a method must fail with, if any.
// REQUIRES: mu held.
func (s *Store) usableLocked() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.failed != nil:
		return s.failed
	}
	return nil
}

// Len returns the number of keys, pending changes included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Get returns a copy of key's value and whether key is present.
func (s *Store) Get(key []byte) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return nil, false, err
	}
	entries, err := s.bucketLocked(bucketOf(key, len(s.committed.heads)))
	if err != nil {
		return nil, false, err
	}
	if i := find(entries, key); i >= 0 {
		return append([]byte{}, entries[i].value...), true, nil
	}
	return nil, false, nil
}

// Put sets key to value (both are copied). It is durable after the next
// successful Sync.
func (s *Store) Put(key, value []byte) error {
	if len(key) > MaxKeySize || len(value) > MaxValueSize {
		return fmt.Errorf("%w: key %d bytes (max %d), value %d bytes (max %d)",
			ErrTooLarge, len(key), MaxKeySize, len(value), MaxValueSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return err
	}
	b := bucketOf(key, len(s.committed.heads))
	entries, err := s.bucketLocked(b)
	if err != nil {
		return err
	}
	e := entry{key: append([]byte{}, key...), value: append([]byte{}, value...)}
	if i := find(entries, key); i >= 0 {
		entries[i] = e
	} else {
		entries = append(entries, e)
		s.count++
	}
	s.dirty[b] = entries
	return nil
}

// Delete removes key and reports whether it was there. It is durable
// after the next successful Sync.
func (s *Store) Delete(key []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return false, err
	}
	b := bucketOf(key, len(s.committed.heads))
	entries, err := s.bucketLocked(b)
	if err != nil {
		return false, err
	}
	i := find(entries, key)
	if i < 0 {
		return false, nil
	}
	entries[i] = entries[len(entries)-1]
	s.dirty[b] = entries[:len(entries)-1]
	s.count--
	return true, nil
}

// Scan calls fn for every key and value, bucket by bucket, until fn
// returns false. key and value are valid only during the call and must not
// be modified; fn must not call the Store.
func (s *Store) Scan(fn func(key, value []byte) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return err
	}
	for b := range uint32(len(s.committed.heads)) {
		entries, err := s.bucketLocked(b)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !fn(e.key, e.value) {
				return nil
			}
		}
	}
	return nil
}

// Close commits the pending changes (Sync) and closes the File. If the
// Sync fails, Close returns its error and the store stays open.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.syncLocked(); err != nil {
		return err
	}
	s.closed = true
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("pagestore: close: %w", err)
	}
	return nil
}

// bucketLocked returns bucket b's entries: the pending ones, or those of
// its committed chain (fresh copies the caller may keep).
// REQUIRES: mu held.
func (s *Store) bucketLocked(b uint32) ([]entry, error) {
	if entries, ok := s.dirty[b]; ok {
		return entries, nil
	}
	var entries []entry
	err := s.chainLocked(b, func(bp bucketPage) error {
		entries = append(entries, bp.entries...)
		return nil
	})
	return entries, err
}

// chainLocked reads bucket b's committed chain page by page.
// REQUIRES: mu held.
func (s *Store) chainLocked(b uint32, visit func(bucketPage) error) error {
	hops := 0
	for n := s.committed.heads[b]; n != 0; hops++ {
		if n >= s.committed.pageCount || hops >= int(s.committed.pageCount) {
			return fmt.Errorf("%w: bucket %d: chain reaches page %d (cycle or past %d pages)", ErrCorrupt, b, n, s.committed.pageCount)
		}
		if _, err := s.f.ReadAt(s.page, int64(n)*PageSize); err != nil {
			return fmt.Errorf("pagestore: read page %d: %w", n, err)
		}
		bp, err := decodeBucketPage(s.page, n)
		if err != nil {
			return err
		}
		if bp.bucket != b {
			return fmt.Errorf("%w: page %d of bucket %d says bucket %d", ErrCorrupt, n, b, bp.bucket)
		}
		if err := visit(bp); err != nil {
			return err
		}
		n = bp.next
	}
	return nil
}

func find(entries []entry, key []byte) int {
	for i, e := range entries {
		if bytes.Equal(e.key, key) {
			return i
		}
	}
	return -1
}

func isZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

// Stats count how the store committed.
type Stats struct {
	BatchCommits  int // Syncs that committed with one untorn batch and one File Sync
	ShadowCommits int // Syncs too large for a batch: chains, Sync, meta page, Sync
}

// Stats returns the commit counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{BatchCommits: s.batches, ShadowCommits: s.shadowCommits}
}
