package main

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// convertConfig tunes convert. Tests shrink the sizes and stop it at
// kill points with hook.
type convertConfig struct {
	chunk   int64 // bytes read through the container and written per step
	durable int64 // bytes copied between durable progress records
	// hook, when set, is called at each kill point with the bytes the
	// temporary file holds; an error it returns stops the conversion
	// there, as a kill would (nothing is cleaned up). The points:
	// "copied" (after each chunk, before it is durable), "durable" (after
	// each progress record), "complete" (the file whole and durable,
	// before the rename), "renamed" (before the directory fsync),
	// "published" (before the progress record is removed).
	hook func(point string, done int64) error
}

var defaultConvert = convertConfig{chunk: 1 << 20, durable: 64 << 20}

func (c convertConfig) at(point string, done int64) error {
	if c.hook == nil {
		return nil
	}
	return c.hook(point, done)
}

// convertNames are the temporary file and the progress record of a
// conversion of path, in its directory.
func convertNames(path string) (temp, record string) {
	temp = filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".untorn-convert")
	return temp, temp + ".progress"
}

// convert turns the COW container at path into an ordinary file with the
// same bytes and size, which atomicio.Open then opens in journal mode (or
// native mode, on a file system whose hardware writes untorn units of 2 x
// MaxAtomic). See the package documentation for how it stays crash-safe
// and resumable.
func convert(e *env, path string) error {
	t, err := classify(path)
	if err != nil {
		return err
	}
	// The file is replaced where it is: at the end of a symbolic link.
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	if real != path {
		if t, err = classify(real); err != nil {
			return err
		}
	}
	temp, record := convertNames(real)
	switch t.kind {
	case kindJournal:
		return fmt.Errorf("%s: %w (%s): it is a data file in journal mode already (run recover if it was not closed)", path, errHasJournal, t.journal)
	case kindCOW:
	default:
		return convertedAlready(e, t, temp, record)
	}
	cv, err := openConversion(e, real, temp, record)
	if err != nil {
		return err
	}
	defer cv.close()
	return cv.run()
}

// convertedAlready handles a path that is no container: if a conversion's
// progress record is left (killed after the rename) and names path's
// file as its result, the record goes and the conversion is complete;
// otherwise path is not a container.
func convertedAlready(e *env, t target, temp, record string) error {
	r, err := readRecord(record)
	if err == nil {
		if _, terr := os.Lstat(temp); errors.Is(terr, fs.ErrNotExist) {
			dir, err := blockdev.OpenDir(filepath.Dir(t.path))
			if err != nil {
				return err
			}
			defer dir.Close()
			if id, err := nameID(dir, filepath.Base(t.path)); err == nil && id == r.Temp {
				if err := removeDurably(dir, filepath.Base(record)); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s: converted already (by a conversion stopped after its rename); removed its progress record\n", t.path)
				return nil
			}
		}
	}
	return fmt.Errorf("%s: %w (a %s): nothing to convert", t.path, errNotContainer, t.kind)
}

// conversion is one run of convert over a locked container.
type conversion struct {
	e                  *env
	cfg                convertConfig
	path, temp, record string
	dir                *blockdev.Dir
	srcf               *os.File // the container, locked exclusively
	src                stamp
	perm               fs.FileMode
	c                  *cow.Device // the container, recovered in memory
	size               int64       // its file size
	tmp                *os.File
	tmpID              fileID
	resumed            int64 // the bytes of an earlier run this one kept
	m                  *meter
}

// openConversion locks the container at path (the lock blockdev.OpenFile
// takes: refused while a File has it open), checks that path still names
// it and that it has no journal, stamps it, and recovers it in memory.
func openConversion(e *env, path, temp, record string) (*conversion, error) {
	cv := &conversion{e: e, cfg: e.convert, path: path, temp: temp, record: record}
	fail := func(err error) (*conversion, error) {
		cv.close()
		return nil, err
	}
	var err error
	if cv.dir, err = blockdev.OpenDir(filepath.Dir(path)); err != nil {
		return fail(fmt.Errorf("open the directory of %s: %w", path, err))
	}
	if cv.srcf, err = cv.dir.OpenNoFollow(filepath.Base(path)); err != nil {
		return fail(fmt.Errorf("open %s: %w", path, err))
	}
	if err := blockdev.LockFile(cv.srcf); err != nil {
		return fail(inUse(path, err))
	}
	if err := cv.stillOurs(); err != nil {
		return fail(err)
	}
	st, err := blockdev.StampFile(cv.srcf)
	if err != nil {
		return fail(fmt.Errorf("stat %s: %w", path, err))
	}
	cv.perm = st.Perm
	cv.src = stamp{Dev: st.Dev, Ino: st.Ino, Length: st.Size, Mtime: st.Mtime, Ctime: st.Ctime}
	roots := make([]byte, min(rootsLen, st.Size))
	if err := preadFull(cv.srcf, roots, 0); err != nil {
		return fail(fmt.Errorf("read %s: %w", path, err))
	}
	cv.src.Roots = crc32.Checksum(roots, castagnoli)
	cv.c, err = cow.Open(newOverlay(newFDDevice(cv.srcf, path, st.Size)), cow.Options{NoReadDefrag: true})
	switch {
	case errors.Is(err, blockdev.ErrCorrupt):
		return fail(fmt.Errorf("%w: %s: convert refuses a damaged container (nothing was written): %w", errDamage, path, err))
	case err != nil:
		return fail(fmt.Errorf("open the container %s: %w", path, err))
	}
	cv.size = cv.c.FileSize()
	cv.src.FileSize = cv.size
	return cv, nil
}

