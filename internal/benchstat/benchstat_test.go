package benchstat

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, Percentile(ds, 0.50))
	require.Equal(t, 99*time.Millisecond, Percentile(ds, 0.99))
	require.Equal(t, 100*time.Millisecond, Percentile(ds, 1))
	require.Equal(t, time.Millisecond, Percentile(ds, 0))
	require.Equal(t, time.Duration(0), Percentile(nil, 0.5))
}

func TestMedian(t *testing.T) {
	require.True(t, math.IsNaN(Median(nil)))
	require.Equal(t, 2.0, Median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, Median([]float64{4, 1, 3, 2}))
	require.Equal(t, 2.0, Median([]float64{math.NaN(), 2}), "NaNs are left out")
	require.True(t, math.IsNaN(Median([]float64{math.NaN()})))
}

func TestFileSystem(t *testing.T) {
	require.NotEmpty(t, FileSystem(t.TempDir()))
	require.Equal(t, "unknown", FileSystem("/does/not/exist"))
}
