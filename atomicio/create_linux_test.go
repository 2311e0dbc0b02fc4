package atomicio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/untorn/untorn/blockdev"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return st.Ino
}

// TestCreateStepsAndDirectorySync: creation goes through every step in
// order and fsyncs the directory once, after the publication, for a new
// path and for an empty file; the result is a container and no temporary
// file is left.
func TestCreateStepsAndDirectorySync(t *testing.T) {
	for _, empty := range []bool{false, true} {
		t.Run(fmt.Sprintf("empty=%v", empty), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			want := createSteps
			if empty {
				require.NoError(t, os.WriteFile(path, nil, 0o600))
				want = append([]string{"lock-empty"}, createSteps...)
			}
			var steps []string
			setCreateHook(t, func(s string) error {
				steps = append(steps, s)
				return nil
			})
			// Observe the fsyncs: the new file's, then, after the rename,
			// its directory's.
			type fsynced struct {
				ino uint64
				dir bool
			}
			var synced []fsynced
			realFsync := fsync
			fsync = func(p string, s syncer) error {
				var st unix.Stat_t
				require.NoError(t, unix.Stat(p, &st))
				synced = append(synced, fsynced{st.Ino, st.Mode&unix.S_IFMT == unix.S_IFDIR})
				if st.Mode&unix.S_IFMT == unix.S_IFDIR {
					requireContainerLocked(t, path)
					require.Empty(t, tempFiles(t, dir))
				}
				return realFsync(p, s)
			}
			t.Cleanup(func() { fsync = realFsync })
			f, err := Open(path, createOpts)
			require.NoError(t, err)
			require.Equal(t, want, steps)
			require.Equal(t, []fsynced{{inode(t, path), false}, {inode(t, dir), true}}, synced,
				"an fsync of the new file, then one of the directory")
			writeMarker(t, f, "first")
			require.NoError(t, f.Close())
			createHook = nil
			if empty {
				st, err := os.Stat(path)
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the empty file's permissions are kept")
			}
			requireContainer(t, path)
			require.Empty(t, tempFiles(t, dir))
			requireUsable(t, path, "first", "second")
		})
	}
}

// TestCreateFailureAtEachStep: a failure at any step before the
// publication leaves path as it was (missing, or the same empty file) and
// no temporary file; a failure of the directory fsync leaves a complete
// container. Either way a later Open works.
func TestCreateFailureAtEachStep(t *testing.T) {
	for _, empty := range []bool{false, true} {
		for _, at := range createSteps {
			t.Run(fmt.Sprintf("empty=%v/%s", empty, at), func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "data.db")
				var ino uint64
				if empty {
					require.NoError(t, os.WriteFile(path, nil, 0o644))
					ino = inode(t, path)
				}
				openFailingAt(t, path, at, createOpts)
				switch {
				case at == "sync-dir":
					requireContainer(t, path)
				case empty:
					st, err := os.Stat(path)
					require.NoError(t, err)
					require.Zero(t, st.Size())
					require.Equal(t, ino, inode(t, path), "the empty file was replaced")
				default:
					requireMissing(t, path)
				}
				requireUsable(t, path, "", "after")
			})
		}
	}
}

// TestCreateNativeRefusedLeavesNothing: a native file on a file system
// without RWF_ATOMIC is refused and nothing is left at path.
func TestCreateNativeRefusedLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	if !isExt4Dir(t, dir) {
		t.Skip("needs a file system without RWF_ATOMIC (ext4)")
	}
	path := filepath.Join(dir, "data.db")
	opts := createOpts
	opts.Mode = ModeNative
	_, err := Open(path, opts)
	require.ErrorIs(t, err, ErrNoUntornWrites)
	requireMissing(t, path)
	require.Empty(t, tempFiles(t, dir))
}