// stillOurs checks that path still names the locked container and that
// no journal appeared beside it. Under the lock no untorn opener can
// change either.
func (cv *conversion) stillOurs() error {
	id, err := fstatID(cv.srcf)
	if err != nil {
		return fmt.Errorf("stat %s: %w", cv.path, err)
	}
	if nid, err := nameID(cv.dir, filepath.Base(cv.path)); err != nil || nid != id {
		return fmt.Errorf("%s: %w", cv.path, errRaced)
	}
	if _, err := os.Lstat(atomicio.JournalPath(cv.path)); err == nil {
		return fmt.Errorf("%s: %w (%s)", cv.path, errHasJournal, atomicio.JournalPath(cv.path))
	}
	return nil
}

func (cv *conversion) close() {
	if cv.tmp != nil {
		_ = cv.tmp.Close()
	}
	if cv.c != nil {
		_ = cv.c.Close() // the overlay's: nothing reaches the file
	}
	if cv.srcf != nil {
		_ = cv.srcf.Close() // drops the lock
	}
	if cv.dir != nil {
		_ = cv.dir.Close()
	}
}

// run resumes or starts the copy, completes the file and publishes it.
// The meter counts offsets: the comparison of a resumed part, then the
// copy of the rest.
func (cv *conversion) run() error {
	done := cv.resume()
	cv.m = newMeter(cv.e.stderr, cv.e.tty, "convert "+cv.path, cv.e.now)
	err := cv.copyAll(done)
	cv.m.finish()
	if errors.Is(err, blockdev.ErrCorrupt) {
		_ = removeDurably(cv.dir, filepath.Base(cv.temp), filepath.Base(cv.record))
		return fmt.Errorf("%w: %s: convert refuses a damaged container (run check): %w", errDamage, cv.path, err)
	} else if err != nil {
		return fmt.Errorf("convert %s (run convert again to resume): %w", cv.path, err)
	}
	if err := cv.publish(); err != nil {
		return err
	}
	how := "copied"
	if cv.resumed > 0 {
		how = fmt.Sprintf("resumed at %s of", human(cv.resumed))
	}
	fmt.Fprintf(cv.e.stdout, "%s: converted: %s %s from the COW container; now an ordinary file of %s\n",
		cv.path, how, human(cv.size), bytesOf(cv.size))
	return nil
}

// copyAll checks what an earlier run copied (done bytes) and copies the
// rest, or starts over.
func (cv *conversion) copyAll(done int64) error {
	if done > 0 {
		// What an earlier run copied is compared with the container
		// before it is trusted: the stamp makes a mismatch unlikely,
		// this makes it harmless.
		ok, err := cv.verifyPrefix(done)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintf(cv.e.stderr, "convert: %s does not match the container: starting over\n", cv.temp)
			done = 0
		}
	}
	if done == 0 {
		if err := cv.startOver(); err != nil {
			return err
		}
	}
	cv.resumed = done
	return cv.copyFrom(done)
}

// resume returns where the copy can go on from: the bytes a progress
// record about this very container and the temporary file there vouches
// for (0 to start over). It opens the temporary file and cuts it there.
func (cv *conversion) resume() int64 {
	r, err := readRecord(cv.record)
	if err != nil || r.Source != cv.src || r.Done < 0 || r.Done > cv.size {
		return 0
	}
	f, err := blockdev.OpenOSFile(cv.temp, false, false)
	if err != nil {
		return 0
	}
	st, err := blockdev.StampFile(f)
	id := fileID{Dev: st.Dev, Ino: st.Ino}
	if err != nil || id != r.Temp || st.Size < r.Done || f.Truncate(r.Done) != nil {
		_ = f.Close()
		return 0
	}
	cv.tmp, cv.tmpID = f, id
	return r.Done
}

// startOver removes what an earlier run left, durably (so that no old
// record can vouch for the new file), and creates the temporary file.
func (cv *conversion) startOver() error {
	if cv.tmp != nil {
		_ = cv.tmp.Close()
		cv.tmp = nil
	}
	if err := removeDurably(cv.dir, filepath.Base(cv.record), filepath.Base(cv.record)+".tmp", filepath.Base(cv.temp)); err != nil {
		return err
	}
	f, err := cv.dir.CreateNew(filepath.Base(cv.temp), cv.perm&0o777, true)
	if err != nil {
		return fmt.Errorf("create %s: %w", cv.temp, err)
	}
	id, err := fstatID(f)
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("stat %s: %w", cv.temp, err)
	}
	cv.tmp, cv.tmpID = f, id
	return nil
}

