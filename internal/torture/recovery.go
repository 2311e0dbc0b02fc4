package torture

// The recovery campaign: a workload cut at up to recoveryPoints device
// writes (one crash image each), then, for each image, a chain of one to
// maxRecoveryDepth further power cuts, each just before a random write or
// flush of the recovery that the open runs on the image before (a COW
// container writes a new checkpoint and superblocks when it opens; a
// journal replays its records into the data device, flushes it, and
// resets the journal to a new generation: writes and flushes of both
// devices, cut at one instant). Every image of the chain, the last one
// included, must keep the promises of the first cut: recovery may never
// make a state worse. (Each image is opened once without a cut anyway, to
// count the writes of its recovery; that open reads it whole and checks it
// too.) Native recovery writes nothing, so the campaign runs on the
// profiles with a log (Profile.Logged): COW and journal.

const (
	recoveryPoints   = 4
	maxRecoveryDepth = 3
)

func runRecovery(c *caseRun) error {
	steps, err := c.workload()
	if err != nil {
		return err
	}
	cuts, m, err := c.cutRun(nil, NewModel, steps, recoveryPoints, 1)
	if err != nil {
		c.fail(err)
	}
	for _, ct := range cuts {
		c.Stats.Crashes++
		img, depth := ct.img, 1+c.rng.IntN(maxRecoveryDepth)
		var where []uint64
		for range depth {
			next, k, err := c.cutRecovery(img, m, ct.snap)
			if err != nil {
				c.fail(annotate(err, "power cut before device write %d, recovery cuts %v", ct.at, where))
				img = nil
				break
			}
			if next == nil {
				break // recovery wrote nothing: no further cut possible
			}
			c.Stats.RecoveryCrashes++
			img, where = next, append(where, k)
		}
		if img == nil {
			continue
		}
		if err := c.checkImage(img, m, ct.snap); err != nil {
			c.fail(annotate(err, "power cut before device write %d, then before recovery writes %v", ct.at, where))
		}
	}
	return nil
}

// cutRecovery opens a copy of img, counting the writes and flushes of its
// recovery and checking what it finds against m at snap; then it opens img
// once more with the power cut just before a random one of those writes,
// and returns the image found then (nil when recovery writes nothing) and
// the index of the cut. img is consumed.
func (c *caseRun) cutRecovery(img machine, m *Model, snap Snapshot) (machine, uint64, error) {
	n, err := c.recoveryOps(img.copy(), m, snap)
	if err != nil || n == 0 {
		return nil, 0, err
	}
	k := c.rng.Uint64N(n)
	cp := img.crashPoint()
	cp.Arm(int(k), c.crashConfig())
	f, err := c.Profile.open(img, cp)
	if err != nil {
		return nil, k, annotate(err, "reopen with a power cut before recovery write %d", k)
	}
	_ = f.Abandon()
	next, ok := takeCut(cp)
	if !ok {
		return nil, k, violation(Unexpected, nil, "recovery issued %d writes and flushes the first time, fewer than %d the second", n, k+1)
	}
	return next, k, nil
}

// recoveryOps opens img (a copy: it is consumed), returns how many writes
// and flushes the open issued (of all the machine's devices), and checks
// the file against m at snap (one check).
func (c *caseRun) recoveryOps(img machine, m *Model, snap Snapshot) (uint64, error) {
	cnt := &opCounter{}
	f, err := c.Profile.open(img, cnt)
	if err != nil {
		return 0, annotate(err, "reopen the image")
	}
	n := cnt.load()
	defer func() { _ = f.Abandon() }()
	c.Stats.Checks++
	data, err := readAll(f)
	if err != nil {
		return 0, annotate(err, "read the image")
	}
	return n, c.checker.Check(m, snap, data)
}
