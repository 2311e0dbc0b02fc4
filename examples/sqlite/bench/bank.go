package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ncruces/go-sqlite3"
)

const (
	startBalance = 1_000_000 // every account's balance after the prefill
	memoLen      = 100       // bytes of a history row's memo
	maxAmount    = 100       // largest amount a transfer moves
)

const bankSchema = `
CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, pad BLOB);
CREATE TABLE history(txid INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL,
	amount INTEGER NOT NULL, memo TEXT NOT NULL);`

// bank runs transfers between accounts on one connection: BEGIN; two
// UPDATEs; one INSERT into history; COMMIT.
type bank struct {
	db       *sqlite3.Conn
	accounts int64 // ids 1..accounts
	txs      int64 // transfers committed so far (the next txid is txs+1)
	memo     []byte
	stmts    stmts
	begin    *sqlite3.Stmt
	debit    *sqlite3.Stmt
	credit   *sqlite3.Stmt
	logTx    *sqlite3.Stmt
	commit   *sqlite3.Stmt
}

// newBank creates the bank's tables in db, fills accounts (each with
// padding bytes of random padding, none if 0) in transactions of about
// chunkBytes until there are at least minAccounts and the database holds
// at least minBytes, and prepares the transfer.
func newBank(db *sqlite3.Conn, minAccounts int64, padding int, minBytes, chunkBytes int64) (_ *bank, err error) {
	if err := db.Exec(bankSchema); err != nil {
		return nil, fmt.Errorf("create the bank: %w", err)
	}
	b := &bank{db: db, memo: make([]byte, memoLen)}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.close())
		}
	}()
	if err := b.fill(minAccounts, padding, minBytes, chunkBytes); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		dst **sqlite3.Stmt
		sql string
	}{
		{&b.begin, "BEGIN"},
		{&b.debit, "UPDATE accounts SET balance = balance - ?1 WHERE id = ?2"},
		{&b.credit, "UPDATE accounts SET balance = balance + ?1 WHERE id = ?2"},
		{&b.logTx, "INSERT INTO history(txid, src, dst, amount, memo) VALUES(?1, ?2, ?3, ?4, ?5)"},
		{&b.commit, "COMMIT"},
	} {
		if *p.dst, err = b.stmts.prepare(db, p.sql); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// fill inserts accounts (see newBank), each chunk its own transaction.
func (b *bank) fill(minAccounts int64, padding int, minBytes, chunkBytes int64) error {
	st, _, err := b.db.Prepare(`WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i+1 FROM n WHERE i < ?2)
		INSERT INTO accounts(id, balance, pad) SELECT i, ?3, iif(?4 > 0, randomblob(?4), NULL) FROM n`)
	if err != nil {
		return fmt.Errorf("prepare the account fill: %w", err)
	}
	defer st.Close()
	perChunk := max(1, chunkBytes/int64(padding+32))
	for {
		size, err := dbBytes(b.db)
		if err != nil {
			return err
		}
		if b.accounts >= minAccounts && size >= minBytes {
			return nil
		}
		n := perChunk
		if size >= minBytes {
			n = min(n, minAccounts-b.accounts)
		}
		if err := errors.Join(st.BindInt64(1, b.accounts+1), st.BindInt64(2, b.accounts+n),
			st.BindInt64(3, startBalance), st.BindInt64(4, int64(padding))); err != nil {
			return fmt.Errorf("bind the account fill: %w", err)
		}
		if err := st.Exec(); err != nil {
			return fmt.Errorf("fill accounts %d to %d: %w", b.accounts+1, b.accounts+n, err)
		}
		b.accounts += n
	}
}

// dbBytes is the database's size: pages times the page size.
func dbBytes(db *sqlite3.Conn) (int64, error) {
	pages, err := queryInt(db, "PRAGMA page_count")
	if err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	size, err := queryInt(db, "PRAGMA page_size")
	if err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	return pages * size, nil
}

// transfer draws a transfer from rng and commits it, returning the time
// from BEGIN to COMMIT returning.
func (b *bank) transfer(rng *rand.Rand) (time.Duration, error) {
	src := 1 + rng.Int64N(b.accounts)
	dst := 1 + rng.Int64N(b.accounts-1)
	if dst >= src {
		dst++
	}
	amount := 1 + rng.Int64N(maxAmount)
	for i := range b.memo {
		b.memo[i] = 'a' + byte(rng.IntN(26))
	}
	txid := b.txs + 1
	err := errors.Join(b.debit.BindInt64(1, amount), b.debit.BindInt64(2, src),
		b.credit.BindInt64(1, amount), b.credit.BindInt64(2, dst),
		b.logTx.BindInt64(1, txid), b.logTx.BindInt64(2, src), b.logTx.BindInt64(3, dst),
		b.logTx.BindInt64(4, amount), b.logTx.BindRawText(5, b.memo))
	if err != nil {
		return 0, fmt.Errorf("bind transfer %d: %w", txid, err)
	}
	start := time.Now()
	if err := runTx(b.db, b.begin, b.commit, b.debit, b.credit, b.logTx); err != nil {
		return 0, fmt.Errorf("transfer %d: %w", txid, err)
	}
	lat := time.Since(start)
	b.txs++
	return lat, nil
}

// check verifies that the money is all there and every transfer logged.
func (b *bank) check() error {
	sum, err := queryInt(b.db, "SELECT sum(balance) FROM accounts")
	if err != nil {
		return fmt.Errorf("check the bank: %w", err)
	}
	logged, err := queryInt(b.db, "SELECT count(*) FROM history")
	if err != nil {
		return fmt.Errorf("check the bank: %w", err)
	}
	if sum != b.accounts*startBalance || logged != b.txs {
		return fmt.Errorf("%w: balances sum to %d (want %d), %d transfers logged (want %d)",
			errCheck, sum, b.accounts*startBalance, logged, b.txs)
	}
	return nil
}

func (b *bank) close() error { return b.stmts.close() }

// runTx runs begin, then each statement once, then commit; on an error it
// rolls back.
func runTx(db *sqlite3.Conn, begin, commit *sqlite3.Stmt, body ...*sqlite3.Stmt) error {
	if err := begin.Exec(); err != nil {
		return fmt.Errorf("BEGIN: %w", err)
	}
	for _, st := range body {
		if err := st.Exec(); err != nil {
			return errors.Join(fmt.Errorf("%s: %w", st.SQL(), err), rollback(db))
		}
	}
	if err := commit.Exec(); err != nil {
		return errors.Join(fmt.Errorf("COMMIT: %w", err), rollback(db))
	}
	return nil
}

// rollback ends the transaction under way, if any.
func rollback(db *sqlite3.Conn) error {
	if db.GetAutocommit() {
		return nil
	}
	if err := db.Exec("ROLLBACK"); err != nil {
		return fmt.Errorf("ROLLBACK: %w", err)
	}
	return nil
}

// stmts are the prepared statements of a connection, closed together.
type stmts []*sqlite3.Stmt

func (s *stmts) prepare(db *sqlite3.Conn, sql string) (*sqlite3.Stmt, error) {
	st, _, err := db.Prepare(sql)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", sql, err)
	}
	*s = append(*s, st)
	return st, nil
}

func (s *stmts) close() error {
	var errs []error
	for _, st := range *s {
		if err := st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close statement: %w", err))
		}
	}
	*s = nil
	return errors.Join(errs...)
}
