package pagecache

import "sync"

const (
	regionShift = pageShift + maxOrder // a region is one naturally aligned MaxFolioSize range
	regionPages = 1 << maxOrder
	shardCount  = 64
)

// region maps the pages of one 2 MiB range of the file to folios. A folio never crosses a
// region because folios are naturally aligned and at most 2 MiB.
type region struct {
	slots [regionPages]int32 // folio id + 1 of the folio covering each page; 0 when none
	count int                // pages covered
}

// shard is the part of the index for the regions that hash to it.
type shard struct {
	mu      sync.RWMutex // guards regions, spare and the index fields of the folios in them
	regions map[int64]*region
	spare   []*region
	_       [40]byte // keep shards on separate cache lines
}

func (c *Cache) shardOf(off int64) *shard {
	return &c.shards[uint64(off>>regionShift)%shardCount]
}

// lookupLocked returns the id of the folio covering off.
// REQUIRES: shard.mu of off held (read or write).
func (s *shard) lookupLocked(off int64) (int32, bool) {
	r := s.regions[off>>regionShift]
	if r == nil {
		return 0, false
	}
	id := r.slots[(off>>pageShift)&(regionPages-1)]
	return id - 1, id != 0
}

// folioIDsLocked returns the ids of the folios in the regions that reach
// beyond from, each once (and possibly folios that end before from).
// REQUIRES: s.mu held.
func (s *shard) folioIDsLocked(from int64) []int32 {
	var ids []int32
	for key, r := range s.regions {
		if (key+1)<<regionShift <= from {
			continue
		}
		for _, slot := range r.slots {
			if slot == 0 {
				continue
			}
			if id := slot - 1; len(ids) == 0 || ids[len(ids)-1] != id {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// rangeFreeLocked reports whether no folio covers any page of [off, off+size).
// REQUIRES: shard.mu of off held.
func (s *shard) rangeFreeLocked(off, size int64) bool {
	r := s.regions[off>>regionShift]
	if r == nil {
		return true
	}
	first := (off >> pageShift) & (regionPages - 1)
	for i := first; i < first+size>>pageShift; i++ {
		if r.slots[i] != 0 {
			return false
		}
	}
	return true
}

// setLocked points the pages of f at id (or clears them when id < 0).
// REQUIRES: shard.mu of f.off held for writing.
func (s *shard) setLocked(f *folio, id int32) {
	key := f.off >> regionShift
	r := s.regions[key]
	if r == nil {
		if n := len(s.spare); n > 0 {
			r = s.spare[n-1]
			s.spare = s.spare[:n-1]
		} else {
			r = new(region)
		}
		if s.regions == nil {
			s.regions = make(map[int64]*region)
		}
		s.regions[key] = r
	}
	first := (f.off >> pageShift) & (regionPages - 1)
	n := f.size() >> pageShift
	for i := first; i < first+n; i++ {
		r.slots[i] = id + 1
	}
	if id >= 0 {
		r.count += int(n)
	} else {
		r.count -= int(n)
	}
	if r.count == 0 {
		delete(s.regions, key)
		if len(s.spare) < 8 {
			s.spare = append(s.spare, r)
		}
	}
}

// replaceLocked points the pages of the indexed folio old at new (same offset and size).
// REQUIRES: shard.mu of the offset held for writing.
func (s *shard) replaceLocked(old *folio, newID int32) {
	r := s.regions[old.off>>regionShift]
	first := (old.off >> pageShift) & (regionPages - 1)
	for i := first; i < first+old.size()>>pageShift; i++ {
		r.slots[i] = newID + 1
	}
}

// chooseOrder returns the order of the folio to create at pos (a free page, PageSize
// aligned) for a range ending at hi: the largest naturally aligned power of two that fits
// [pos, hi), is at most 1<<topOrder pages and overlaps no folio.
// REQUIRES: shard.mu of pos held.
func (s *shard) chooseOrderLocked(pos, hi int64, topOrder int) int {
	for k := topOrder; k > 0; k-- {
		size := int64(PageSize) << k
		if pos%size == 0 && pos+size <= hi && s.rangeFreeLocked(pos, size) {
			return k
		}
	}
	return 0
}
