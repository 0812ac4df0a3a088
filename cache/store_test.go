package cache

import (
	"errors"
	"testing"
	"time"
)

func TestNoop(t *testing.T) {
	t.Parallel()
	var s Store = Noop{}
	ctx := t.Context()

	if err := s.SetMany(ctx, entriesOf([]string{"a", "b"}, time.Minute)); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	got, err := s.GetMany(ctx, []string{"a", "b"})
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("GetMany = %q, %v; want an empty map, nil", got, err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

// Noop keeps the TTL contract so a missing TTL shows up even with caching off.
func TestNoopRequiresTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []Entry
		wantErr bool
	}{
		{"none", nil, false},
		{"with TTL", []Entry{{Key: "a", TTL: time.Second}}, false},
		{"zero TTL", []Entry{{Key: "a", TTL: time.Second}, {Key: "b"}}, true},
		{"negative TTL", []Entry{{Key: "a", TTL: -1}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Noop{}.SetMany(t.Context(), tt.entries)
			if got := errors.Is(err, ErrInvalidEntry); got != tt.wantErr {
				t.Errorf("SetMany err = %v, want ErrInvalidEntry: %v", err, tt.wantErr)
			}
		})
	}
}
