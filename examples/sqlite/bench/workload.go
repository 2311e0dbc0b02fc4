package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// workloadNames lists the workloads in the order they run.
var workloadNames = []string{"bank", "insert100", "mixed"}

const (
	insertRows  = 100      // rows per insert100 transaction
	insertText  = 100      // bytes of text per row
	mixedPad    = 200      // bytes of padding per account in mixed
	mixedTxPct  = 10       // percentage of mixed operations that are transactions
	fillChunk   = 4 << 20  // bytes of accounts per prefill transaction, at most
	warmupShare = 20       // the warm-up is 1/warmupShare of the measured operations
	mib         = 1 << 20  // bytes in a MiB
	firstItemID = int64(1) // first id of the insert100 rows
)

// workload is one kind of transaction mix.
type workload struct {
	name string
	// mixed: operations are reads and transactions, counted by -ops;
	// otherwise every operation is a transaction, counted by -txs.
	mixed bool
	// setup creates and fills the schema on a new database and returns
	// what runs the operations.
	setup func(db *sqlite3.Conn, o options) (driver, error)
}

// driver runs a workload's operations on one connection.
type driver interface {
	// op draws an operation from rng and runs it. It returns whether it
	// was a transaction and its latency (for a transaction, from BEGIN to
	// COMMIT returning).
	op(rng *rand.Rand) (tx bool, lat time.Duration, err error)
	// check verifies the database after the operations.
	check() error
	// accountCount is how many accounts the database holds (0: none).
	accountCount() int64
	// close closes the prepared statements.
	close() error
}

func findWorkload(name string) (workload, error) {
	switch name {
	case "bank":
		return workload{name: name, setup: setupBank}, nil
	case "insert100":
		return workload{name: name, setup: setupInsert}, nil
	case "mixed":
		return workload{name: name, mixed: true, setup: setupMixed}, nil
	}
	return workload{}, fmt.Errorf("%w: unknown workload %q", errBadFlag, name)
}

// ops is how many operations a run measures.
func (w workload) ops(o options) int {
	if w.mixed {
		return o.ops
	}
	return o.txs
}

// cacheKiB is SQLite's page cache for the workload (0: SQLite's default):
// for mixed a quarter of the database.
func (w workload) cacheKiB(o options) int {
	if w.mixed {
		return o.mixedDB * 1024 / 4
	}
	return 0
}

// bankDriver runs bank transfers.
type bankDriver struct{ *bank }

func setupBank(db *sqlite3.Conn, o options) (driver, error) {
	b, err := newBank(db, int64(o.accounts), 0, 0, fillChunk)
	if err != nil {
		return nil, err
	}
	return bankDriver{b}, nil
}

func (d bankDriver) op(rng *rand.Rand) (bool, time.Duration, error) {
	lat, err := d.transfer(rng)
	return true, lat, err
}

func (d bankDriver) accountCount() int64 { return d.bank.accounts }

// mixedDriver runs point reads and, now and then, a bank transfer.
type mixedDriver struct {
	*bank
	read *sqlite3.Stmt
}

func setupMixed(db *sqlite3.Conn, o options) (driver, error) {
	target := int64(o.mixedDB) * mib
	b, err := newBank(db, int64(o.accounts), mixedPad, target, min(fillChunk, max(target/8, 64<<10)))
	if err != nil {
		return nil, err
	}
	read, err := b.stmts.prepare(db, "SELECT balance FROM accounts WHERE id = ?1")
	if err != nil {
		return nil, errors.Join(err, b.close())
	}
	return mixedDriver{bank: b, read: read}, nil
}

func (d mixedDriver) op(rng *rand.Rand) (bool, time.Duration, error) {
	if rng.IntN(100) < mixedTxPct {
		lat, err := d.transfer(rng)
		return true, lat, err
	}
	id := 1 + rng.Int64N(d.bank.accounts)
	if err := d.read.BindInt64(1, id); err != nil {
		return false, 0, fmt.Errorf("bind read: %w", err)
	}
	start := time.Now()
	if !d.read.Step() {
		err := d.read.Reset()
		if err == nil {
			err = errNoRow
		}
		return false, 0, fmt.Errorf("read account %d: %w", id, err)
	}
	_ = d.read.ColumnInt64(0)
	if err := d.read.Reset(); err != nil {
		return false, 0, fmt.Errorf("read account %d: %w", id, err)
	}
	return false, time.Since(start), nil
}

func (d mixedDriver) accountCount() int64 { return d.bank.accounts }

// insertDriver inserts insertRows rows per transaction.
type insertDriver struct {
	db     *sqlite3.Conn
	next   int64 // id of the next row
	text   [insertRows][insertText]byte
	stmts  stmts
	begin  *sqlite3.Stmt
	insert *sqlite3.Stmt
	commit *sqlite3.Stmt
}

func setupInsert(db *sqlite3.Conn, _ options) (_ driver, err error) {
	if err := db.Exec("CREATE TABLE items(id INTEGER PRIMARY KEY, val TEXT NOT NULL)"); err != nil {
		return nil, fmt.Errorf("create the items table: %w", err)
	}
	d := &insertDriver{db: db, next: firstItemID}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.close())
		}
	}()
	if d.begin, err = d.stmts.prepare(db, "BEGIN"); err != nil {
		return nil, err
	}
	if d.insert, err = d.stmts.prepare(db, "INSERT INTO items(id, val) VALUES(?1, ?2)"); err != nil {
		return nil, err
	}
	if d.commit, err = d.stmts.prepare(db, "COMMIT"); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *insertDriver) op(rng *rand.Rand) (bool, time.Duration, error) {
	for i := range d.text {
		for j := range d.text[i] {
			d.text[i][j] = 'a' + byte(rng.IntN(26))
		}
	}
	first := d.next
	start := time.Now()
	if err := d.begin.Exec(); err != nil {
		return true, 0, fmt.Errorf("insert rows %d..: BEGIN: %w", first, err)
	}
	for i := range d.text {
		err := errors.Join(d.insert.BindInt64(1, d.next+int64(i)), d.insert.BindRawText(2, d.text[i][:]))
		if err == nil {
			err = d.insert.Exec()
		}
		if err != nil {
			return true, 0, errors.Join(fmt.Errorf("insert row %d: %w", d.next+int64(i), err), rollback(d.db))
		}
	}
	if err := d.commit.Exec(); err != nil {
		return true, 0, errors.Join(fmt.Errorf("insert rows %d..: COMMIT: %w", first, err), rollback(d.db))
	}
	lat := time.Since(start)
	d.next += insertRows
	return true, lat, nil
}

func (d *insertDriver) check() error {
	n, err := queryInt(d.db, "SELECT count(*) FROM items")
	if err != nil {
		return fmt.Errorf("check the items: %w", err)
	}
	if want := d.next - firstItemID; n != want {
		return fmt.Errorf("%w: %d items, want %d", errCheck, n, want)
	}
	return nil
}

func (d *insertDriver) accountCount() int64 { return 0 }

func (d *insertDriver) close() error { return d.stmts.close() }
