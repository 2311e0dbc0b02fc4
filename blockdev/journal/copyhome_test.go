package journal

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/untorn/untorn/blockdev"
)

// TestCopyHoldsOneSharedBuffer: a checkpoint's copy holds at most one of
// the buffers every journal of the process shares (its pipeline's second
// buffer comes from a pool of its own, and only when free), so a copy
// whose home writes wait for another journal's checkpoint (as a crash
// test's callback does, recovering an image inside a device operation)
// cannot take the buffer that checkpoint needs. Here all but two shared
// buffers are taken; journal A's copy takes one and waits in its first
// home write until journal B's checkpoint, which needs the last one, has
// returned. Copies that took their second buffer from the shared pool
// left B waiting for ever (a long SQLite crash campaign hung this way).
// Not parallel: it holds the process's buffers.
func TestCopyHoldsOneSharedBuffer(t *testing.T) {
	held := make([][]byte, 0, maxCkptBufs-2)
	for range maxCkptBufs - 2 {
		held = append(held, ckptBufs.get())
	}
	defer func() {
		for _, b := range held {
			ckptBufs.put(b)
		}
	}()
	opts := testOptions(64)
	opts.QueueDepth = 4
	commit := func(r *rig, fill byte) {
		pieces := []blockdev.Piece{
			{Off: 0, Data: bytes.Repeat([]byte{fill}, 4*testBS)},
			{Off: 16 * testBS, Data: bytes.Repeat([]byte{fill + 1}, 2*testBS)},
		}
		require.NoError(t, r.d.CommitSized(pieces, r.d.FileSize(), 64*testBS, 0))
		require.NoError(t, r.d.Flush())
	}
	a, b := newRig(t, 64*testBS, opts), newRig(t, 64*testBS, opts)
	commit(a, 1)
	commit(b, 7)

	bDone := make(chan struct{})
	aWaiting := make(chan struct{})
	var once sync.Once
	a.fd.SetInjector(blockdev.InjectorFunc(func(op blockdev.Op) error {
		if op.Kind == blockdev.OpWrite {
			once.Do(func() { close(aWaiting) })
			<-bDone
		}
		return nil
	}))
	aErr := make(chan error, 1)
	go func() { aErr <- a.d.Checkpoint() }()
	select {
	case <-aWaiting:
	case err := <-aErr:
		t.Fatalf("journal A's checkpoint returned (%v) without a home write", err)
	}

	bErr := make(chan error, 1)
	go func() { bErr <- b.d.Checkpoint() }()
	select {
	case err := <-bErr:
		require.NoError(t, err, "journal B's checkpoint")
	case <-time.After(20 * time.Second):
		close(bDone) // lets A go on, then B gets A's buffer
		<-aErr
		<-bErr
		t.Fatal("journal B's checkpoint waited for a buffer journal A's copy held as its second")
	}
	close(bDone)
	require.NoError(t, <-aErr, "journal A's checkpoint")
	got := make([]byte, testBS)
	_, err := a.data.ReadAt(got, 16*testBS)
	require.NoError(t, err)
	require.Equal(t, bytes.Repeat([]byte{2}, testBS), got, "A's images went home")
	require.NoError(t, a.d.Close())
	require.NoError(t, b.d.Close())
}
