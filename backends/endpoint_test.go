package backends

import (
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want, err string }{
		{"https://ma.example/base/", "https://ma.example/base", ""},
		{"http://127.0.0.1:9402", "http://127.0.0.1:9402", ""},
		{"", "", "required"},
		{"ma.example", "", "is not an absolute http(s) URL"},
		{"ftp://ma.example", "", "is not an absolute http(s) URL"},
		{"https://ma.example/?x=1", "", "must not carry"},
		{"https://ma.example/#f", "", "must not carry"},
		{"https://user:hunter2@ma.example", "", "must not carry"},
		{"https://user:hunter2@ma.example:port%zz", "", "invalid"},
	} {
		u, err := ParseEndpoint(tt.in)
		switch {
		case tt.err == "" && (err != nil || u.String() != tt.want):
			t.Errorf("%q: %v, %v; want %s", tt.in, u, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: error %v, want one saying %q", tt.in, err, tt.err)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%q: the error %q gives the password away", tt.in, err)
		}
	}
}
