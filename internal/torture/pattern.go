package torture

// The content of every write names it: the byte that write id puts at
// offset off is a hash of both, never zero. A never-written device reads as
// zeros, so a zero byte is the baseline and every other byte can be traced
// to the writes whose pattern matches it there. Distinct writes collide on
// a single byte with probability 1/255; the Checker treats a byte as
// possibly coming from every write that matches it, so a collision can hide
// a violation in that one byte but never invents one.

// patternByte is the byte write id puts at offset off: never zero.
func patternByte(id int, off int64) byte {
	x := uint64(id)*0x9e3779b97f4a7c15 ^ uint64(off)*0xbf58476d1ce4e5b9
	x ^= x >> 31
	x *= 0x94d049bb133111eb
	x ^= x >> 29
	return byte(1 + x%255)
}

// Fill writes the pattern of write id at offset off into p.
func Fill(p []byte, id int, off int64) {
	for i := range p {
		p[i] = patternByte(id, off+int64(i))
	}
}
