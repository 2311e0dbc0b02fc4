package pagestore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/fnv"
)

// PageSize is the size of every page.
const PageSize = 16 << 10

const (
	metaMagic   = 0x55504753 // "UPGS"
	bucketMagic = 0x55504742 // "UPGB"
	formatV1    = 1

	metaHeader   = 40 // crc, magic, version, buckets, generation, count, pageCount, reserved
	bucketHeader = 32 // crc, magic, number, bucket, next, entries, reserved, generation
	entryHeader  = 4  // key length, value length (uint16 each)
)

const (
	// MaxBuckets is the most buckets whose heads fit in the meta page.
	MaxBuckets = (PageSize - metaHeader) / 4
	// MaxKeySize and MaxValueSize bound an entry so that it fits a page.
	MaxKeySize   = 1 << 10
	MaxValueSize = 8 << 10
	// DefaultBuckets is the number of buckets of a store created with
	// Options.Buckets == 0.
	DefaultBuckets = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one key and its value.
type entry struct {
	key, value []byte
}

func (e entry) size() int { return entryHeader + len(e.key) + len(e.value) }

// meta is the decoded meta page: the committed state.
type meta struct {
	gen       uint64
	count     uint64
	pageCount uint32   // pages [1, pageCount) may be in use
	heads     []uint32 // per bucket: first page of its chain, 0 when empty
}

func bucketOf(key []byte, buckets int) uint32 {
	h := fnv.New64a()
	_, _ = h.Write(key)
	return uint32(h.Sum64() % uint64(buckets))
}

func sealPage(p []byte) {
	binary.LittleEndian.PutUint32(p, crc32.Checksum(p[4:], castagnoli))
}

func pageSealed(p []byte) bool {
	return binary.LittleEndian.Uint32(p) == crc32.Checksum(p[4:], castagnoli)
}

// encodeMeta fills p (PageSize bytes) with m.
func encodeMeta(p []byte, m meta) {
	clear(p)
	le := binary.LittleEndian
	le.PutUint32(p[4:], metaMagic)
	le.PutUint32(p[8:], formatV1)
	le.PutUint32(p[12:], uint32(len(m.heads)))
	le.PutUint64(p[16:], m.gen)
	le.PutUint64(p[24:], m.count)
	le.PutUint32(p[32:], m.pageCount)
	for i, h := range m.heads {
		le.PutUint32(p[metaHeader+4*i:], h)
	}
	sealPage(p)
}

// decodeMeta checks and decodes the meta page of a File of maxPages pages.
func decodeMeta(p []byte, maxPages uint32) (meta, error) {
	le := binary.LittleEndian
	if !pageSealed(p) || le.Uint32(p[4:]) != metaMagic {
		return meta{}, fmt.Errorf("%w: meta page checksum or magic", ErrCorrupt)
	}
	if v := le.Uint32(p[8:]); v != formatV1 {
		return meta{}, fmt.Errorf("%w: format version %d", ErrCorrupt, v)
	}
	n := le.Uint32(p[12:])
	m := meta{gen: le.Uint64(p[16:]), count: le.Uint64(p[24:]), pageCount: le.Uint32(p[32:])}
	if n == 0 || n > MaxBuckets || m.pageCount == 0 || m.pageCount > maxPages {
		return meta{}, fmt.Errorf("%w: meta page: %d buckets, %d pages of %d", ErrCorrupt, n, m.pageCount, maxPages)
	}
	m.heads = make([]uint32, n)
	for i := range m.heads {
		h := le.Uint32(p[metaHeader+4*i:])
		if h >= m.pageCount {
			return meta{}, fmt.Errorf("%w: bucket %d starts at page %d, past %d", ErrCorrupt, i, h, m.pageCount)
		}
		m.heads[i] = h
	}
	return m, nil
}

// chainPages splits a bucket's entries into page-sized groups: the number
// of pages its chain needs is len of the result (0 for no entries).
func chainPages(entries []entry) [][]entry {
	var groups [][]entry
	used, start := 0, 0
	for i, e := range entries {
		if used+e.size() > PageSize-bucketHeader {
			groups = append(groups, entries[start:i])
			start, used = i, 0
		}
		used += e.size()
	}
	if start < len(entries) {
		groups = append(groups, entries[start:])
	}
	return groups
}

// bucketPage is one decoded chain page.
type bucketPage struct {
	number, bucket, next uint32
	gen                  uint64
	entries              []entry // copies, owned by the caller
}

// encodeBucketPage fills p with one chain page.
func encodeBucketPage(p []byte, bp bucketPage) {
	clear(p)
	le := binary.LittleEndian
	le.PutUint32(p[4:], bucketMagic)
	le.PutUint32(p[8:], bp.number)
	le.PutUint32(p[12:], bp.bucket)
	le.PutUint32(p[16:], bp.next)
	le.PutUint16(p[20:], uint16(len(bp.entries)))
	le.PutUint64(p[24:], bp.gen)
	off := bucketHeader
	for _, e := range bp.entries {
		le.PutUint16(p[off:], uint16(len(e.key)))
		le.PutUint16(p[off+2:], uint16(len(e.value)))
		off += entryHeader
		off += copy(p[off:], e.key)
		off += copy(p[off:], e.value)
	}
	sealPage(p)
}

// decodeBucketPage checks page number n and decodes it.
func decodeBucketPage(p []byte, n uint32) (bucketPage, error) {
	le := binary.LittleEndian
	if !pageSealed(p) || le.Uint32(p[4:]) != bucketMagic {
		return bucketPage{}, fmt.Errorf("%w: page %d: checksum or magic", ErrCorrupt, n)
	}
	bp := bucketPage{number: le.Uint32(p[8:]), bucket: le.Uint32(p[12:]), next: le.Uint32(p[16:]), gen: le.Uint64(p[24:])}
	if bp.number != n {
		return bucketPage{}, fmt.Errorf("%w: page %d says it is page %d", ErrCorrupt, n, bp.number)
	}
	count := int(le.Uint16(p[20:]))
	bp.entries = make([]entry, 0, count)
	off := bucketHeader
	for range count {
		if off+entryHeader > len(p) {
			return bucketPage{}, fmt.Errorf("%w: page %d: entries overrun the page", ErrCorrupt, n)
		}
		kl, vl := int(le.Uint16(p[off:])), int(le.Uint16(p[off+2:]))
		off += entryHeader
		if kl > MaxKeySize || vl > MaxValueSize || off+kl+vl > len(p) {
			return bucketPage{}, fmt.Errorf("%w: page %d: entry of %d+%d bytes", ErrCorrupt, n, kl, vl)
		}
		e := entry{key: append([]byte{}, p[off:off+kl]...), value: append([]byte{}, p[off+kl:off+kl+vl]...)}
		off += kl + vl
		bp.entries = append(bp.entries, e)
	}
	return bp, nil
}
