package untornvfs

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// twoConnections runs three interleavings of two connections to one
// database and returns the first mismatch: alternating inserts (each must
// see the other's rows), a reader checking the count after each of the
// writer's commits (no stale read), and two writers incrementing one
// counter in turn (no lost update).
func twoConnections(t *testing.T, v *VFS) error {
	name := register(t, v)
	path := filepath.Join(t.TempDir(), "two.db")
	a, b := openDB(t, name, path), openDB(t, name, path)
	require.NoError(t, a.Exec("CREATE TABLE rows(id INTEGER PRIMARY KEY, by TEXT); CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES(0)"))

	const rounds = 100
	conns := []*sqlite3.Conn{a, b}
	for i := range 2 * rounds {
		c := conns[i%2]
		require.NoError(t, c.Exec(fmt.Sprintf("INSERT INTO rows(by) VALUES('%c')", 'a'+i%2)))
	}
	for i, c := range conns {
		if n := queryInt(t, c, "SELECT count(*) FROM rows"); n != 2*rounds {
			return fmt.Errorf("alternating inserts: connection %d sees %d rows, want %d", i, n, 2*rounds)
		}
	}

	for i := range rounds {
		require.NoError(t, a.Exec("INSERT INTO rows(by) VALUES('w')"))
		want := int64(2*rounds + i + 1)
		if n := queryInt(t, b, "SELECT count(*) FROM rows"); n != want {
			return fmt.Errorf("reader after commit %d sees %d rows, want %d (stale read)", i, n, want)
		}
	}

	for i := range 2 * rounds {
		c := conns[i%2]
		require.NoError(t, c.Exec("BEGIN IMMEDIATE"))
		n := queryInt(t, c, "SELECT n FROM counter")
		require.NoError(t, c.Exec(fmt.Sprintf("UPDATE counter SET n = %d", n+1)))
		require.NoError(t, c.Exec("COMMIT"))
	}
	for i, c := range conns {
		if n := queryInt(t, c, "SELECT n FROM counter"); n != 2*rounds {
			return fmt.Errorf("turn-taking writers: connection %d reads counter %d, want %d (lost update)", i, n, 2*rounds)
		}
		requireIntegrity(t, c)
	}
	return nil
}

func TestTwoConnections(t *testing.T) {
	v := &VFS{}
	require.NoError(t, twoConnections(t, v))
	require.Greater(t, v.Stats().Batches, int64(400), "the commits went through batches")
}

// TestTwoConnectionsCatchesStaleCache is the control: without the change
// counter bump the other connection keeps its stale page cache, and the
// test must see it.
func TestTwoConnectionsCatchesStaleCache(t *testing.T) {
	err := twoConnections(t, &VFS{skipCounterBump: true})
	require.Error(t, err, "the two-connection test cannot see a stale page cache")
	t.Logf("caught: %v", err)
}

// TestReadersAndWriterAtOnce runs a writer moving money between accounts
// and three readers summing the balances, concurrently, each on its own
// connection: every sum a reader sees is the total.
func TestReadersAndWriterAtOnce(t *testing.T) {
	v := &VFS{}
	name := register(t, v)
	path := filepath.Join(t.TempDir(), "bank.db")
	w := openDB(t, name, path)
	require.NoError(t, w.BusyTimeout(10*time.Second))
	require.NoError(t, w.Exec("CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER)"))
	require.NoError(t, w.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<50) INSERT INTO acct SELECT i, 1000 FROM n"))

	const transfers = 300
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 4)
	for r := range 3 {
		c := openDB(t, name, path)
		require.NoError(t, c.BusyTimeout(10*time.Second))
		wg.Go(func() {
			for reads := 0; ; reads++ {
				select {
				case <-done:
					if reads == 0 {
						errs <- fmt.Errorf("reader %d never read", r)
					}
					return
				default:
				}
				st, _, err := c.Prepare("SELECT sum(bal) FROM acct")
				if err != nil {
					errs <- err
					return
				}
				ok := st.Step()
				sum, err := st.ColumnInt64(0), st.Err()
				st.Close()
				if err != nil || !ok {
					errs <- fmt.Errorf("reader %d: %v", r, err)
					return
				}
				if sum != 50*1000 {
					errs <- fmt.Errorf("reader %d saw sum %d", r, sum)
					return
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range transfers {
		from, to := rng.IntN(50)+1, rng.IntN(50)+1
		require.NoError(t, w.Exec(fmt.Sprintf(
			"BEGIN IMMEDIATE; UPDATE acct SET bal=bal-7 WHERE id=%d; UPDATE acct SET bal=bal+7 WHERE id=%d; COMMIT", from, to)))
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 50*1000, queryInt(t, w, "SELECT sum(bal) FROM acct"))
}

// TestSecondOpenerIsRefused: a database open through one VFS cannot be
// opened through another (as another process would): the VFS's lock on
// SQLite's lock bytes refuses it with SQLITE_BUSY.
func TestSecondOpenerIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.db")
	a := openDB(t, register(t, &VFS{}), path)
	require.NoError(t, a.Exec("CREATE TABLE t(x)"))

	_, err := sqlite3.Open(fmt.Sprintf("file:%s?vfs=%s", path, register(t, &VFS{})))
	require.Error(t, err)
	require.ErrorIs(t, err, sqlite3.BUSY, "got %v", err)
}
