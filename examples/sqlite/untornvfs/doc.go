// Package untornvfs is an SQLite VFS (for github.com/ncruces/go-sqlite3)
// that keeps the main database file in an untorn atomicio File and lets
// SQLite commit without its rollback journal.
//
//	untornvfs.Register()
//	db, err := sql.Open("sqlite3", "file:app.db?vfs=untorn")
//
// # What SQLite gets
//
// The main database file is an atomicio File in journal mode by default
// (atomicio.ModeJournal): app.db stays an ordinary SQLite database file,
// and a side journal, app.db-untorn, holds the transactions until a
// background checkpoint writes their pages home. The file tells SQLite
// IOCAP_BATCH_ATOMIC, so with journal_mode=DELETE, TRUNCATE or PERSIST a
// write transaction whose pages fit SQLite's page cache commits as
//
//	Lock(RESERVED) ... BeginAtomicWrite, WriteAt per page, CommitAtomicWrite, Sync, Unlock
//
// with no rollback journal: the pages go into one atomicio Batch, which is
// one journal record, kept whole or dropped whole by a power cut, and the
// Sync makes it durable: one sequential write of the pages and one flush
// per transaction, where DELETE mode writes every page twice and syncs
// three times. VFS.Options.Mode = atomicio.ModeCOW keeps the database in a
// COW container instead (a batch is one container transaction; the file
// is then readable through this package only); a container made by an
// earlier release opens as COW.
//
// SQLite still uses its rollback journal (opened through Aux, the stock VFS
// by default) for what a batch does not cover: the first transaction on an
// empty database, a transaction that overflows SQLite's page cache (it
// spills pages to the file before the commit), and synchronous=OFF. On
// that path every page write is untorn and the journal protects the
// transaction as it does on any file system.
//
// # Guarantees
//
//   - A transaction whose COMMIT returned is durable (synchronous=FULL or
//     NORMAL: SQLite calls Sync on the batch path either way).
//   - After a power cut the database holds a prefix of the committed
//     transactions, the one in flight whole or not at all.
//   - After the last connection to a database closes cleanly, the file is
//     a plain SQLite database of exactly its size, every page home, and
//     the side journal is gone: SQLite's stock VFS, the sqlite3 shell and
//     any other tool read it (journal mode). A database that stock SQLite
//     made opens here in journal mode, in place.
//   - After a crash the file may hold torn pages until the side journal
//     is replayed: open it once through this VFS (or atomicio) before any
//     other tool reads it. The journal app.db-untorn must stay beside it
//     until then; copying app.db alone, or removing the journal, loses the
//     last transactions or leaves torn pages.
//   - A failed CommitAtomicWrite writes nothing and fails the COMMIT with
//     an SQLite code that is never of the IOERR class (on IOERR SQLite would
//     fall back to an unsynced journal): SQLITE_FULL for no space,
//     SQLITE_CORRUPT for detected damage, SQLITE_ERROR otherwise. The
//     transaction can be run again.
//   - A COMMIT whose Sync fails (an I/O error, no space) returns the error,
//     but its batch is already in the File's cache, whole: the database
//     shows the transaction, and the next successful Sync makes it durable,
//     as a stock file's page cache would. Check before running it again.
//     Either way it is whole or absent, never torn.
//   - The VFS bumps the file change counter in every batch (SQLite skips it
//     when it commits atomically), so other connections, stock ones that
//     read the file later included, see the change.
//
// # Locking
//
// SQLite's lock levels (SHARED, RESERVED, PENDING, EXCLUSIVE) are kept
// between the connections of this process in a table per database:
// readers and one writer at once, as the unix VFS allows. All connections
// to one name share one atomicio File.
//
// Against everyone else the VFS holds, from before it opens the File (and
// so before a recovery writes it) until after the File's Close has written
// every page home and removed the journal, a write lock on all of SQLite's
// lock bytes of the database file: PENDING_BYTE (0x40000000), RESERVED_BYTE
// and the 510-byte SHARED range, an open file description lock (fcntl
// F_OFD_SETLK) on a descriptor of its own. SQLite's unix VFS takes a
// SHARED lock, which every read and write needs first, by read-locking
// the PENDING byte and then the SHARED range, so a stock SQLite, in this
// process or another, gets SQLITE_BUSY for every read and write while the
// VFS has the database open, and never reads a file a checkpoint is
// writing. The other way round, the VFS does not open a database while a
// stock connection holds any SQLite lock on it (a transaction under way,
// or locking_mode=EXCLUSIVE): SQLITE_BUSY, wrapping ErrLocked, and nothing
// written. An idle stock connection holds no lock: the VFS opens the file,
// the stock connection gets SQLITE_BUSY until the VFS closes it, and then
// sees the change counter moved and drops its cache. A second VFS value,
// or a second process, is refused the same way (and atomicio's own flock
// refuses it too). If the File's Close fails (SQLite ignores the error of
// closing a file), the File stays open in the VFS with its data and its
// locks, so that no stock reader sees a half-written file; the next
// connection to the database takes it up again. A database opened through
// VFS.OpenFile gets no lock from the VFS.
//
// # Limits
//
//   - journal_mode=WAL needs shared memory, which this VFS does not offer:
//     SQLite keeps the database in its rollback journal mode.
//   - In native mode (atomicio.ModeNative) a batch cannot change the file
//     size, so the VFS does not claim IOCAP_BATCH_ATOMIC there and SQLite
//     uses its journal; every page write is still untorn.
//   - A new database is built by atomicio.Open under a temporary name and
//     renamed into place; the VFS locks it once Open returns. A stock SQLite
//     that opens and locks the path in that moment (a rename and a
//     directory fsync) gets there first, and the VFS then fails with
//     SQLITE_BUSY; what that stock connection wrote meanwhile is not
//     protected from the File's Close, which sets the file to the size it
//     knows.
//   - An existing empty (0-byte) database file is replaced by atomicio.Open
//     with a new file of the same name (atomicio treats an empty file as
//     missing). A stock connection that had the empty file open keeps the
//     old one: it reads an empty database instead of getting SQLITE_BUSY,
//     its writes go nowhere, and it may delete this VFS's rollback journal
//     as a leftover beside an empty database (failing that transaction).
//     Let this VFS create the database, or close stock connections to an
//     empty file before this VFS opens it.
//   - A VFS is safe for concurrent use by many connections; a connection,
//     as in SQLite, by one goroutine at a time.
package untornvfs
