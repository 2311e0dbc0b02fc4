package main

import (
	"encoding/binary"
	"hash/crc32"
)

// pageSize is the engine's page: 16 KiB, as in InnoDB and many others.
const pageSize = 16 << 10

// pageMagic marks a page this demo wrote.
const pageMagic = 0x554e5444 // "UNTD"

// The page layout: crc32c of the rest, magic, page number, version, filler.
const (
	offCRC     = 0
	offMagic   = 4
	offNumber  = 8
	offVersion = 16
	offFiller  = 24
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodePage fills p (pageSize bytes) as version v of page n. The filler
// depends on both, so every 4 KiB block of two versions differs.
func encodePage(p []byte, n, v uint64) {
	binary.LittleEndian.PutUint32(p[offMagic:], pageMagic)
	binary.LittleEndian.PutUint64(p[offNumber:], n)
	binary.LittleEndian.PutUint64(p[offVersion:], v)
	x := v*0x9e3779b97f4a7c15 ^ n<<40
	for i := offFiller; i+8 <= len(p); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(p[i:], x)
	}
	binary.LittleEndian.PutUint32(p[offCRC:], crc32.Checksum(p[offMagic:], castagnoli))
}

// pageState is what a page read back from a crashed image says.
type pageState int

const (
	pageNever pageState = iota // all zero: never written
	pageWhole                  // checksum, magic and page number fine
	pageTorn                   // anything else: a mix of versions
)

// decodePage checks p as page n and returns its state and version.
func decodePage(p []byte, n uint64) (pageState, uint64) {
	if allZero(p) {
		return pageNever, 0
	}
	if binary.LittleEndian.Uint32(p[offCRC:]) != crc32.Checksum(p[offMagic:], castagnoli) ||
		binary.LittleEndian.Uint32(p[offMagic:]) != pageMagic ||
		binary.LittleEndian.Uint64(p[offNumber:]) != n {
		return pageTorn, 0
	}
	return pageWhole, binary.LittleEndian.Uint64(p[offVersion:])
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}
