package main

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/untorn/untorn/atomicio"
	"github.com/untorn/untorn/blockdev/journal"
	"github.com/untorn/untorn/examples/sqlite/untornvfs"
)

// contenderNames lists the contenders in the order the tables show them.
var contenderNames = []string{"delete-full", "wal-full", "wal-normal", "untorn", "untorn-cow"}

// contender is one way to open a database: a VFS and the pragmas that set
// its journal and its syncing.
type contender struct {
	name    string
	journal string // PRAGMA journal_mode, as SQLite reports it back
	sync    string // PRAGMA synchronous
	durable bool   // a COMMIT is durable when it returns
	vfsName string // "" for the stock VFS
	untorn  *untornvfs.VFS
}

// wal reports whether the contender runs in WAL mode.
func (c *contender) wal() bool { return c.journal == "wal" }

// untornStats returns the untorn VFS's counters (zero for the stock VFS).
func (c *contender) untornStats() untornvfs.Stats {
	if c.untorn == nil {
		return untornvfs.Stats{}
	}
	return c.untorn.Stats()
}

// journalStats returns the journal's counters of the untorn database at
// path (zero for the stock VFS and in COW mode).
func (c *contender) journalStats(path string) journal.Stats {
	if c.untorn == nil {
		return journal.Stats{}
	}
	st, _ := c.untorn.FileStats(path)
	return st.Journal
}

// journalDrainTimeout bounds how long drainJournal waits.
const journalDrainTimeout = time.Minute

// drainJournal waits until the side journal of the untorn database at path
// is empty (journal mode): the idle checkpoint, a second after the last
// commit, has written the prefill home. So the measured part starts with
// the prefill in the database file, as WAL's does after
// wal_checkpoint(TRUNCATE). Nothing for the other contenders.
func (c *contender) drainJournal(path string) error {
	if c.untorn == nil {
		return nil
	}
	for deadline := time.Now().Add(journalDrainTimeout); ; {
		st, ok := c.untorn.FileStats(path)
		if !ok || st.Mode != atomicio.ModeJournal || st.Journal.LogBytes == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s still in the side journal after %v", errSetup, formatBytes(float64(st.Journal.LogBytes)), journalDrainTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vfsSeq makes the names under which run registers its untorn VFS unique
// in the process (tests call run more than once).
var vfsSeq atomic.Int64

// newContenders returns the named contenders and a function that
// unregisters the untorn VFS, if one was registered.
func newContenders(names []string) ([]*contender, func(), error) {
	var cs []*contender
	cleanup := func() {}
	for _, n := range names {
		switch n {
		case "delete-full":
			cs = append(cs, &contender{name: n, journal: "delete", sync: "FULL", durable: true})
		case "wal-full":
			cs = append(cs, &contender{name: n, journal: "wal", sync: "FULL", durable: true})
		case "wal-normal":
			cs = append(cs, &contender{name: n, journal: "wal", sync: "NORMAL"})
		case "untorn", "untorn-cow":
			v := &untornvfs.VFS{} // journal mode
			if n == "untorn-cow" {
				v.Options.Mode = atomicio.ModeCOW
			}
			name := fmt.Sprintf("untorn-bench-%d-%d", os.Getpid(), vfsSeq.Add(1))
			vfs.Register(name, v)
			prev := cleanup
			cleanup = func() { prev(); vfs.Unregister(name) }
			cs = append(cs, &contender{name: n, journal: "delete", sync: "FULL", durable: true, vfsName: name, untorn: v})
		default:
			cleanup()
			return nil, nil, fmt.Errorf("%w: unknown contender %q", errBadFlag, n)
		}
	}
	return cs, cleanup, nil
}

// open opens (creating) the database at path with the contender's VFS,
// journal mode and synchronous setting, and SQLite's page cache set to
// cacheKiB KiB (0: SQLite's default).
func (c *contender) open(path string, cacheKiB int) (*sqlite3.Conn, error) {
	uri := "file:" + escapeURIPath(path)
	if c.vfsName != "" {
		uri += "?vfs=" + c.vfsName
	}
	db, err := sqlite3.Open(uri)
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", c.name, path, err)
	}
	pragmas := fmt.Sprintf("PRAGMA journal_mode=%s; PRAGMA synchronous=%s;", c.journal, c.sync)
	if cacheKiB > 0 {
		pragmas += fmt.Sprintf(" PRAGMA cache_size=-%d;", cacheKiB)
	}
	if err := db.Exec(pragmas); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: set pragmas: %w", c.name, err)
	}
	// SQLite keeps its old journal mode, without an error, when the VFS
	// cannot do the one asked for.
	mode, err := queryText(db, "PRAGMA journal_mode")
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: read journal_mode: %w", c.name, err)
	}
	if !strings.EqualFold(mode, c.journal) {
		_ = db.Close()
		return nil, fmt.Errorf("%s: journal_mode is %q, want %q: %w", c.name, mode, c.journal, errSetup)
	}
	return db, nil
}

// escapeURIPath escapes the characters that end or escape the path of an
// SQLite URI filename.
func escapeURIPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// queryText returns the first column of the first row of sql.
func queryText(db *sqlite3.Conn, sql string) (string, error) {
	st, _, err := db.Prepare(sql)
	if err != nil {
		return "", fmt.Errorf("prepare %q: %w", sql, err)
	}
	defer st.Close()
	if !st.Step() {
		if err := st.Err(); err != nil {
			return "", fmt.Errorf("%q: %w", sql, err)
		}
		return "", fmt.Errorf("%q: %w", sql, errNoRow)
	}
	return st.ColumnText(0), nil
}

// queryInt returns the first column of the first row of sql as an integer.
func queryInt(db *sqlite3.Conn, sql string) (int64, error) {
	st, _, err := db.Prepare(sql)
	if err != nil {
		return 0, fmt.Errorf("prepare %q: %w", sql, err)
	}
	defer st.Close()
	if !st.Step() {
		if err := st.Err(); err != nil {
			return 0, fmt.Errorf("%q: %w", sql, err)
		}
		return 0, fmt.Errorf("%q: %w", sql, errNoRow)
	}
	return st.ColumnInt64(0), nil
}
