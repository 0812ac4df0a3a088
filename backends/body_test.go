package backends

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		body    string
		limit   int64
		want    string
		tooLong bool
	}{
		{"empty", "", 4, "", false},
		{"under", "abc", 4, "abc", false},
		{"at the limit", "abcd", 4, "abcd", false},
		{"over", "abcde", 4, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadBody(strings.NewReader(tc.body), tc.limit)
			if tc.tooLong {
				if !errors.Is(err, ErrBodyTooLarge) || got != nil {
					t.Fatalf("ReadBody = %q, %v; want ErrBodyTooLarge", got, err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("ReadBody = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	boom := errors.New("reset")
	if _, err := ReadBody(io.MultiReader(strings.NewReader("ab"), errReader{boom}), 10); !errors.Is(err, boom) {
		t.Fatalf("a read error came back as %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// countingBody records how much was read and whether it was closed.
type countingBody struct {
	left   int
	read   int
	closed bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.left)
	b.left -= n
	b.read += n
	return n, nil
}

func (b *countingBody) Close() error { b.closed = true; return nil }

func TestDrainBody(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 10, MaxDrain, 10 * MaxDrain} {
		b := &countingBody{left: size}
		DrainBody(&http.Response{Body: b})
		if !b.closed {
			t.Errorf("size %d: body not closed", size)
		}
		if want := min(size, MaxDrain); b.read != want {
			t.Errorf("size %d: read %d bytes, want %d", size, b.read, want)
		}
	}
	DrainBody(nil)                       // no panic
	DrainBody(&http.Response{Body: nil}) // no panic
}

// ReadResponseBody reads what ReadBody reads, whatever the Content-Length
// says: exact, short of the body, absent, past the limit.
func TestReadResponseBody(t *testing.T) {
	body := strings.Repeat("x", 100)
	for _, cl := range []int64{100, 40, -1, 0} {
		resp := &http.Response{ContentLength: cl, Body: io.NopCloser(strings.NewReader(body))}
		got, err := ReadResponseBody(resp, 1000)
		if err != nil || string(got) != body {
			t.Errorf("Content-Length %d: %d bytes, %v", cl, len(got), err)
		}
		resp = &http.Response{ContentLength: cl, Body: io.NopCloser(strings.NewReader(body))}
		if _, err := ReadResponseBody(resp, 99); !errors.Is(err, ErrBodyTooLarge) {
			t.Errorf("Content-Length %d, limit 99: %v, want ErrBodyTooLarge", cl, err)
		}
	}
	// A body one byte longer than announced, and than the limit.
	resp := &http.Response{ContentLength: 99, Body: io.NopCloser(strings.NewReader(body))}
	if _, err := ReadResponseBody(resp, 99); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("Content-Length 99 of 100 bytes, limit 99: %v, want ErrBodyTooLarge", err)
	}
	resp = &http.Response{ContentLength: 99, Body: io.NopCloser(strings.NewReader(body))}
	if got, err := ReadResponseBody(resp, 100); err != nil || string(got) != body {
		t.Errorf("Content-Length 99 of 100 bytes, limit 100: %d bytes, %v", len(got), err)
	}
}
