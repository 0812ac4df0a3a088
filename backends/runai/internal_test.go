package runai

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestRefreshTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	unix := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	tests := []struct {
		name string
		tok  string
		want time.Time
	}{
		{"exp in an hour: 60s before", jwt(`{"exp":` + unix(time.Hour) + `}`), now.Add(59 * time.Minute)},
		{"fractional exp", jwt(`{"exp":` + unix(time.Hour) + `.5}`), now.Add(59*time.Minute + 500*time.Millisecond)},
		{"iat and exp: lifetime from the token, not the local clock", jwt(`{"iat":` + unix(-2*time.Hour) + `,"exp":` + unix(-time.Hour) + `}`), now.Add(59 * time.Minute)},
		{"short-lived: half-life", jwt(`{"exp":` + unix(80*time.Second) + `}`), now.Add(40 * time.Second)},
		{"already expired: use once", jwt(`{"exp":` + unix(-time.Minute) + `}`), now},
		{"no exp: five minutes", jwt(`{"sub":"x"}`), now.Add(5 * time.Minute)},
		{"opaque token: five minutes", "opaque-token", now.Add(5 * time.Minute)},
		{"bad base64: five minutes", "a.%%%.c", now.Add(5 * time.Minute)},
		{"padded payload", base64.URLEncoding.EncodeToString([]byte(`{}`)) + "." + base64.URLEncoding.EncodeToString([]byte(`{"exp":`+unix(time.Hour)+`}`)) + ".x", now.Add(59 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := refreshTime(tt.tok, now); !got.Equal(tt.want) {
				t.Fatalf("refresh at %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseVendorTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2023, 6, 6, 12, 9, 18, 211e6, time.UTC)
	for _, s := range []string{"2023-06-06T12:09:18.211Z", "2023-06-06 12:09:18.211", "2023-06-06T14:09:18.211+02:00", "2023-06-06 12:09:18.211Z"} {
		got, err := parseVendorTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseVendorTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := parseVendorTime("06/06/2023"); err == nil {
		t.Error("parseVendorTime accepted 06/06/2023")
	}
}

// A listed node's timestamps are read leniently whichever decoder reads the
// node (jsonx on the listing path): the examples' space-separated form, an
// escaped string, and garbage or null as the zero time, never a failed
// listing; the other fields as sent.
func TestNodeTimestampsLenient(t *testing.T) {
	t.Parallel()
	want := time.Date(2023, 6, 6, 12, 9, 18, 211e6, time.UTC)
	for _, created := range []string{`"2023-06-06 12:09:18.211"`, `"2023-06-06T12:09:18.211Z"`, `"2023-06-06T12:09:18.211\u005a"`} {
		for _, updated := range []string{`"yesterday"`, `null`, `""`, `17`} {
			var n Node
			data := `{"id":"u1","name":"n1","clusterUuid":"c1","status":"Ready","gpuInfo":{"gpuType":"A100","gpuCount":8},"createdAt":` + created + `,"updatedAt":` + updated + `}`
			if err := n.UnmarshalJSON([]byte(data)); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			if !n.CreatedAt.Equal(want) || !n.UpdatedAt.IsZero() || n.Name != "n1" || n.ID != "u1" || n.GPUInfo == nil || n.GPUInfo.GPUCount != 8 {
				t.Errorf("%s: got %+v", data, n)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"-3", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestExpandEscapes(t *testing.T) {
	t.Parallel()
	got := expand("/api/v1/clusters/{clusterUuid}/nodepools/{nodepoolName}/metrics", []string{"c-1", "a b/c?d"})
	if want := "/api/v1/clusters/c-1/nodepools/a%20b%2Fc%3Fd/metrics"; got != want {
		t.Fatalf("expand = %q, want %q", got, want)
	}
}

func TestParseLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want map[string]string
	}{
		{`{"gpu":"3"}`, map[string]string{"gpu": "3"}},
		{`"{'gpu': '3'}"`, map[string]string{"gpu": "3"}},
		{`null`, nil},
		{`42`, nil},
		{`{"gpu":3,"node":{"a":1},"x":null}`, map[string]string{"gpu": "3"}},
	}
	for _, tt := range tests {
		got := parseLabels([]byte(tt.raw))
		if len(got) != len(tt.want) || got["gpu"] != tt.want["gpu"] {
			t.Errorf("parseLabels(%s) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}
