// Command untorn is for operators of files written through untorn: it
// tells what a file is, recovers it after a crash, verifies its checksums
// and converts a COW container into an ordinary file.
//
//	go run ./examples/untorn info PATH
//	go run ./examples/untorn recover PATH
//	go run ./examples/untorn check PATH
//	go run ./examples/untorn convert PATH
//
// PATH is the data file, as given to atomicio.Open (a symbolic link is
// followed). What it is decides what each verb does:
//
//   - journal mode: "<PATH>-untorn" exists beside it. After a clean Close
//     atomicio removes the journal, so a journal means a File has the file
//     open now, or had it when its process died.
//   - a COW container: the file starts with a container superblock
//     (package blockdev/cow).
//   - a plain file (or an empty one): neither. atomicio.Open opens it in
//     journal mode (creating the journal), or in native mode on a file
//     system that writes untorn units of 2 x MaxAtomic in hardware.
//
// # Verbs
//
// info prints the mode, the logical size, the apparent size (ls -l) and
// disk use (du) of the file and of its journal; for a journal its
// capacity, fill, generation, the records waiting to go home and the bytes
// they will write; for a container its live data, segments and physical
// use. It writes nothing: the files are opened read-only, the journal is
// walked with journal.Inspect, a container is recovered in memory only (an
// overlay device keeps cow.Open's writes). A file open through atomicio
// (locked) is shown as in use, with what stat says.
//
// recover brings a file up to date after a crash and does nothing else:
// it replays the journal into the data file, writes everything home with
// the exact length, removes the journal and fsyncs the directory (what
// atomicio's Close does), or it opens and closes a container (cow.Open
// replays its log). A plain file has nothing to recover.
//
// check verifies every checksum the file has, and writes nothing: every
// record of a journal (header and data CRC-32C, the chain; a bad record
// followed by one that proves it durable is damage, a bad last record is
// the torn tail of a crash), or a container's roots and log and then every
// block of the file against its block checksum (it goes on past a damaged
// block and names them all). A plain file, and the blocks of a journal-mode
// file already home, carry no checksums. Damage to the last records
// synced before a crash can pass for a torn tail (package journal's and
// cow's caveat).
//
// convert turns a COW container into an ordinary file with the same bytes
// and size (zeros left as holes), which atomicio then opens in journal
// mode. It is crash-safe and resumable:
//
//   - It refuses a container that is open (it takes the lock
//     blockdev.OpenFile takes, and keeps it to the end), one with a
//     journal, and a damaged one (the copy reads through the container,
//     which verifies every block).
//   - It never writes the container: it reads it through an in-memory
//     overlay. Up to the final rename the container is intact and opens
//     as before; after it PATH is the new file. Nothing in between.
//   - It copies into ".<base>.untorn-convert" in the same directory and
//     every 64 MiB makes the copied part durable: fsync, then a progress
//     record ".<base>.untorn-convert.progress", written atomically (temporary
//     name, fsync, rename, directory fsync) and checksummed, naming the
//     container (device, inode, length, times, a checksum of its roots,
//     which any open rewrites), the temporary file (device, inode) and the
//     bytes done.
//   - A re-run after a kill or a crash resumes from the last record when
//     it names this very container and temporary file, cuts the file
//     there, and first compares the part copied before with the container:
//     if anything differs it starts over. A container opened (and so
//     changed) since, a damaged record, a missing file: it starts over.
//   - When the copy is complete it sets the exact length, fsyncs, records
//     it, checks again that PATH is still the container it locked and has
//     no journal, renames the file over PATH (replacing the container
//     atomically) and fsyncs the directory, then removes the record. A
//     re-run that finds PATH converted and the record naming it removes
//     the record.
//
// On a failure other than damage (ENOSPC, EIO) the temporary file and the
// record stay for a re-run to resume; on damage they are removed.
//
// # Output and exit status
//
// Results go to stdout, errors to stderr. check and convert show their
// progress on stderr: on a terminal a bar redrawn about 5 times a second
// (percent, bytes, rate), replaced by a final line; elsewhere only the
// final line. The exit status is 0 when all is well, 1 when damage was
// found (check, and any verb that meets it), 2 for usage and other errors
// (a missing path, a directory, a file in use, an I/O error).
//
// # Limits
//
// Regular files only (not block devices). A name whose conversion names
// would exceed the file system's name length cannot be converted. info and
// check take shared locks: they wait for nobody and are refused while a
// File has the file open; they report what the files hold at that moment.
package main
