package atomicio

import (
	"errors"

	"github.com/untorn/untorn/blockdev"
	"github.com/untorn/untorn/blockdev/cow"
)

// Sentinel errors. Every error this package returns for one of these
// conditions wraps the sentinel (and, where there is one, the cause from
// the layer below), so callers match with errors.Is.
var (
	// ErrTooLarge: an untorn write larger than Options.MaxAtomic, or one the
	// device path cannot write untorn (native mode: see Mode). Nothing was
	// written.
	ErrTooLarge = errors.New("atomicio: untorn write too large")
	// ErrOutOfRange: a write or size past the largest size the file can
	// have (MaxSize: Options.MaxSize of a COW container, the device's size
	// for a device in native mode). Nothing was written.
	ErrOutOfRange = errors.New("atomicio: offset out of range")
	// ErrNotSupported: the mode cannot do what was asked: in native mode a
	// batch that changes the size or spans more than one untorn unit, a
	// size that is not a multiple of the block size, growing a device.
	// Nothing was written.
	ErrNotSupported = errors.New("atomicio: not supported in this mode")
	// ErrInvalid: a bad argument or option (negative offset, nil File, ...).
	ErrInvalid = errors.New("atomicio: invalid argument")
	// ErrNoMemory: the cache could not get the memory a write needs within
	// Options.WriteTimeout. Nothing was written.
	ErrNoMemory = errors.New("atomicio: no cache memory")
	// ErrClosed: the File was closed.
	ErrClosed = errors.New("atomicio: file closed")
	// ErrNoUntornWrites: the file is a plain file on a file system (or a
	// device) without untorn writes, so the guarantee cannot be kept in
	// place; create a new file (it becomes a COW container) instead.
	ErrNoUntornWrites = errors.New("atomicio: no untorn writes on this file")
	// ErrNotContainer: the device holds data but is neither a COW
	// container nor usable in native mode; refusing to format over it.
	ErrNotContainer = errors.New("atomicio: device holds data that is not an untorn container")
	// ErrLocked: Open found the file open by another File, in this process
	// or another (it is the same value as blockdev.ErrLocked).
	ErrLocked = blockdev.ErrLocked
	// ErrCorrupt: the COW container holds damage that is not the torn tail
	// of a crash (a flipped bit in a root, in the middle of the log, or in
	// a data block); the message names where. Open returns it without
	// writing anything; ReadAt returns it for a damaged data block instead
	// of wrong data; writes that need such a block fail with it. It is the
	// same value as cow.ErrCorrupt. Native mode cannot see damage to data.
	ErrCorrupt = cow.ErrCorrupt
	// ErrSyncFailed: Cache.Sync could not make every File on the Cache
	// durable; the error wraps each failed File's error too.
	ErrSyncFailed = errors.New("atomicio: cache sync failed")
	// ErrVersion: the file is a COW container of an on-disk format this
	// release does not read. Nothing was written (cow.ErrVersion).
	ErrVersion = cow.ErrVersion
)

// errRaced: the file at the path changed while Open was looking at it or
// creating it (another process created, filled or replaced it); Open starts
// over, a bounded number of times.
var errRaced = errors.New("atomicio: the file changed while Open was creating it")
