package untornvfs

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// The bank: accounts whose balances sum to a constant, transactions that
// move money and log themselves, now and then a transaction too large for
// SQLite's page cache (it spills and takes the journal) and a schema
// change. Every transaction is a pure function of its number, so a checker
// can replay the first h of them and compare the database with the result.
const (
	bankAccounts = 20
	bankStart    = 1000
	bankCache    = 16 // pages of SQLite page cache: a big transaction spills
)

// txKind says what transaction i does (i >= 1; 1 creates the bank).
func txKind(i int) string {
	switch {
	case i == 1:
		return "create"
	case i%29 == 0:
		return "big"
	case i%17 == 0:
		return "schema"
	}
	return "transfer"
}

// transfer is one move of money with its history row.
type transfer struct{ src, dst, amt int }

// bank is one workload: its seed picks the transfers.
type bank struct{ seed uint64 }

// txTransfers returns the transfers of transaction i.
func (k bank) txTransfers(i int) []transfer {
	rng := rand.New(rand.NewPCG(k.seed, uint64(i)))
	n := 1 + rng.IntN(3)
	if txKind(i) == "big" {
		n = 300
	}
	var ts []transfer
	for range n {
		ts = append(ts, transfer{src: 1 + rng.IntN(bankAccounts), dst: 1 + rng.IntN(bankAccounts), amt: 1 + rng.IntN(50)})
	}
	return ts
}

// txSQL returns the SQL of transaction i, BEGIN to COMMIT.
func (k bank) txSQL(i int) string {
	var b strings.Builder
	b.WriteString("BEGIN;")
	switch txKind(i) {
	case "create":
		b.WriteString("CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER NOT NULL);")
		b.WriteString("CREATE TABLE txlog(txid INTEGER PRIMARY KEY, kind TEXT NOT NULL);")
		b.WriteString("CREATE TABLE history(txid INTEGER NOT NULL, src INTEGER, dst INTEGER, amt INTEGER, memo BLOB);")
		fmt.Fprintf(&b, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<%d) INSERT INTO acct SELECT i, %d FROM n;", bankAccounts, bankStart)
	case "schema":
		fmt.Fprintf(&b, "CREATE TABLE extra_%d(x INTEGER, pad BLOB); INSERT INTO extra_%d VALUES(%d, randomblob(600));", i, i, i)
		if i%34 == 0 {
			fmt.Fprintf(&b, "DROP TABLE extra_%d;", i-17)
		}
		if i == 51 {
			b.WriteString("CREATE INDEX history_src ON history(src, txid);")
		}
	}
	for _, t := range k.txTransfers(i) {
		fmt.Fprintf(&b, "UPDATE acct SET bal = bal - %d WHERE id = %d;", t.amt, t.src)
		fmt.Fprintf(&b, "UPDATE acct SET bal = bal + %d WHERE id = %d;", t.amt, t.dst)
		fmt.Fprintf(&b, "INSERT INTO history VALUES(%d, %d, %d, %d, randomblob(%d));", i, t.src, t.dst, t.amt, 100+t.amt*4)
	}
	fmt.Fprintf(&b, "INSERT INTO txlog VALUES(%d, '%s');", i, txKind(i))
	b.WriteString("COMMIT;")
	return b.String()
}

// bankState is what the first h transactions leave.
type bankState struct {
	balances map[int]int64
	history  int64
	extras   []string // names of the extra tables, sorted
	index    bool
}

func (k bank) expected(h int) bankState {
	s := bankState{balances: map[int]int64{}}
	extras := map[string]bool{}
	for i := 1; i <= h; i++ {
		switch txKind(i) {
		case "create":
			for a := 1; a <= bankAccounts; a++ {
				s.balances[a] = bankStart
			}
		case "schema":
			extras[fmt.Sprintf("extra_%d", i)] = true
			if i%34 == 0 {
				delete(extras, fmt.Sprintf("extra_%d", i-17))
			}
			s.index = s.index || i == 51
		}
		for _, t := range k.txTransfers(i) {
			s.balances[t.src] -= int64(t.amt)
			s.balances[t.dst] += int64(t.amt)
			s.history++
		}
	}
	s.extras = slices.Sorted(maps.Keys(extras))
	return s
}

// readBank reads the state of the bank in db and h, the number of
// transactions it holds; it fails if the txlog is not 1..h.
func readBank(db *sqlite3.Conn) (bankState, int, error) {
	s := bankState{balances: map[int]int64{}}
	names, err := queryStrings(db, "SELECT name FROM sqlite_schema WHERE type IN ('table','index') ORDER BY name")
	if err != nil {
		return s, 0, err
	}
	if !slices.Contains(names, "txlog") {
		if len(names) > 0 {
			return s, 0, fmt.Errorf("tables %v without txlog", names)
		}
		return s, 0, nil
	}
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "extra_"):
			s.extras = append(s.extras, n)
		case n == "history_src":
			s.index = true
		}
	}
	cnt, err := queryInts(db, "SELECT count(*), coalesce(max(txid), 0), (SELECT count(*) FROM history) FROM txlog")
	if err != nil {
		return s, 0, err
	}
	if cnt[0] != cnt[1] {
		return s, 0, fmt.Errorf("txlog holds %d transactions, the last is %d", cnt[0], cnt[1])
	}
	s.history = cnt[2]
	rows, err := queryInts(db, "SELECT id, bal FROM acct ORDER BY id")
	if err != nil {
		return s, 0, err
	}
	for i := 0; i+1 < len(rows); i += 2 {
		s.balances[int(rows[i])] = rows[i+1]
	}
	return s, int(cnt[1]), nil
}

// compare returns how got differs from want, or nil.
func (want bankState) compare(got bankState) error {
	var errs []error
	if !maps.Equal(want.balances, got.balances) {
		errs = append(errs, fmt.Errorf("balances %v, want %v", got.balances, want.balances))
	}
	if want.history != got.history {
		errs = append(errs, fmt.Errorf("%d history rows, want %d", got.history, want.history))
	}
	if !slices.Equal(want.extras, got.extras) {
		errs = append(errs, fmt.Errorf("extra tables %v, want %v", got.extras, want.extras))
	}
	if want.index != got.index {
		errs = append(errs, fmt.Errorf("index present %v, want %v", got.index, want.index))
	}
	return errors.Join(errs...)
}

func queryStrings(db *sqlite3.Conn, sql string) ([]string, error) {
	st, _, err := db.Prepare(sql)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []string
	for st.Step() {
		out = append(out, st.ColumnText(0))
	}
	return out, st.Err()
}

// queryInts returns every column of every row of sql, flattened.
func queryInts(db *sqlite3.Conn, sql string) ([]int64, error) {
	st, _, err := db.Prepare(sql)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []int64
	for st.Step() {
		for c := range st.ColumnCount() {
			out = append(out, st.ColumnInt64(c))
		}
	}
	return out, st.Err()
}

// openBank opens the bank database through the VFS named name, in the
// modes the bank runs in: journal_mode=DELETE, synchronous=FULL and a
// page cache small enough for big transactions to spill into the journal.
func openBank(t *testing.T, name string) *sqlite3.Conn {
	db, err := sqlite3.Open(fmt.Sprintf("file:bank.db?vfs=%s", name))
	require.NoError(t, err)
	require.NoError(t, db.Exec(fmt.Sprintf("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA cache_size=%d", bankCache)))
	return db
}
