package untornvfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// lockChildEnv names the database TestLockChild works on; unset, the test
// does nothing.
const lockChildEnv = "UNTORNVFS_LOCK_CHILD"

// TestLockChild is the child process of TestLockAcrossProcesses; it does
// nothing in a normal run. On the database named by lockChildEnv it tries,
// in order, a read and a write through SQLite's stock VFS and an open
// through this VFS, and prints what each got: busy, or ok (the read with
// the transactions it saw).
func TestLockChild(t *testing.T) {
	path := os.Getenv(lockChildEnv)
	if path == "" {
		t.Skip("child process of TestLockAcrossProcesses only")
	}
	outcome := func(err error) string {
		switch {
		case err == nil:
			return "ok"
		case errors.Is(err, sqlite3.BUSY):
			return "busy"
		}
		return fmt.Sprintf("error(%v)", err)
	}
	stock, err := sqlite3.Open("file:" + path)
	require.NoError(t, err)
	_, h, err := readBank(stock)
	read := outcome(err)
	if err == nil {
		read = fmt.Sprintf("ok:%d", h)
	}
	write := outcome(stock.Exec("CREATE TABLE IF NOT EXISTS child_was_here(x)"))
	require.NoError(t, stock.Close())
	name, unregister := registerNow(&VFS{})
	defer unregister()
	db, err := sqlite3.Open(fmt.Sprintf("file:%s?vfs=%s", path, name))
	if err == nil {
		err = db.Close()
	}
	fmt.Printf("RESULT read=%s write=%s untorn=%s\n", read, write, outcome(err))
}

// lockChild runs TestLockChild on path and returns its RESULT line.
func lockChild(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "child: %s", out)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			return r
		}
	}
	require.FailNow(t, "no RESULT line", "child output:\n%s", out)
	return ""
}

// TestLockAcrossProcesses: while this process holds a database open
// through the VFS, another process gets SQLITE_BUSY for a read and a
// write through SQLite's stock VFS and for an open through this VFS; so
// does the sqlite3 command (SQLite's C library, whose unix VFS takes
// process-associated fcntl locks, which conflict with the VFS's OFD lock),
// where it is installed. Once the VFS closed the database, all of them
// read it whole and write.
func TestLockAcrossProcesses(t *testing.T) {
	k := bank{seed: 7}
	path := filepath.Join(t.TempDir(), "shared.db")
	db, err := openBankAt(t, register(t, &VFS{}), path)
	require.NoError(t, err)
	runBank(t, db, k, 1, 10)

	require.Equal(t, "read=busy write=busy untorn=busy", lockChild(t, path))
	cli, cliErr := exec.LookPath("sqlite3")
	if cliErr == nil {
		for _, sql := range []string{"SELECT count(*) FROM txlog", "CREATE TABLE cli_was_here(x)"} {
			out, err := exec.Command(cli, path, sql).CombinedOutput()
			require.Error(t, err, "sqlite3 %q ran while the VFS held the database: %s", sql, out)
			require.Contains(t, string(out), "database is locked", "sqlite3 %q", sql)
		}
	}
	require.NoError(t, db.Close())

	require.Equal(t, "read=ok:10 write=ok untorn=ok", lockChild(t, path))
	if cliErr != nil {
		t.Logf("no sqlite3 command (%v): the C library's locks were not tried", cliErr)
		return
	}
	out, err := exec.Command(cli, path, "PRAGMA integrity_check; SELECT count(*) FROM txlog; CREATE TABLE cli_was_here(x);").CombinedOutput()
	require.NoError(t, err, "sqlite3: %s", out)
	require.Equal(t, "ok\n10\n", string(out))
	require.NoError(t, checkBank(t, "", path, k, 10), "after both processes wrote")
}
