package pagecache

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var errDevice = errors.New("simulated device error")

// cacheModel drives a Cache against a file model: content is what reads must return,
// device what the device holds (written by successful writebacks only).
type cacheModel struct {
	c           *Cache
	content     []byte
	device      []byte
	outstanding []modelWriteback
}

type modelWriteback struct {
	wb   Writeback
	snap []byte
}

const (
	modelFileSize = 512 << 10
	modelBudget   = 128 << 10
)

func expiredContext() context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	cancel()
	return ctx
}

func (m *cacheModel) fill(off int64, buf []byte) error {
	copy(buf, m.device[off:])
	return nil
}

func (m *cacheModel) write(t *rapid.T) {
	n := rapid.IntRange(1, 48<<10).Draw(t, "n")
	off := rapid.Int64Range(0, int64(modelFileSize-n)).Draw(t, "off")
	if rapid.Bool().Draw(t, "aligned") {
		off = floorPage(off)
	}
	p := make([]byte, n)
	b := byte(rapid.IntRange(1, 255).Draw(t, "byte"))
	for i := range p {
		p[i] = b + byte(i/PageSize)
	}
	got, err := m.c.Write(expiredContext(), p, off, m.fill)
	if err != nil {
		if !errors.Is(err, ErrNoMemory) {
			t.Fatalf("write %d at %d: %v", n, off, err)
		}
		return // nothing changed: the next reads and checks verify it
	}
	if got != n {
		t.Fatalf("write %d at %d returned %d", n, off, got)
	}
	copy(m.content[off:], p)
}

func (m *cacheModel) read(t *rapid.T) {
	n := rapid.IntRange(1, 64<<10).Draw(t, "n")
	off := rapid.Int64Range(0, int64(modelFileSize-n)).Draw(t, "off")
	fill := rapid.Bool().Draw(t, "fill")
	p := make([]byte, n)
	for k := 0; k < n; {
		got, gap, err := m.c.Read(p[k:], off+int64(k))
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		k += got
		if k == n {
			break
		}
		pos := off + int64(k)
		if gap.Off != floorPage(pos) || gap.Len <= 0 || gap.Off%PageSize != 0 || gap.Len%PageSize != 0 {
			t.Fatalf("read at %d: bad gap %+v", pos, gap)
		}
		// Nothing missing from the cache may be newer than the device.
		if !bytes.Equal(m.device[gap.Off:gap.End()], m.content[gap.Off:gap.End()]) {
			t.Fatalf("gap %+v is dirty data missing from the cache", gap)
		}
		if fill {
			if err := m.c.Fill(gap.Off, m.device[gap.Off:gap.End()]); err != nil && !errors.Is(err, ErrNoMemory) {
				t.Fatalf("fill: %v", err)
			}
		}
		k += copy(p[k:], m.device[pos:gap.End()])
	}
	if !bytes.Equal(p, m.content[off:off+int64(n)]) {
		t.Fatalf("read %d at %d differs from the model", n, off)
	}
}

func (m *cacheModel) startWriteback(t *rapid.T) {
	var refs []FolioRef
	m.c.AscendDirty(0, modelFileSize, func(r FolioRef) bool {
		refs = append(refs, r)
		return true
	})
	if len(refs) == 0 {
		t.Skip("nothing dirty")
	}
	ref := refs[rapid.IntRange(0, len(refs)-1).Draw(t, "i")]
	for _, o := range m.outstanding {
		if o.wb.Off < ref.Off+int64(ref.Size) && ref.Off < o.wb.Off+int64(len(o.wb.Data)) {
			t.Skip("overlaps a writeback in flight") // the engine's ordering rule
		}
	}
	wb, err := m.c.StartWriteback(ref.Off)
	if err != nil {
		t.Fatalf("start writeback %+v: %v", ref, err)
	}
	if wb.Off != ref.Off || len(wb.Data) != ref.Size || wb.Gen != ref.Gen {
		t.Fatalf("writeback %d/%d/%d for %+v", wb.Off, len(wb.Data), wb.Gen, ref)
	}
	m.outstanding = append(m.outstanding, modelWriteback{wb: wb, snap: bytes.Clone(wb.Data)})
}

func (m *cacheModel) endWriteback(t *rapid.T, fail bool) {
	if len(m.outstanding) == 0 {
		t.Skip("no writeback in flight")
	}
	i := rapid.IntRange(0, len(m.outstanding)-1).Draw(t, "i")
	o := m.outstanding[i]
	m.outstanding = append(m.outstanding[:i], m.outstanding[i+1:]...)
	if !bytes.Equal(o.wb.Data, o.snap) {
		t.Fatalf("writeback view at %d changed while in flight", o.wb.Off)
	}
	var err error
	if fail {
		err = errDevice
	} else {
		copy(m.device[o.wb.Off:], o.wb.Data)
	}
	if e := m.c.EndWriteback(o.wb, err); e != nil {
		t.Fatalf("end writeback: %v", e)
	}
	if e := m.c.EndWriteback(o.wb, err); !errors.Is(e, ErrInvalid) {
		t.Fatalf("second end writeback: %v", e)
	}
}

func (m *cacheModel) check(t *rapid.T) {
	if err := m.c.checkInvariants(true); err != nil {
		t.Fatal(err)
	}
	if used := m.c.Used(); used > modelBudget {
		t.Fatalf("used %d > budget %d", used, modelBudget)
	}
	for p := int64(0); p < modelFileSize; p += PageSize {
		ref, ok := m.c.Lookup(p)
		if !bytes.Equal(m.content[p:p+PageSize], m.device[p:p+PageSize]) && (!ok || !ref.Dirty) {
			t.Fatalf("page %d holds unwritten data but is not dirty in the cache (%+v, %v)", p, ref, ok)
		}
		if ok && ref.Uptodate {
			f := &m.c.folios[m.c.mustLookup(p)]
			if !bytes.Equal(m.c.bytesOf(f)[p-f.off:][:PageSize], m.content[p:p+PageSize]) {
				t.Fatalf("cached page %d differs from the model", p)
			}
		}
	}
}

func (c *Cache) mustLookup(off int64) int32 {
	s := c.shardOf(off)
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, _ := s.lookupLocked(off)
	return id
}

func TestCacheModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c, err := New(Config{Budget: modelBudget, HardDirty: modelBudget})
		if err != nil {
			t.Fatal(err)
		}
		m := &cacheModel{c: c, content: make([]byte, modelFileSize), device: make([]byte, modelFileSize)}
		defer func() {
			for _, o := range m.outstanding {
				_ = c.EndWriteback(o.wb, errDevice)
			}
			m.check(t)
			_ = c.Close()
		}()
		t.Repeat(map[string]func(*rapid.T){
			"write":           m.write,
			"read":            m.read,
			"startWriteback":  m.startWriteback,
			"endWritebackOK":  func(t *rapid.T) { m.endWriteback(t, false) },
			"endWritebackErr": func(t *rapid.T) { m.endWriteback(t, true) },
			"reclaim": func(t *rapid.T) {
				m.c.Reclaim(rapid.Int64Range(0, modelBudget).Draw(t, "bytes"))
			},
			"fill": func(t *rapid.T) {
				off := floorPage(rapid.Int64Range(0, modelFileSize-PageSize).Draw(t, "off"))
				n := min(int64(rapid.IntRange(1, 16).Draw(t, "pages"))*PageSize, modelFileSize-off)
				if err := m.c.Fill(off, m.device[off:off+n]); err != nil && !errors.Is(err, ErrNoMemory) {
					t.Fatalf("fill: %v", err)
				}
			},
			"": m.check,
		})
	})
}
