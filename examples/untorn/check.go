package main

import (
	"errors"
	"fmt"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/blockdev/journal"
)

// checkChunk is how much check reads through a container at a time.
const checkChunk = 1 << 20

// check verifies every checksum path has, and writes nothing:
//   - journal mode: every record of the journal (journal.Inspect: header
//     and data CRC-32C of each, the chain, torn tail versus damage). The
//     data file's own blocks carry no checksums.
//   - a COW container: its roots and log (cow.Open, in memory), then every
//     block of the file read through the container, each against its
//     block checksum; a damaged block is reported and the check goes on,
//     so that every damaged block is named.
//   - a plain or empty file: it has no checksums; nothing to verify.
//
// Exit status 0 when everything verifies, 1 when damage is found (a block
// with one flipped bit, which recovery would correct, counts), 2 when the
// check could not run (in use, unreadable). Progress goes to stderr: a bar
// on a terminal, a final line otherwise.
func check(e *env, path string) error {
	t, err := classify(path)
	if err != nil {
		return err
	}
	switch t.kind {
	case kindJournal:
		return checkJournal(e, t)
	case kindCOW:
		return checkCOW(e, t)
	}
	fmt.Fprintf(e.stdout, "%s: %s without a journal: it has no checksums, nothing to verify\n", path, t.kind)
	return nil
}

func checkJournal(e *env, t target) error {
	data, jdev, err := openJournalFiles(t, true)
	if err != nil {
		return err
	}
	defer data.Close()
	defer jdev.Close()
	m := newMeter(e.stderr, e.tty, "check "+t.journal, e.now)
	rep, err := journal.Inspect(data, jdev, m.update)
	m.finish()
	switch {
	case errors.Is(err, blockdev.ErrCorrupt):
		return fmt.Errorf("%w: journal %s: %w", errDamage, t.journal, err)
	case err != nil:
		return fmt.Errorf("check the journal %s: %w", t.journal, err)
	case rep.Repaired > 0:
		return fmt.Errorf("%w: journal %s: %s of its %s have one flipped bit (recovery corrects them)",
			errDamage, t.journal, count(rep.Repaired, "block"), count(rep.Records, "record"))
	}
	fmt.Fprintf(e.stdout, "%s: journal clean: %s (%s) verified; the data file's own blocks carry no checksums\n",
		t.path, count(rep.Records, "record"), human(rep.LogBytes))
	return nil
}

func checkCOW(e *env, t target) error {
	c, err := openCOWReadOnly(t.path)
	switch {
	case errors.Is(err, blockdev.ErrCorrupt):
		return fmt.Errorf("%w: %w", errDamage, err)
	case errors.Is(err, cow.ErrIncompleteFormat):
		fmt.Fprintf(e.stdout, "%s: a COW container whose creation was cut: it holds no data, nothing to verify\n", t.path)
		return nil
	case err != nil:
		return err
	}
	defer c.Close()
	m := newMeter(e.stderr, e.tty, "check "+t.path, e.now)
	damaged, end, err := verifyBlocks(c, m.update)
	m.finish()
	if err != nil {
		return fmt.Errorf("check the container %s: %w", t.path, err)
	}
	for _, d := range damaged {
		fmt.Fprintf(e.stdout, "%s: damaged: %v\n", t.path, d)
	}
	repaired := c.Stats().RepairedRecords
	switch {
	case len(damaged) > 0:
		return fmt.Errorf("%w: %s: %s of %d", errDamage, t.path, count(len(damaged), "damaged block"), end/int64(c.Limits().BlockSize))
	case repaired > 0:
		return fmt.Errorf("%w: %s: %s with one flipped bit (recovery corrects them)", errDamage, t.path, count(int(repaired), "log record"))
	}
	fmt.Fprintf(e.stdout, "%s: container clean: roots, log and %s of data verified\n", t.path, human(end))
	return nil
}

// verifyBlocks reads every block of the file in c (up to its size rounded
// up to a block) and returns the errors of the damaged ones (each wraps
// blockdev.ErrCorrupt and names the block), and the bytes read. A chunk
// that fails is read again block by block, so that every damaged block is
// found. Any other error stops it.
func verifyBlocks(c *cow.Device, progress func(done, total int64)) ([]error, int64, error) {
	bs := int64(c.Limits().BlockSize)
	end := (c.FileSize() + bs - 1) / bs * bs
	buf := blockdev.AlignedBuffer(checkChunk, c.Limits().MemAlign)
	var damaged []error
	progress(0, end)
	for off := int64(0); off < end; off += checkChunk {
		n := min(checkChunk, end-off)
		_, err := c.ReadAt(buf[:n], off)
		if errors.Is(err, blockdev.ErrCorrupt) {
			for b := off; b < off+n; b += bs {
				if _, err := c.ReadAt(buf[:bs], b); errors.Is(err, blockdev.ErrCorrupt) {
					damaged = append(damaged, err)
				} else if err != nil {
					return damaged, off, err
				}
			}
		} else if err != nil {
			return damaged, off, err
		}
		progress(off+n, end)
	}
	return damaged, end, nil
}