// The child processes of the tests below: the test binary run again with
// UNTORN_CREATE_CHILD set.
const (
	childEnv    = "UNTORN_CREATE_CHILD" // what the child does
	childPath   = "UNTORN_CREATE_PATH"  // the data file
	childStep   = "UNTORN_CREATE_STEP"  // kill-at: the step to die at
	childSignal = "UNTORN_CREATE_SIGNAL"
	childMarker = "UNTORN_CREATE_MARKER"
	childMode   = "UNTORN_CREATE_MODE" // "journal": create in journal mode (journalCreateOpts)
)

// TestCreateChild is the child process; it does nothing in a normal run.
func TestCreateChild(t *testing.T) {
	what := os.Getenv(childEnv)
	if what == "" {
		t.Skip("child process of the creation tests only")
	}
	path := os.Getenv(childPath)
	opts := createOpts
	if os.Getenv(childMode) == "journal" {
		opts = journalCreateOpts
	}
	switch what {
	case "kill-at":
		at := os.Getenv(childStep)
		createHook = func(s string) error {
			if s == at {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
			return nil
		}
	case "prealloc":
		opts.Size = 32 << 20
	case "paused-writer":
		// Stop after deciding to create, until the parent lets us go on.
		sig := os.Getenv(childSignal)
		createHook = func(s string) error {
			if s == "create-temp" {
				require.NoError(t, os.WriteFile(sig+".ready", nil, 0o644))
				for {
					if _, err := os.Stat(sig + ".go"); err == nil {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			return nil
		}
	}
	f, err := Open(path, opts)
	if errors.Is(err, ErrLocked) {
		fmt.Println("RESULT locked")
		return
	}
	require.NoError(t, err)
	saw := readMarker(t, f)
	if m := os.Getenv(childMarker); m != "" {
		writeMarker(t, f, m)
	}
	require.NoError(t, f.Close())
	fmt.Printf("RESULT saw=%s\n", saw)
}

// child returns the command that runs TestCreateChild with env.
func child(t *testing.T, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCreateChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// childResult runs cmd to its end and returns its RESULT line.
func childResult(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.Output()
	require.NoError(t, err, "child: %s", out)
	return resultLine(t, out)
}

func resultLine(t *testing.T, out []byte) string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			return r
		}
	}
	require.FailNow(t, "no RESULT line", "child output: %s", out)
	return ""
}

func requireKilled(t *testing.T, err error) {
	t.Helper()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child: %v", err)
}

// TestCreateKilledAtEachStep: a process killed at any step of creating a
// new path leaves either no file at path or a complete container (and
// perhaps its temporary file); a later Open creates or opens the container
// and removes the leftover temporary file without ever using it.
func TestCreateKilledAtEachStep(t *testing.T) {
	for _, at := range createSteps {
		t.Run(at, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			requireKilled(t, child(t, childEnv+"=kill-at", childPath+"="+path, childStep+"="+at).Run())
			temps := tempFiles(t, dir)
			switch at {
			case "create-temp":
				requireMissing(t, path)
				require.Empty(t, temps)
			case "sync-dir":
				requireContainer(t, path)
				require.Empty(t, temps)
			default:
				requireMissing(t, path)
				require.Len(t, temps, 1, "the killed process leaves its temporary file")
			}
			requireUsable(t, path, "", "after")
			require.Empty(t, tempFiles(t, dir), "the stale temporary file is removed")
		})
	}
}

// TestCreateKilledWhilePreallocating: a process killed (no hook, just
// SIGKILL from outside) while it preallocates a new file leaves no file at
// path that a later Open would take for a plain file.
func TestCreateKilledWhilePreallocating(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	cmd := child(t, childEnv+"=prealloc", childPath+"="+path)
	require.NoError(t, cmd.Start())
	// Kill it once a file of non-zero size shows up in dir: the file it
	// preallocates.
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		grown := false
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Size() > 0 {
				grown = true
			}
		}
		if grown {
			break
		}
		require.True(t, time.Now().Before(deadline), "no file appeared")
		time.Sleep(200 * time.Microsecond)
	}
	time.Sleep(2 * time.Millisecond)
	require.NoError(t, cmd.Process.Kill())
	requireKilled(t, cmd.Wait())
	if _, err := os.Lstat(path); err == nil {
		t.Log("the child had published the file when it was killed")
		requireContainer(t, path) // the child finished creating before the kill
	} else {
		t.Logf("the child was killed while creating (temporary files: %v)", tempFiles(t, dir))
		requireMissing(t, path)
	}
	requireUsable(t, path, "", "after")
}

