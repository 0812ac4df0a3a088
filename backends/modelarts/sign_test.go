package modelarts_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

// The two official vectors of huaweicloud-sdk-go-v3 core/auth/signer/signer_test.go
// (upstreams.md B.3.2): AK "AccessKey", SK "SecretKey", host example.huaweicloud.com.
func TestSignerOfficialVectors(t *testing.T) {
	t.Parallel()
	postBody := []byte("{\"Name\":\"test\",\"Id\":1}\n") // json.Encoder output: trailing newline
	postHash := sha256.Sum256(postBody)
	tests := []struct {
		name, method, url string
		body              []byte
		contentType       string
		canonical         string
		canonicalHash     string // empty: not published for this vector
		authorization     string
	}{
		{
			name: "GET with query", method: http.MethodGet, url: "https://example.huaweicloud.com/path?limit=1",
			canonical:     "GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			canonicalHash: "85c3b7730f308aee452b16138a42a914397e43a8f0d732dfa521c0ef2afa98a4",
			authorization: "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
		},
		{
			name: "POST JSON body", method: http.MethodPost, url: "https://example.huaweicloud.com/path?key=value",
			body: postBody, contentType: "application/json",
			canonical:     "POST\n/path/\nkey=value\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n" + hex.EncodeToString(postHash[:]),
			authorization: "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59",
		},
	}
	now := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), tc.method, tc.url, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header["TEST_UNDERSCORE"] = []string{"TEST_VALUE"} // names with '_' are never signed
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType) // never signed
			}
			if err := modelarts.Sign(req, tc.body, "AccessKey", "SecretKey", now); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("X-Sdk-Date"); got != "20060102T150405Z" {
				t.Errorf("X-Sdk-Date = %q", got)
			}
			if got := req.Header.Get("Authorization"); got != tc.authorization {
				t.Errorf("Authorization\n got %s\nwant %s", got, tc.authorization)
			}

			// The same result step by step through the exported pieces.
			cr := modelarts.CanonicalRequest(req, []string{"x-sdk-date"}, modelarts.BodyHash(req.Header, tc.body))
			if cr != tc.canonical {
				t.Errorf("canonical request\n got %q\nwant %q", cr, tc.canonical)
			}
			if tc.canonicalHash != "" {
				sum := sha256.Sum256([]byte(cr))
				if got := hex.EncodeToString(sum[:]); got != tc.canonicalHash {
					t.Errorf("canonical request hash = %s, want %s", got, tc.canonicalHash)
				}
				wantSTS := "SDK-HMAC-SHA256\n20060102T150405Z\n" + tc.canonicalHash
				if got := modelarts.StringToSign(cr, "20060102T150405Z"); got != wantSTS {
					t.Errorf("string to sign = %q, want %q", got, wantSTS)
				}
			}
			a, err := modelarts.ParseAuthorization(tc.authorization)
			if err != nil {
				t.Fatal(err)
			}
			if got := modelarts.Signature(modelarts.StringToSign(cr, "20060102T150405Z"), "SecretKey"); got != a.Signature {
				t.Errorf("Signature = %s, want %s", got, a.Signature)
			}
		})
	}
}

func TestCanonicalRequestDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		header    http.Header
		signed    []string
		want      string
	}{
		{
			name:   "escaped segments, sorted multi-valued query, explicit host",
			url:    "http://127.0.0.1:9402/gw/v2/p1/pools/a%20b%2Fc/nodes?limit=3&continue=x%2By&B=2&B=1",
			header: http.Header{"Host": {"127.0.0.1:9402"}, "X-Project-Id": {" p1 "}, "X-Sdk-Date": {"20240101T000000Z"}},
			signed: []string{"host", "x-project-id", "x-sdk-date"},
			want: "GET\n/gw/v2/p1/pools/a%20b%2Fc/nodes/\nb=1&b=2&continue=x%2By&limit=3\n" +
				"host:127.0.0.1:9402\nx-project-id:p1\nx-sdk-date:20240101T000000Z\n\nhost;x-project-id;x-sdk-date\nHASH",
		},
		{
			name:   "host from the request when not in the header map (server side)",
			url:    "http://sim.local/v2/p1/pools",
			header: http.Header{"X-Sdk-Date": {"20240101T000000Z"}},
			signed: []string{"host", "x-sdk-date"},
			want:   "GET\n/v2/p1/pools/\n\nhost:sim.local\nx-sdk-date:20240101T000000Z\n\nhost;x-sdk-date\nHASH",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tc.header
			if got := modelarts.CanonicalRequest(req, tc.signed, "HASH"); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseAuthorizationRejects(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		"",
		"Bearer abc",
		"SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date",
		"SDK-HMAC-SHA256 Access=AK, Signature=abc",
		"SDK-HMAC-SHA256 garbage",
	} {
		if _, err := modelarts.ParseAuthorization(v); err == nil {
			t.Errorf("ParseAuthorization(%q) accepted", v)
		}
	}
}
