package fleet

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClipBoundsAndEscapes(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "ok", "a\x00b\r\n\u202e", strings.Repeat("a", 50_000), strings.Repeat("é", 1000)} {
		got := Clip(in)
		if len(got) > 4*maxQuoted+32 || !utf8.ValidString(got) || strings.ContainsAny(got, "\x00\r\n\u202e") {
			t.Errorf("Clip(%.20q...) = %.100q (%d bytes)", in, got, len(got))
		}
	}
}
