// Command bench measures what committing SQLite transactions costs with the
// untorn VFS (package untornvfs: one untorn batch and one flush per
// transaction, no journal) against the stock VFS in the journal modes a
// durable application picks, on the file system of -dir, in one run.
//
// Contenders (each on a fresh database in a new temporary directory inside
// -dir, removed after the run):
//
//   - delete-full: stock VFS, journal_mode=DELETE, synchronous=FULL.
//   - wal-full: stock VFS, journal_mode=WAL, synchronous=FULL.
//   - wal-normal: stock VFS, journal_mode=WAL, synchronous=NORMAL. A
//     COMMIT is not durable when it returns: a reference, marked so in the
//     output.
//   - untorn: untornvfs.VFS with default options (atomicio's journal mode:
//     the database stays an SQLite file, a batch is one record in its side
//     journal), journal_mode=DELETE, synchronous=FULL.
//   - untorn-cow: the same VFS with Options.Mode atomicio.ModeCOW (the
//     database in a COW container).
//
// Workloads:
//
//   - bank: -accounts accounts; each transaction moves an amount between
//     two random accounts (two UPDATEs) and logs it in a history table
//     (one INSERT with a 100-byte memo).
//   - insert100: each transaction inserts 100 rows of 100-byte text.
//   - mixed: 90% point reads of one random account's balance, 10% bank
//     transactions, on a database of about -mixed-db MiB (accounts with a
//     padding column, at least -accounts of them) with SQLite's page cache
//     (PRAGMA cache_size) a quarter of that, for every contender.
//
// Each workload runs every contender -runs times, the contenders taking
// turns within a run (the first one rotating from run to run) so that
// noise on the machine hits them alike. A run prefills, runs an unmeasured
// warm-up of 5% of its transactions (operations for mixed), then measures
// -txs transactions (-ops operations for mixed). The tables give the
// medians over the runs of: transactions (operations) per second; p50 and
// p99 of a transaction's latency, BEGIN to COMMIT returning (and of a
// read's, for mixed); device bytes written per transaction, the growth of
// write_bytes in /proc/self/io over the measured part (what this process
// sent to the block layer for its files, data and journal or WAL, not the
// file system's own journal), syscall bytes per transaction (wchar), and
// the time closing the database took after the measured part (the work a
// contender left for later: untorn's final checkpoint, WAL's), with the
// rate that time added. For untorn and untorn-cow it also gives the VFS's
// batches and journal opens per transaction (a small transaction should
// take exactly one batch and no journal). Below each table, untorn's
// throughput over delete-full's and wal-full's is checked against the
// targets: at least 3x delete-full and 1.3x wal-full for bank and
// insert100, within 10% of the better of the two durable stock contenders
// for mixed; and over untorn-cow's: at least 1x in every workload.
//
// Run it on the file system to be measured. On ext4 (or whatever holds the
// working directory):
//
//	cd examples/sqlite
//	go run ./bench -dir /path/on/ext4
//
// On XFS, for example a loop mount (as root; mkfs.xfs is in xfsprogs):
//
//	truncate -s 4G /var/tmp/xfs.img
//	mkfs.xfs -f /var/tmp/xfs.img
//	mkdir -p /mnt/xfs && mount -o loop /var/tmp/xfs.img /mnt/xfs
//	go run ./bench -dir /mnt/xfs
//	umount /mnt/xfs
//
// A loop device adds the backing file's own file system underneath: its
// flushes are real, but the absolute numbers differ from a partition's.
// With the defaults a run takes minutes; -txs, -ops and -runs make it
// shorter, -workloads and -contenders narrower.
package main
