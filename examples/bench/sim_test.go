package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSimBytesPerByte: on a simulated drive with 16 KiB hardware atomic
// writes, random 16 KiB page writes cost the devices at most 1.05 bytes
// per byte in the hybrid (each page in place, once), against close to 2
// through the journal alone (a record, then home).
func TestSimBytesPerByte(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-sim", "nvme16k", "-size", "32MiB", "-cache", "4MiB", "-ops", "1024", "-workload", "write-16k"}, &bytes.Buffer{})
	require.NoError(t, err)
	w, err := makeWorkload("write-16k", int64(o.size), int64(o.cache), o.ops, o.syncEvery)
	require.NoError(t, err)
	ratio := map[string]float64{}
	for _, c := range simContenders {
		res, err := simRun(o, simProfiles[o.sim], w, c.mode)
		require.NoError(t, err)
		require.EqualValues(t, 1024*16<<10, res.UserBytes)
		ratio[c.name] = res.Ratio
		t.Logf("%s: %+v", c.name, res)
	}
	require.LessOrEqual(t, ratio["hybrid"], 1.05)
	require.Greater(t, ratio["journal-only"], 1.6)

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), o, &out, &bytes.Buffer{}))
	require.Contains(t, out.String(), "device bytes / user byte")
	require.Contains(t, out.String(), "journal-only")

	o.sim = "nonesuch"
	require.ErrorIs(t, run(context.Background(), o, &out, &bytes.Buffer{}), errBadFlag)
}