// TestCreateRaceInProcess: two Opens of one new path where the second
// decided to create before the first published its file. The second's file
// never replaces the first's: it gets ErrLocked while the first has its
// File open, or opens the first's container with the data the first
// synced. Also with the link(2) fallback for RENAME_NOREPLACE.
func TestCreateRaceInProcess(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		for _, winnerOpen := range []bool{true, false} {
			t.Run(fmt.Sprintf("fallback=%v/winnerOpen=%v", fallback, winnerOpen), func(t *testing.T) {
				if fallback {
					forceLinkFallback(t)
				}
				dir := t.TempDir()
				path := filepath.Join(dir, "data.db")
				var arrivals atomic.Int32
				paused, release := make(chan struct{}), make(chan struct{})
				setCreateHook(t, func(s string) error {
					if s == "create-temp" && arrivals.Add(1) == 1 {
						close(paused)
						<-release
					}
					return nil
				})
				type result struct {
					f   *File
					err error
				}
				loser := make(chan result, 1)
				go func() {
					f, err := Open(path, createOpts)
					loser <- result{f, err}
				}()
				select {
				case <-paused:
				case <-time.After(10 * time.Second):
					require.FailNow(t, "no Open reached the create-temp step")
				}
				w, err := Open(path, createOpts)
				require.NoError(t, err)
				writeMarker(t, w, "winner")
				if !winnerOpen {
					require.NoError(t, w.Close())
				}
				close(release)
				r := <-loser
				if winnerOpen {
					require.ErrorIs(t, r.err, ErrLocked)
					require.Equal(t, "winner", readMarker(t, w))
					require.NoError(t, w.Close())
				} else {
					require.NoError(t, r.err)
					require.Equal(t, "winner", readMarker(t, r.f), "the winner's container was replaced")
					require.NoError(t, r.f.Close())
				}
				createHook = nil
				require.Empty(t, tempFiles(t, dir))
				requireUsable(t, path, "winner", "after")
			})
		}
	}
}

// forceLinkFallback makes renameat2(RENAME_NOREPLACE) fail with EINVAL, as
// on a file system without it.
func forceLinkFallback(t *testing.T) {
	old := renameNoReplace
	renameNoReplace = func(*blockdev.Dir, string, string) error {
		return errors.Join(blockdev.ErrNotSupported, unix.EINVAL)
	}
	t.Cleanup(func() { renameNoReplace = old })
}

// TestCreateRaceProcesses: another process creates the path, writes and
// syncs data and exits while this one has already decided to create it:
// this one opens the other's container, the data intact.
func TestCreateRaceProcesses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	sig := filepath.Join(t.TempDir(), "sig")
	b := child(t, childEnv+"=paused-writer", childPath+"="+path, childSignal+"="+sig, childMarker+"=B")
	var bOut bytes.Buffer
	b.Stdout = &bOut
	require.NoError(t, b.Start())
	defer func() { _ = b.Process.Kill() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(sig + ".ready"); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the child did not reach the create-temp step")
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, "saw=", childResult(t, child(t, childEnv+"=writer", childPath+"="+path, childMarker+"=A")))
	require.NoError(t, os.WriteFile(sig+".go", nil, 0o644))
	require.NoError(t, b.Wait())
	require.Equal(t, "saw=A", resultLine(t, bOut.Bytes()), "B replaced A's container")
	require.Empty(t, tempFiles(t, dir))
	requireUsable(t, path, "B", "after")
}

