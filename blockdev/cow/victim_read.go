package cow

// The cleaner reads only where a victim segment's live blocks are, one
// request per cluster of them, rather than the whole segment. What that
// saves depends on how many requests the clusters take: on the virtio
// disks this was measured on, a 16 KiB read costs about 30 us however
// many run in parallel, and a 4 MiB read about 4 ms, so a request is worth
// about 32 KiB of transfer. A victim half live in random 16 KiB pages (the
// greedy cleaner's usual pick with the default headroom) then reads in
// about the time of the whole segment; one a quarter live (more headroom,
// or skewed overwrites) in about half of it.

// readRequestBytes is what one inner read request costs, in bytes of
// transfer: live blocks separated by no more dead bytes than this are read
// in one request. Then the plan never costs more than one whole read (each
// request's cost is at most the dead gap before it), and a segment that is
// mostly live is read in one request anyway.
const readRequestBytes = 32 << 10

// planVictimReads plans the inner reads that bring the live blocks of a
// segment into a buffer holding the whole segment: at lists their block
// offsets in the segment, ascending; blocks have bs bytes and the segment
// starts at physical block start. Reads are physRuns in
// buffer blocks (see readRunsLocked); nothing is read for no live blocks.
func planVictimReads(at []int64, bs, start int64) []physRun {
	if len(at) == 0 {
		return nil
	}
	gap := max(readRequestBytes/bs, 1) // dead blocks worth a request
	var runs []physRun
	for k := 0; k < len(at); {
		i := at[k]
		j := i + 1
		for k++; k < len(at) && at[k]-j <= gap; k++ {
			j = at[k] + 1
		}
		runs = append(runs, physRun{i: i, j: j, phys: start + i})
	}
	return runs
}
