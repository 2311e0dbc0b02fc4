package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmoke runs the whole command with tiny sizes and checks that every
// workload has a row with a positive rate for every contender, and that
// the runs cleaned up after themselves.
func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	o, err := parseFlags([]string{"-txs", "20", "-ops", "200", "-runs", "1", "-accounts", "200",
		"-mixed-db", "1", "-dir", dir}, io.Discard)
	require.NoError(t, err)
	var out, progress bytes.Buffer
	require.NoError(t, run(context.Background(), o, &out, &progress), "output:\n%s\nprogress:\n%s", out.String(), progress.String())
	text := out.String()
	t.Log("\n" + text)

	for _, h := range []string{"date", "kernel", "CPUs", "dir", "Notes:", "write_bytes", "incl. close"} {
		require.Contains(t, text, h)
	}
	sections := workloadSections(text)
	require.Len(t, sections, len(workloadNames), "one table per workload")
	for _, w := range workloadNames {
		sec, ok := sections[w]
		require.True(t, ok, "no table for %s", w)
		for _, c := range contenderNames {
			rate, ok := rowRate(sec, c)
			require.True(t, ok, "%s: no row for %s in\n%s", w, c, sec)
			require.Positive(t, rate, "%s/%s", w, c)
		}
		require.Contains(t, sec, "untorn VFS: 1.00 batches/tx", "%s: a small transaction is one batch", w)
		require.Contains(t, sec, "untorn-cow VFS: 1.00 batches/tx", "%s: a small transaction is one batch", w)
		require.Contains(t, sec, "untorn / untorn-cow:")
		require.Contains(t, sec, "untorn / delete-full:")
		require.Contains(t, sec, "untorn / wal-full:")
		require.NotContains(t, sec, "FAILED")
	}
	require.Contains(t, sections["bank"], "target >= 3x delete-full")
	require.Contains(t, sections["mixed"], "within 10% of the best")

	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left, "runs remove their directories")
}

// workloadSections splits the report at its "== name:" lines.
func workloadSections(text string) map[string]string {
	out := map[string]string{}
	parts := strings.Split(text, "\n== ")
	for _, p := range parts[1:] {
		name, _, _ := strings.Cut(p, ":")
		out[name] = p
	}
	return out
}

// rowRate finds the table row of contender in sec and returns its rate.
func rowRate(sec, contender string) (float64, bool) {
	for _, line := range strings.Split(sec, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.TrimSuffix(f[0], "*") != contender {
			continue
		}
		rate, err := strconv.ParseFloat(f[1], 64)
		return rate, err == nil
	}
	return 0, false
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-txs", "0"},
		{"-ops", "-1"},
		{"-runs", "0"},
		{"-accounts", "1"},
		{"-mixed-db", "0"},
		{"-mixed-db", "1000000"},
		{"-workloads", "bank,nosuch"},
		{"-contenders", ""},
		{"-dir", ""},
		{"-txs", "many"},
		{"-nosuchflag"},
		{"extra"},
	} {
		_, err := parseFlags(args, io.Discard)
		require.Error(t, err, "%q", args)
	}
	o, err := parseFlags([]string{"-workloads", " mixed , bank", "-contenders", "untorn"}, io.Discard)
	require.NoError(t, err)
	w, err := pick(o.workloads, workloadNames)
	require.NoError(t, err)
	require.Equal(t, []string{"bank", "mixed"}, w, "workloads run in their own order")

	// A -dir that is a file fails before anything runs.
	f := t.TempDir() + "/file"
	require.NoError(t, os.WriteFile(f, nil, 0o600))
	o, err = parseFlags([]string{"-dir", f}, io.Discard)
	require.NoError(t, err)
	require.ErrorIs(t, run(context.Background(), o, io.Discard, io.Discard), errBadFlag)
}

func TestParseProcIO(t *testing.T) {
	p, err := parseProcIO([]byte("rchar: 1\nwchar: 200\nsyscr: 3\nsyscw: 4\nread_bytes: 5\nwrite_bytes: 4096\ncancelled_write_bytes: 0\n"))
	require.NoError(t, err)
	require.Equal(t, procIO{WriteBytes: 4096, WChar: 200}, p)
	_, err = parseProcIO([]byte("rchar: 1\n"))
	require.ErrorIs(t, err, errNoCounters)
	_, err = parseProcIO([]byte("wchar: x\nwrite_bytes: 1\n"))
	require.Error(t, err)
}