// TestCreateRaceProcessesFree: two processes open the same new path at the
// same moment, a few rounds: one creates, the other gets ErrLocked or
// opens the first's container (seeing its data), never a second container.
func TestCreateRaceProcessesFree(t *testing.T) {
	for round := range 3 {
		dir := t.TempDir()
		path := filepath.Join(dir, "data.db")
		cmds := []*exec.Cmd{
			child(t, childEnv+"=writer", childPath+"="+path, childMarker+"=A"),
			child(t, childEnv+"=writer", childPath+"="+path, childMarker+"=B"),
		}
		outs := make([]bytes.Buffer, 2)
		for i, c := range cmds {
			c.Stdout = &outs[i]
			require.NoError(t, c.Start())
		}
		res := make([]string, 2)
		for i, c := range cmds {
			require.NoError(t, c.Wait())
			res[i] = resultLine(t, outs[i].Bytes())
		}
		var final string
		switch {
		case res[0] == "locked":
			require.Equal(t, "saw=", res[1], "round %d", round)
			final = "B"
		case res[1] == "locked":
			require.Equal(t, "saw=", res[0], "round %d", round)
			final = "A"
		case res[0] == "saw=":
			require.Equal(t, "saw=A", res[1], "round %d: a second container", round)
			final = "B"
		default:
			require.Equal(t, []string{"saw=B", "saw="}, res, "round %d: a second container", round)
			final = "A"
		}
		require.Empty(t, tempFiles(t, dir))
		requireUsable(t, path, final, "after")
	}
}

// TestCreateEmptyFileLocked: an empty file that another open holds locked
// is not replaced: ErrLocked, the file untouched.
func TestCreateEmptyFileLocked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	ino := inode(t, path)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	require.NoError(t, unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB))
	_, err = Open(path, createOpts)
	require.ErrorIs(t, err, ErrLocked)
	require.Equal(t, ino, inode(t, path))
	require.Empty(t, tempFiles(t, dir))
	require.NoError(t, unix.Flock(fd, unix.LOCK_UN))
	requireUsable(t, path, "", "after")
}

// TestCreateEmptyFileChangedMeanwhile: an empty file that is written to
// (or replaced) while Open builds the new file (here: before the format)
// is not replaced: Open starts over with what is at path now, and the data
// there survives.
func TestCreateEmptyFileChangedMeanwhile(t *testing.T) {
	for _, how := range []string{"written", "replaced"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			require.NoError(t, os.WriteFile(path, nil, 0o644))
			content := bytes.Repeat([]byte("someone else's data "), 1000)
			setCreateHook(t, func(s string) error {
				if s != "format" {
					return nil
				}
				createHook = nil
				if how == "written" {
					return os.WriteFile(path, content, 0o644) // truncates and writes the same inode
				}
				other := filepath.Join(dir, "other")
				require.NoError(t, os.WriteFile(other, content, 0o644))
				return os.Rename(other, path)
			})
			// (An empty file is replaced only to make a COW container or a
			// native file; journal mode keeps it in place.)
			f, err := Open(path, createOpts)
			if err == nil {
				_ = f.Close()
			}
			// The file is someone else's now: it is no container, and COW
			// mode refuses to format over it.
			require.ErrorIs(t, err, ErrNotContainer)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, content, got, "the file at path was replaced")
			require.Empty(t, tempFiles(t, dir))
		})
	}
}

