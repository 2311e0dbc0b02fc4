package extent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTouch(t *testing.T) {
	s := New()
	a, err := s.Add(0, 4096)
	require.NoError(t, err)
	b, err := s.Add(8192, 16384)
	require.NoError(t, err)
	checkInvariants(t, s)

	got, ok := s.Get(10000)
	require.True(t, ok)
	require.Equal(t, b, got)
	nb, ok := s.Touch(got)
	require.True(t, ok)
	assert.Equal(t, b.Off, nb.Off)
	assert.Equal(t, b.End, nb.End)
	assert.Greater(t, nb.Gen, b.Gen, "a new generation")
	assert.False(t, s.Remove(b), "the old generation is stale")
	cur, _ := s.Get(8192)
	assert.Equal(t, nb, cur)
	assert.EqualValues(t, 4096+8192, s.Bytes())
	checkInvariants(t, s)

	for _, stale := range []Range{
		b,                                    // old generation
		{Off: 8192, End: 12288, Gen: nb.Gen}, // other bounds, overlapping
		{Off: 4096, End: 8192, Gen: 1},       // in a gap
		{Off: 0, End: 16384, Gen: a.Gen},     // overlapping both
		{Off: 5, End: 2},                     // invalid
	} {
		_, ok := s.Touch(stale)
		assert.False(t, ok, "%+v", stale)
		checkInvariants(t, s)
		assert.Equal(t, 2, s.Len())
		assert.EqualValues(t, 4096+8192, s.Bytes())
		cur, _ := s.Get(0)
		assert.Equal(t, a, cur, "unchanged after %+v", stale)
		cur, _ = s.Get(8192)
		assert.Equal(t, nb, cur, "unchanged after %+v", stale)
	}
	// Generations stay unique: the next Add gets a fresh one.
	c, err := s.Add(20000, 20001)
	require.NoError(t, err)
	assert.Greater(t, c.Gen, nb.Gen)
}
