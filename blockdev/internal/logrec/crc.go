package logrec

import "hash/crc32"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC returns the CRC-32C (Castagnoli) of b.
func CRC(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// CRCUpdate returns the CRC-32C of the bytes sum covers followed by b.
func CRCUpdate(sum uint32, b []byte) uint32 { return crc32.Update(sum, castagnoli, b) }

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
