package pagestore

import (
	"errors"
	"fmt"
	"slices"

	"github.com/untorn/untorn/atomicio"
)

// Sync commits every Put and Delete that returned before it: it writes the
// changed buckets to free pages and the meta page that points at them as
// one untorn batch, then makes it durable with one File Sync (see
// commitLocked). With nothing pending it does nothing. ErrFull leaves the changes pending; any other
// error fails the store (ErrFailed).
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.syncLocked()
}

// chainWrite is the new chain of one changed bucket.
type chainWrite struct {
	bucket uint32
	groups [][]entry
	pages  []uint32
}

// syncLocked is Sync.
// REQUIRES: mu held.
func (s *Store) syncLocked() error {
	if s.failed != nil {
		return s.failed
	}
	if len(s.dirty) == 0 {
		return nil
	}
	chains, next, err := s.allocateLocked()
	if err != nil {
		return err
	}
	m := meta{gen: s.committed.gen + 1, count: uint64(s.count), pageCount: next, heads: slices.Clone(s.committed.heads)}
	var pages []pageWrite
	for _, c := range chains {
		for i, g := range c.groups {
			bp := bucketPage{number: c.pages[i], bucket: c.bucket, gen: m.gen, entries: g}
			if i+1 < len(c.pages) {
				bp.next = c.pages[i+1]
			}
			buf := make([]byte, PageSize)
			encodeBucketPage(buf, bp)
			pages = append(pages, pageWrite{number: bp.number, data: buf})
		}
		m.heads[c.bucket] = 0
		if len(c.pages) > 0 {
			m.heads[c.bucket] = c.pages[0]
		}
	}
	meta := make([]byte, PageSize)
	encodeMeta(meta, m)
	if err := s.commitLocked(pages, meta); err != nil {
		return s.failLocked(err)
	}
	// Committed: the old chains are free now.
	s.committed = m
	for _, c := range chains {
		s.free = append(s.free, s.chains[c.bucket]...)
		s.chains[c.bucket], s.counts[c.bucket] = c.pages, len(s.dirty[c.bucket])
	}
	clear(s.dirty)
	return nil
}

// allocateLocked splits every changed bucket into pages and gives each a
// free page: reused ones first, then pages past the high-water mark. It
// returns the chains and the new high-water mark, or ErrFull with nothing
// taken.
// REQUIRES: mu held.
func (s *Store) allocateLocked() ([]chainWrite, uint32, error) {
	buckets := make([]uint32, 0, len(s.dirty))
	for b := range s.dirty {
		buckets = append(buckets, b)
	}
	slices.Sort(buckets)
	chains := make([]chainWrite, 0, len(buckets))
	need := 0
	for _, b := range buckets {
		c := chainWrite{bucket: b, groups: chainPages(s.dirty[b])}
		need += len(c.groups)
		chains = append(chains, c)
	}
	next := s.committed.pageCount
	if fresh := need - len(s.free); fresh > 0 && int64(next)+int64(fresh) > int64(s.maxPages) {
		return nil, 0, fmt.Errorf("%w: %d pages needed, %d free of %d", ErrFull, need, len(s.free)+int(s.maxPages-next), s.maxPages)
	}
	for i := range chains {
		for range chains[i].groups {
			var n uint32
			if k := len(s.free); k > 0 {
				n, s.free = s.free[k-1], s.free[:k-1]
			} else {
				n, next = next, next+1
			}
			chains[i].pages = append(chains[i].pages, n)
		}
	}
	return chains, next, nil
}

// failLocked makes err sticky.
// REQUIRES: mu held.
func (s *Store) failLocked(err error) error {
	s.failed = fmt.Errorf("%w: sync: %w", ErrFailed, err)
	return s.failed
}

// pageWrite is one page of a commit.
type pageWrite struct {
	number uint32
	data   []byte
}

// commitLocked makes pages and the meta page durable together. The normal
// path is one atomicio batch (the chain pages and the meta page land
// together or not at all) and one File Sync: one device flush per commit.
// A commit larger than the File's largest batch (or one the mode refuses)
// takes the shadow-paging path instead: the chains, a Sync, then the meta
// page with one untorn write, a Sync. Both are safe, because the chains go
// to pages no committed meta page points at.
// REQUIRES: mu held.
func (s *Store) commitLocked(pages []pageWrite, meta []byte) error {
	if !s.shadowOnly && int64(len(pages)+1)*PageSize <= s.f.MaxBatch() {
		b := s.f.NewBatch()
		for _, p := range pages {
			if _, err := b.WriteAt(p.data, int64(p.number)*PageSize); err != nil {
				return fmt.Errorf("batch page %d: %w", p.number, err)
			}
		}
		if _, err := b.WriteAt(meta, 0); err != nil {
			return fmt.Errorf("batch the meta page: %w", err)
		}
		err := b.Commit()
		switch {
		case err == nil:
			s.batches++
			return s.f.Sync()
		case !errors.Is(err, atomicio.ErrTooLarge) && !errors.Is(err, atomicio.ErrNotSupported):
			return fmt.Errorf("commit: %w", err)
		}
	}
	s.shadowCommits++
	for _, p := range pages {
		if _, err := atomicio.WriteAt(s.f, p.data, int64(p.number)*PageSize); err != nil {
			return fmt.Errorf("write page %d: %w", p.number, err)
		}
	}
	// The chains must be durable before the meta page points at them.
	if err := s.f.Sync(); err != nil {
		return err
	}
	if _, err := atomicio.WriteAt(s.f, meta, 0); err != nil {
		return fmt.Errorf("write the meta page: %w", err)
	}
	return s.f.Sync()
}
