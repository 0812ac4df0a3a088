package app

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// A resolver's panic goes to the gateway's JSON log with its stack and is
// answered as INTERNAL; gqlgen's default printed it to stderr.
func TestResolverPanicIsLoggedAndInternal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	err := recoverResolver(NewLogger(&buf, "json", "info"))(context.Background(), "boom")
	var gqlErr *gqlerror.Error
	if !errors.As(err, &gqlErr) || gqlErr.Extensions["code"] != "INTERNAL" || gqlErr.Message != "internal error" {
		t.Fatalf("error %#v, want an INTERNAL \"internal error\"", err)
	}
	line := buf.String()
	for _, want := range []string{`"msg":"panic recovered"`, `"in":"resolver"`, `"panic":"boom"`, `"stack":"goroutine`} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %s", line, want)
		}
	}
}
