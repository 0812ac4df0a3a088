package cache

import (
	"testing"
	"time"
)

func TestLocalKeepsUntilFreshnessAndAtMostMaxAge(t *testing.T) {
	l := newLocal(1<<20, 5*time.Second)
	now := int64(1_000_000)
	l.put("short", "a", 10, now+2000, now) // fresh for 2s in Redis
	l.put("long", "b", 10, now+60000, now) // fresh for 60s: capped at 5s
	for _, c := range []struct {
		key  string
		at   int64
		want bool
	}{
		{"short", now + 1999, true}, {"short", now + 2000, false},
		{"long", now + 4999, true}, {"long", now + 5000, false},
		{"absent", now, false},
	} {
		if _, ok := l.get(c.key, c.at); ok != c.want {
			t.Errorf("get(%s) at +%dms: found %v, want %v", c.key, c.at-now, ok, c.want)
		}
	}
}

func TestLocalStaysWithinItsBudget(t *testing.T) {
	l := newLocal(1000, time.Minute)
	now := int64(1_000_000)
	for i := range 100 {
		l.put(string(rune('a'+i%26))+string(rune('0'+i/26)), i, 100, now+10000, now)
		if l.bytes > l.maxBytes {
			t.Fatalf("after %d puts: %d bytes held, budget %d", i+1, l.bytes, l.maxBytes)
		}
	}
	sum := 0
	for _, e := range l.entries {
		sum += e.size
	}
	if sum != l.bytes || len(l.entries) == 0 {
		t.Fatalf("accounting: %d entries of %d bytes, counter says %d", len(l.entries), sum, l.bytes)
	}
	// A value bigger than an eighth of the budget is not kept at all.
	l.put("huge", "x", 200, now+10000, now)
	if _, ok := l.get("huge", now); ok {
		t.Fatal("a value over an eighth of the budget was kept")
	}
}
