package pagecache

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// check verifies the arena: free blocks labelled, aligned and below the
// limit, withheld blocks at or beyond it, and free, withheld and used
// memory adding up to the size.
func (a *arena) check() error {
	var free, held int64
	for k, h := range a.freeHead {
		for q := h; q >= 0; q = a.next[q] {
			if a.freeOrd[q] != int8(k+1) || int(q)%(1<<k) != 0 {
				return fmt.Errorf("free block at page %d order %d mislabelled", q, k)
			}
			if q+1<<k > a.limit {
				return fmt.Errorf("free block at page %d order %d reaches beyond the limit %d", q, k, a.limit)
			}
			free += PageSize << k
		}
	}
	for _, b := range a.withheld {
		if b.p < a.limit || a.freeOrd[b.p] != 0 || int(b.p)%(1<<b.k) != 0 {
			return fmt.Errorf("withheld block at page %d order %d (limit %d)", b.p, b.k, a.limit)
		}
		held += PageSize << b.k
	}
	if free+held+a.used != a.size() {
		return fmt.Errorf("free %d + withheld %d + used %d != size %d", free, held, a.used, a.size())
	}
	return nil
}

// TestArenaLimitModel: random allocations, frees and limit changes; the
// arena never hands out a page twice or one at or beyond its limit, and
// its free, withheld and used memory always add up.
func TestArenaLimitModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pages := rapid.IntRange(1, 700).Draw(t, "pages")
		a, err := newArenaOrder(int64(pages)*PageSize, false, maxOrder)
		if err != nil {
			t.Fatal(err)
		}
		defer a.unmap()
		owner := make([]int, pages) // allocation number + 1 per page
		type alloc struct {
			p int32
			k int
		}
		var live []alloc
		n := 0
		t.Repeat(map[string]func(*rapid.T){
			"alloc": func(t *rapid.T) {
				k := rapid.IntRange(0, maxOrder).Draw(t, "order")
				p, ok := a.alloc(k)
				if !ok {
					return
				}
				n++
				for i := p; i < p+1<<k; i++ {
					if i >= a.limit || owner[i] != 0 {
						t.Fatalf("page %d handed out (limit %d, owner %d)", i, a.limit, owner[i])
					}
					owner[i] = n
				}
				live = append(live, alloc{p, k})
			},
			"free": func(t *rapid.T) {
				if len(live) == 0 {
					t.Skip("nothing allocated")
				}
				i := rapid.IntRange(0, len(live)-1).Draw(t, "i")
				b := live[i]
				live = append(live[:i], live[i+1:]...)
				for q := b.p; q < b.p+1<<b.k; q++ {
					owner[q] = 0
				}
				for _, w := range a.free(b.p, b.k) {
					if w.p < a.limit {
						t.Fatalf("block at %d withheld below the limit %d", w.p, a.limit)
					}
				}
			},
			"limit": func(t *rapid.T) {
				a.setLimit(int32(rapid.IntRange(0, pages).Draw(t, "limit")))
			},
			"": func(t *rapid.T) {
				if err := a.check(); err != nil {
					t.Fatal(err)
				}
			},
		})
		a.setLimit(a.npages)
		for _, b := range live {
			a.free(b.p, b.k)
		}
		if err := a.check(); err != nil || a.used != 0 || len(a.withheld) != 0 {
			t.Fatalf("after freeing all at full limit: %v, used %d, withheld %d", err, a.used, len(a.withheld))
		}
		if _, ok := a.alloc(a.topOrder); !ok {
			t.Fatalf("the largest block does not fit once everything is free")
		}
	})
}
