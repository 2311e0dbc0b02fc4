package pagestore

import (
	"fmt"
	"slices"
)

// Check verifies the store: the meta page on the File decodes and matches
// the committed state in memory, every chain page checks out (checksum,
// page number, bucket, no page in two chains or free at once), every key
// is in its hash bucket and only once, and the key counts add up, pending
// changes included. It returns nil or an error wrapping ErrCorrupt (or the
// I/O error that stopped it).
func (s *Store) Check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return err
	}
	if _, err := s.f.ReadAt(s.page, 0); err != nil {
		return fmt.Errorf("pagestore: check: read the meta page: %w", err)
	}
	m, err := decodeMeta(s.page, s.maxPages)
	if err != nil {
		return err
	}
	if m.gen != s.committed.gen || m.count != s.committed.count || m.pageCount != s.committed.pageCount ||
		!slices.Equal(m.heads, s.committed.heads) {
		return fmt.Errorf("%w: meta page (generation %d) differs from the committed state (generation %d)", ErrCorrupt, m.gen, s.committed.gen)
	}
	chains, counts := s.chains, s.counts
	if err := s.walkLocked(true); err != nil {
		return err
	}
	for b := range chains {
		if !slices.Equal(chains[b], s.chains[b]) || counts[b] != s.counts[b] {
			return fmt.Errorf("%w: bucket %d: chain or count in memory differs from the File", ErrCorrupt, b)
		}
	}
	owner := make([]int, m.pageCount) // 0 unused, 1 in a chain, 2 free
	for _, chain := range s.chains {
		for _, n := range chain {
			owner[n] = 1
		}
	}
	for _, n := range s.free {
		if n == 0 || n >= m.pageCount || owner[n] != 0 {
			return fmt.Errorf("%w: free page %d is out of range, in a chain or free twice", ErrCorrupt, n)
		}
		owner[n] = 2
	}
	total := int(m.count)
	for b, entries := range s.dirty {
		if err := checkEntries(b, entries, len(m.heads)); err != nil {
			return err
		}
		total += len(entries) - s.counts[b]
	}
	if total != s.count {
		return fmt.Errorf("%w: %d keys counted, %d recorded", ErrCorrupt, total, s.count)
	}
	return nil
}

// walkLocked reads every committed chain and rebuilds s.chains and
// s.counts from them, checking each page, that no page is in two chains
// and that the counts add up to the meta page's. With keys it also checks
// every key's bucket and that no key appears twice.
// REQUIRES: mu held.
func (s *Store) walkLocked(keys bool) error {
	m := s.committed
	seen := make([]bool, m.pageCount)
	chains, counts := make([][]uint32, len(m.heads)), make([]int, len(m.heads))
	total := uint64(0)
	for b := range uint32(len(m.heads)) {
		var entries []entry
		err := s.chainLocked(b, func(bp bucketPage) error {
			if seen[bp.number] {
				return fmt.Errorf("%w: page %d is in two chains", ErrCorrupt, bp.number)
			}
			seen[bp.number] = true
			chains[b] = append(chains[b], bp.number)
			counts[b] += len(bp.entries)
			if keys {
				entries = append(entries, bp.entries...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if keys {
			if err := checkEntries(b, entries, len(m.heads)); err != nil {
				return err
			}
		}
		total += uint64(counts[b])
	}
	if total != m.count {
		return fmt.Errorf("%w: chains hold %d keys, the meta page says %d", ErrCorrupt, total, m.count)
	}
	s.chains, s.counts = chains, counts
	return nil
}

// checkEntries checks that every key of bucket b hashes to b, once.
func checkEntries(b uint32, entries []entry, buckets int) error {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if bucketOf(e.key, buckets) != b {
			return fmt.Errorf("%w: key %q in bucket %d belongs in %d", ErrCorrupt, e.key, b, bucketOf(e.key, buckets))
		}
		if seen[string(e.key)] {
			return fmt.Errorf("%w: key %q twice in bucket %d", ErrCorrupt, e.key, b)
		}
		seen[string(e.key)] = true
	}
	return nil
}
