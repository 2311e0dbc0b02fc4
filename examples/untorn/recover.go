package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/blockdev/journal"
)

// recoverFile brings path up to date after a crash, and does nothing
// else:
//   - journal mode: it replays the journal into the data file
//     (journal.Open), checkpoints everything and gives the file its exact
//     length (Finish), then removes the journal and fsyncs the directory,
//     as atomicio's Close does; the file is then an ordinary file. A
//     crash at any point leaves a journal that replays again.
//   - a COW container: cow.Open replays its log and writes a new root,
//     then a flush and Close (which checkpoints).
//   - a plain or empty file: nothing to recover.
//
// The files are locked (exclusively) throughout: a File that has them
// open makes recover fail with an in-use error. Damage (a record that had
// been durable fails its checksum) exits 1 and writes nothing; recover
// does not salvage (atomicio.Options.Salvage does).
func recoverFile(e *env, path string) error {
	t, err := classify(path)
	if err != nil {
		return err
	}
	switch t.kind {
	case kindJournal:
		return recoverJournal(e, t)
	case kindCOW:
		return recoverCOW(e, t)
	}
	fmt.Fprintf(e.stdout, "%s: %s without a journal: nothing to recover\n", path, t.kind)
	return nil
}

func recoverJournal(e *env, t target) error {
	data, jdev, err := openJournalFiles(t, false)
	if err != nil {
		return err
	}
	closeBoth := func() { _ = data.Close(); _ = jdev.Close() }
	rep, err := journal.Inspect(data, jdev, nil)
	if err != nil {
		closeBoth()
		if errors.Is(err, blockdev.ErrCorrupt) {
			return fmt.Errorf("%w: journal %s (nothing was written): %w", errDamage, t.journal, err)
		}
		return fmt.Errorf("inspect the journal %s: %w", t.journal, err)
	}
	jd, err := journal.Open(data, jdev, journal.Options{NoBackground: true})
	if err != nil {
		closeBoth()
		return fmt.Errorf("replay the journal %s: %w", t.journal, err)
	}
	if err := jd.Finish(); err != nil {
		_ = jd.Close()
		return fmt.Errorf("write the journal %s home: %w", t.journal, err)
	}
	size := jd.FileSize()
	// Everything is home, flushed, with the exact length: the journal
	// goes while we hold both files (and their locks).
	err = removeJournal(t)
	if cerr := jd.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", t.path, cerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: replayed %s (%s of data) from %s; the file is up to date, %s, and the journal is removed\n",
		t.path, count(rep.Records, "record"), human(rep.DataBytes), t.journal, bytesOf(size))
	if rep.Repaired > 0 {
		fmt.Fprintf(e.stdout, "%s: %s with one flipped bit corrected\n", t.path, count(rep.Repaired, "block"))
	}
	return nil
}

// removeJournal removes t's journal and fsyncs the directory.
func removeJournal(t target) error {
	dir, err := blockdev.OpenDir(filepath.Dir(t.journal))
	if err != nil {
		return fmt.Errorf("remove the journal %s: open the directory: %w", t.journal, err)
	}
	defer dir.Close()
	if err := dir.Remove(filepath.Base(t.journal)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the journal %s: %w", t.journal, err)
	}
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("remove the journal %s: fsync the directory: %w", t.journal, err)
	}
	return nil
}

func recoverCOW(e *env, t target) error {
	dev, err := blockdev.OpenFile(t.path, blockdev.FileOptions{})
	if err != nil {
		return inUse(t.path, err)
	}
	c, err := cow.Open(dev, cow.Options{})
	if err != nil {
		_ = dev.Close()
		if errors.Is(err, blockdev.ErrCorrupt) {
			return fmt.Errorf("%w: container %s (nothing was written): %w", errDamage, t.path, err)
		}
		return fmt.Errorf("recover the container %s: %w", t.path, err)
	}
	s := c.Stats()
	err = c.Flush()
	if cerr := c.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recover the container %s: %w", t.path, err)
	}
	fmt.Fprintf(e.stdout, "%s: COW container recovered (log replayed, new root written): file size %s, live data %s\n",
		t.path, bytesOf(s.FileBytes), human(s.LiveBytes))
	if s.RepairedRecords > 0 {
		fmt.Fprintf(e.stdout, "%s: %s with one flipped bit corrected\n", t.path, count(int(s.RepairedRecords), "record"))
	}
	return nil
}