// TestCreateLinkFallback: without RENAME_NOREPLACE the link(2) fallback
// publishes a new file and refuses to replace an existing one.
func TestCreateLinkFallback(t *testing.T) {
	forceLinkFallback(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	f, err := Open(path, createOpts)
	require.NoError(t, err)
	writeMarker(t, f, "linked")
	require.NoError(t, f.Close())
	require.Empty(t, tempFiles(t, dir))
	requireUsable(t, path, "linked", "after")

	d, err := blockdev.OpenDir(dir)
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b"), []byte("b"), 0o644))
	require.ErrorIs(t, publishNoReplace(d, "a", "b"), unix.EEXIST)
	for _, n := range []string{"a", "b"} {
		got, err := os.ReadFile(filepath.Join(dir, n))
		require.NoError(t, err)
		require.Equal(t, n, string(got))
	}
}

// TestCreateStaleTemps: creating a file removes the unlocked temporary
// files of its base name and nothing else; Open refuses a path named like
// a temporary file.
func TestCreateStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	stale := ".data.db.untorn-tmp-0123456789abcdef"
	locked := ".data.db.untorn-tmp-fedcba9876543210"
	keep := []string{locked, ".other.untorn-tmp-0123456789abcdef", ".data.db.untorn-tmp-0123456789abcdeg",
		".data.db.untorn-tmp-0123456789abcdef0", "data.db.untorn-tmp-0123456789abcdef"}
	for _, n := range append([]string{stale}, keep...) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("leftover"), 0o644))
	}
	fd, err := unix.Open(filepath.Join(dir, locked), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	require.NoError(t, unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB))

	_, err = Open(filepath.Join(dir, stale), createOpts)
	require.ErrorIs(t, err, ErrInvalid)

	f, err := Open(path, createOpts)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	requireContainer(t, path)
	_, err = os.Stat(filepath.Join(dir, stale))
	require.ErrorIs(t, err, os.ErrNotExist, "the stale temporary file is still there")
	for _, n := range keep {
		got, err := os.ReadFile(filepath.Join(dir, n))
		require.NoError(t, err, n)
		require.Equal(t, "leftover", string(got), n)
	}
}

// TestCreateLongName: a base name near NAME_MAX still gets a temporary
// name that fits.
func TestCreateLongName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, strings.Repeat("n", 250))
	f, err := Open(path, createOpts)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	requireContainer(t, path)
	require.Empty(t, tempFiles(t, dir))
}

// TestCreateConcurrentGoroutinesFree: many goroutines open one new path at
// once: exactly one container, every Open either got it or ErrLocked, and
// the data of the one that wrote survives.
func TestCreateConcurrentGoroutinesFree(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	const n = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrote, bad []string
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			f, err := Open(path, createOpts)
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			if saw := readMarker(t, f); len(wrote) > 0 && saw != wrote[len(wrote)-1] {
				bad = append(bad, fmt.Sprintf("saw %q, the last write was %q", saw, wrote[len(wrote)-1]))
			}
			m := fmt.Sprintf("g%d", i)
			writeMarker(t, f, m)
			wrote = append(wrote, m)
			mu.Unlock()
			errs[i] = f.Close()
		})
	}
	wg.Wait()
	require.Empty(t, bad, "a container was replaced")
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, ErrLocked)
		}
	}
	require.NotEmpty(t, wrote)
	require.Empty(t, tempFiles(t, dir))
	requireUsable(t, path, wrote[len(wrote)-1], "after")
}

// TestCreateThroughSymlink: a symbolic link to an empty file gets the new
// file at its target (the link stays); a dangling one is refused rather
// than replaced.
func TestCreateThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target.db"), filepath.Join(dir, "link.db")
	require.NoError(t, os.WriteFile(target, nil, 0o644))
	require.NoError(t, os.Symlink("target.db", link))
	f, err := Open(link, createOpts)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	st, err := os.Lstat(link)
	require.NoError(t, err)
	require.Equal(t, os.ModeSymlink, st.Mode().Type(), "the link was replaced")
	requireContainer(t, target)
	require.Empty(t, tempFiles(t, dir))

	dangling := filepath.Join(dir, "dangling.db")
	require.NoError(t, os.Symlink("missing.db", dangling))
	_, err = Open(dangling, createOpts)
	require.ErrorIs(t, err, ErrInvalid)
	requireMissing(t, filepath.Join(dir, "missing.db"))
	st, err = os.Lstat(dangling)
	require.NoError(t, err)
	require.Equal(t, os.ModeSymlink, st.Mode().Type())
}