// blockSize is the container's block size.
func (cv *conversion) blockSize() int64 { return int64(cv.c.Limits().BlockSize) }

// readChunk reads [off, off+n) of the container into buf (rounded up to
// whole blocks), verified against its block checksums.
func (cv *conversion) readChunk(buf []byte, off, n int64) ([]byte, error) {
	bs := cv.blockSize()
	nr := (n + bs - 1) / bs * bs
	if _, err := cv.c.ReadAt(buf[:nr], off); err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// verifyPrefix compares the first done bytes of the temporary file with
// the container.
func (cv *conversion) verifyPrefix(done int64) (bool, error) {
	buf := blockdev.AlignedBuffer(int(cv.cfg.chunk), cv.c.Limits().MemAlign)
	got := make([]byte, cv.cfg.chunk)
	for off := int64(0); off < done; off += cv.cfg.chunk {
		n := min(cv.cfg.chunk, done-off)
		want, err := cv.readChunk(buf, off, n)
		if err != nil {
			return false, fmt.Errorf("read the container: %w", err)
		}
		if _, err := cv.tmp.ReadAt(got[:n], off); err != nil {
			return false, nil
		}
		if !bytes.Equal(want, got[:n]) {
			return false, nil
		}
		cv.m.update(off+n, cv.size)
	}
	return true, nil
}

// copyFrom copies the container's content from done on into the
// temporary file, leaving all-zero blocks as holes (the file was cut at
// done, so they read as zeros), with a durable progress record every
// cfg.durable bytes; then gives the file its exact length and makes it
// durable with a final record.
func (cv *conversion) copyFrom(done int64) error {
	bs := cv.blockSize()
	buf := blockdev.AlignedBuffer(int(cv.cfg.chunk), cv.c.Limits().MemAlign)
	lastDurable := done
	for off := done; off < cv.size; off += cv.cfg.chunk {
		n := min(cv.cfg.chunk, cv.size-off)
		p, err := cv.readChunk(buf, off, n)
		if err != nil {
			return err
		}
		if err := writeNonZero(cv.tmp, p, off, bs); err != nil {
			return fmt.Errorf("write %s: %w", cv.temp, err)
		}
		cv.m.update(off+n, cv.size)
		if err := cv.cfg.at("copied", off+n); err != nil {
			return err
		}
		if off+n-lastDurable >= cv.cfg.durable && off+n < cv.size {
			if err := cv.makeDurable(off + n); err != nil {
				return err
			}
			lastDurable = off + n
			if err := cv.cfg.at("durable", off+n); err != nil {
				return err
			}
		}
	}
	if err := cv.makeDurable(cv.size); err != nil {
		return err
	}
	return cv.cfg.at("complete", cv.size)
}

// makeDurable gives the temporary file the length done (it ends in a
// hole where the copy skipped zeros), fsyncs it, then records that its
// first done bytes are the container's.
func (cv *conversion) makeDurable(done int64) error {
	if err := cv.tmp.Truncate(done); err != nil {
		return fmt.Errorf("set the length of %s: %w", cv.temp, err)
	}
	if err := cv.tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", cv.temp, err)
	}
	return writeRecord(cv.dir, cv.record, progressRecord{Source: cv.src, Temp: cv.tmpID, Done: done})
}

// publish renames the complete file over the container (atomically
// replacing it), fsyncs the directory, and removes the progress record.
func (cv *conversion) publish() error {
	if err := cv.stillOurs(); err != nil {
		return err
	}
	if err := cv.dir.Rename(filepath.Base(cv.temp), filepath.Base(cv.path)); err != nil {
		return fmt.Errorf("convert %s: rename %s over it: %w", cv.path, cv.temp, err)
	}
	if err := cv.cfg.at("renamed", cv.size); err != nil {
		return err
	}
	if err := cv.dir.Sync(); err != nil {
		return fmt.Errorf("convert %s: fsync the directory after the rename: %w", cv.path, err)
	}
	if err := cv.cfg.at("published", cv.size); err != nil {
		return err
	}
	if err := removeDurably(cv.dir, filepath.Base(cv.record)); err != nil {
		return fmt.Errorf("convert %s: the file is converted; removing the progress record: %w", cv.path, err)
	}
	return nil
}

// writeNonZero writes the blocks of p (at off in f) that are not all
// zeros, merged into runs.
func writeNonZero(f *os.File, p []byte, off, bs int64) error {
	n := int64(len(p))
	for i := int64(0); i < n; {
		if isZero(p[i:min(i+bs, n)]) {
			i += bs
			continue
		}
		j := i + bs
		for j < n && !isZero(p[j:min(j+bs, n)]) {
			j += bs
		}
		j = min(j, n)
		if _, err := f.WriteAt(p[i:j], off+i); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
