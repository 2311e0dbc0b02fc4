package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
	"github.com/untorn/untorn/blockdev/journal"
)

// info prints what path is and its state. It writes nothing: the files
// are opened read-only (a shared lock, which a File that has them open
// refuses: then only what stat says is shown), the journal is walked with
// journal.Inspect and a container is recovered in memory (overlay).
// Damage found exits 1.
func info(e *env, path string) error {
	t, err := classify(path)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 1, ' ', 0)
	defer tw.Flush()
	kv(tw, "path", path)
	switch t.kind {
	case kindEmpty:
		kv(tw, "mode", "none: an empty file (atomicio.Open treats it as missing and creates a new file in its place)")
		fileSizes(tw, "data file", t.st)
		return nil
	case kindPlain:
		mode := "journal mode (it creates " + t.journal + ")"
		if nativePick(path) {
			mode = "native mode (RWF_ATOMIC in place)"
		}
		kv(tw, "mode", "plain file: no journal, no container; atomicio.Open would open it in "+mode)
		kv(tw, "logical size", bytesOf(t.st.Size()))
		fileSizes(tw, "data file", t.st)
		kv(tw, "checksums", "none (a plain file's data carries no checksums)")
		return nil
	case kindJournal:
		kv(tw, "mode", "journal (journal "+t.journal+")")
		return infoJournal(tw, t)
	default:
		kv(tw, "mode", "COW container (blockdev/cow)")
		return infoCOW(tw, t)
	}
}

func infoJournal(tw io.Writer, t target) error {
	data, jdev, err := openJournalFiles(t, true)
	if errors.Is(err, blockdev.ErrLocked) {
		kv(tw, "state", "in use: open by another process (its lock keeps others out); not inspected")
		fileSizes(tw, "data file", t.st)
		fileSizes(tw, "journal file", t.jst)
		return nil
	} else if err != nil {
		return err
	}
	defer data.Close()
	defer jdev.Close()
	rep, err := journal.Inspect(data, jdev, nil)
	damaged := errors.Is(err, blockdev.ErrCorrupt)
	switch {
	case damaged && rep.Capacity == 0:
		kv(tw, "state", "DAMAGED: both header copies (see the error below)")
		fileSizes(tw, "data file", t.st)
		fileSizes(tw, "journal file", t.jst)
		return fmt.Errorf("%w: journal %s: %w", errDamage, t.journal, err)
	case damaged:
		kv(tw, "state", "DAMAGED: a record that had been durable fails its checksum (see the error below); recovery refuses it")
	case err != nil:
		return fmt.Errorf("inspect the journal %s: %w", t.journal, err)
	case rep.Records == 0:
		kv(tw, "state", "up to date: the journal holds no records (a File that was not closed left it; recover removes it)")
	default:
		kv(tw, "state", count(rep.Records, "record")+" waiting to go home: the data file is not up to date (it may hold torn pages) until recover runs or atomicio opens it")
	}
	if !damaged {
		kv(tw, "logical size", bytesOf(rep.FileSize)+" after replay (the data file holds "+bytesOf(rep.BaseSize)+" as of the journal's start)")
	}
	fileSizes(tw, "data file", t.st)
	fileSizes(tw, "journal file", t.jst)
	kv(tw, "journal capacity", bytesOf(rep.Capacity))
	if !damaged {
		kv(tw, "journal fill", fmt.Sprintf("%s in %s (%.1f%%)", bytesOf(rep.LogBytes), count(rep.Records, "record"), pct(rep.LogBytes, rep.Capacity)))
		kv(tw, "waiting to go home", bytesOf(rep.HomeBytes)+" (newest image of each block; "+bytesOf(rep.DataBytes)+" journaled in all)")
	}
	kv(tw, "generation", fmt.Sprintf("%d (header write %d, journal id %016x)", rep.Generation, rep.HeaderWrite, rep.ID))
	if rep.Repaired > 0 {
		kv(tw, "repairable", count(rep.Repaired, "block")+" with one flipped bit (recovery corrects them)")
	}
	if damaged {
		return fmt.Errorf("%w: journal %s: %w", errDamage, t.journal, err)
	}
	return nil
}

func infoCOW(tw io.Writer, t target) error {
	c, err := openCOWReadOnly(t.path)
	switch {
	case errors.Is(err, blockdev.ErrLocked):
		kv(tw, "state", "in use: open by another process (its lock keeps others out); not inspected")
		fileSizes(tw, "container file", t.st)
		return nil
	case errors.Is(err, cow.ErrIncompleteFormat):
		kv(tw, "state", "its creation was cut: it holds no data (atomicio.Open formats it again)")
		fileSizes(tw, "container file", t.st)
		return nil
	case errors.Is(err, blockdev.ErrCorrupt):
		kv(tw, "state", "DAMAGED (see the error below): atomicio.Open refuses it")
		fileSizes(tw, "container file", t.st)
		return fmt.Errorf("%w: %w", errDamage, err)
	case err != nil:
		return err
	}
	defer c.Close()
	s := c.Stats()
	kv(tw, "state", "recovered in memory (any open replays the log after the last checkpoint; nothing was written)")
	kv(tw, "logical size", bytesOf(s.FileBytes)+" (largest "+bytesOf(s.LogicalBytes)+")")
	fileSizes(tw, "container file", t.st)
	kv(tw, "live data", bytesOf(s.LiveBytes))
	kv(tw, "physical", bytesOf(s.PhysicalBytes)+" held by the container (roots, checkpoints, segments in use)")
	kv(tw, "segments", fmt.Sprintf("%d in use, %d of them free, room for %d, %s each", s.Segments, s.FreeSegments, s.MaxSegments, human(s.SegmentBytes)))
	if s.RepairedRecords > 0 {
		kv(tw, "repairable", count(int(s.RepairedRecords), "record")+" with one flipped bit (recovery corrects them)")
	}
	return nil
}

// openJournalFiles opens the data file and the journal of t, read-only
// (shared locks) or for writing (exclusive locks).
func openJournalFiles(t target, readOnly bool) (data, jdev *blockdev.File, err error) {
	data, err = blockdev.OpenFile(t.path, blockdev.FileOptions{ReadOnly: readOnly})
	if err != nil {
		return nil, nil, inUse(t.path, err)
	}
	jdev, err = blockdev.OpenFile(t.journal, blockdev.FileOptions{ReadOnly: readOnly})
	if err != nil {
		_ = data.Close()
		return nil, nil, inUse(t.journal, err)
	}
	return data, jdev, nil
}

// openCOWReadOnly opens the container at path read-only (a shared lock)
// and recovers it in memory (overlay), without defragmenting on reads:
// nothing reaches the file. Close closes the file.
func openCOWReadOnly(path string) (*cow.Device, error) {
	dev, err := blockdev.OpenFile(path, blockdev.FileOptions{ReadOnly: true})
	if err != nil {
		return nil, inUse(path, err)
	}
	c, err := cow.Open(newOverlay(dev), cow.Options{NoReadDefrag: true})
	if err != nil {
		_ = dev.Close()
		return nil, fmt.Errorf("open the container %s: %w", path, err)
	}
	return c, nil
}
