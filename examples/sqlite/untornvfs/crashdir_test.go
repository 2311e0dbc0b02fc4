package untornvfs

import (
	"io"
	"math/rand/v2"
	"sync"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

// crashDir is a crashable directory of plain files for the journals of a
// crash test (the VFS's Aux). A file's writes and truncates are volatile
// until its Sync; a power cut keeps each volatile write sector by sector
// (torn, as a plain file may be) and each truncate whole or not at all, in
// issue order. Creating and deleting a file is durable at once: SQLite
// unlinks the journal to commit in DELETE mode and syncs the directory
// only with synchronous=EXTRA, so this models a file system whose
// directory operations are synchronous. Temporary files (no name) live in
// memory and do not survive a crash.
//
// Every write, truncate, sync and delete first calls tick, so a test can
// cut the power before it as before a device operation.
type crashDir struct {
	tick func()

	mu    sync.Mutex // guards files and every crashFile's fields
	files map[string]*crashFile
}

var _ vfs.VFS = (*crashDir)(nil)

// crashSector is the unit a torn plain write keeps or loses.
const crashSector = 512

type crashFile struct {
	dir     *crashDir
	data    []byte   // what reads see
	durable []byte   // what survives a crash for sure
	pending []fileOp // volatile operations since the last Sync, in order
	temp    bool     // a temporary file: nothing survives
}

// fileOp is one volatile write (data != nil) or truncate.
type fileOp struct {
	off  int64
	data []byte
	size int64
}

func newCrashDir(tick func()) *crashDir {
	return &crashDir{tick: tick, files: map[string]*crashFile{}}
}

// image returns the directory a power cut now leaves: the same names,
// each file its durable content plus a random choice of its volatile
// operations (rng may be nil when survive is 0).
func (d *crashDir) image(rng *rand.Rand, survive float64) map[string][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	img := map[string][]byte{}
	for name, f := range d.files {
		b := append([]byte(nil), f.durable...)
		for _, op := range f.pending {
			if op.data == nil {
				if survive > 0 && rng.Float64() < survive {
					b = resize(b, op.size)
				}
				continue
			}
			for s := 0; s < len(op.data); s += crashSector {
				if survive == 0 || rng.Float64() >= survive {
					continue
				}
				e := min(s+crashSector, len(op.data))
				off := op.off + int64(s)
				if int64(len(b)) < off+int64(e-s) {
					b = resize(b, off+int64(e-s))
				}
				copy(b[off:], op.data[s:e])
			}
		}
		img[name] = b
	}
	return img
}

// restore makes a directory holding img, all of it durable.
func restoreDir(img map[string][]byte, tick func()) *crashDir {
	d := newCrashDir(tick)
	for name, b := range img {
		d.files[name] = &crashFile{dir: d, data: append([]byte(nil), b...), durable: b}
	}
	return d
}

func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func (d *crashDir) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if name == "" {
		return &crashFile{dir: d, temp: true}, flags, nil
	}
	f, ok := d.files[name]
	if !ok {
		if flags&vfs.OPEN_CREATE == 0 {
			return nil, 0, sqlite3.CANTOPEN
		}
		f = &crashFile{dir: d}
		d.files[name] = f
	}
	return f, flags, nil
}

func (d *crashDir) Delete(name string, _ bool) error {
	d.tick()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.files[name]; !ok {
		return sqlite3.IOERR_DELETE_NOENT
	}
	delete(d.files, name)
	return nil
}

func (d *crashDir) Access(name string, _ vfs.AccessFlag) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.files[name]
	return ok, nil
}

func (d *crashDir) FullPathname(name string) (string, error) { return name, nil }

func (f *crashFile) Close() error { return nil }

func (f *crashFile) ReadAt(p []byte, off int64) (int, error) {
	f.dir.mu.Lock()
	defer f.dir.mu.Unlock()
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *crashFile) WriteAt(p []byte, off int64) (int, error) {
	if !f.temp {
		f.dir.tick()
	}
	f.dir.mu.Lock()
	defer f.dir.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(f.data)) {
		f.data = resize(f.data, end)
	}
	copy(f.data[off:], p)
	if !f.temp {
		f.pending = append(f.pending, fileOp{off: off, data: append([]byte(nil), p...)})
	}
	return len(p), nil
}

func (f *crashFile) Truncate(size int64) error {
	if !f.temp {
		f.dir.tick()
	}
	f.dir.mu.Lock()
	defer f.dir.mu.Unlock()
	f.data = resize(f.data, size)
	if !f.temp {
		f.pending = append(f.pending, fileOp{data: nil, size: size})
	}
	return nil
}

func (f *crashFile) Sync(vfs.SyncFlag) error {
	if f.temp {
		return nil
	}
	f.dir.tick()
	f.dir.mu.Lock()
	defer f.dir.mu.Unlock()
	f.durable = append([]byte(nil), f.data...)
	f.pending = nil
	return nil
}

func (f *crashFile) Size() (int64, error) {
	f.dir.mu.Lock()
	defer f.dir.mu.Unlock()
	return int64(len(f.data)), nil
}

func (f *crashFile) Lock(vfs.LockLevel) error                        { return nil }
func (f *crashFile) Unlock(vfs.LockLevel) error                      { return nil }
func (f *crashFile) CheckReservedLock() (bool, error)                { return false, nil }
func (f *crashFile) SectorSize() int                                 { return crashSector }
func (f *crashFile) DeviceCharacteristics() vfs.DeviceCharacteristic { return 0 }
