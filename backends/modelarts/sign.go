package modelarts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AK/SK request signing, algorithm SDK-HMAC-SHA256, as implemented by the
// official Go SDK (huaweicloud-sdk-go-v3 core/auth/signer) and checked
// against its test vectors (see sign_test.go).
const (
	// SignAlgorithm is the scheme word of the Authorization header.
	SignAlgorithm = "SDK-HMAC-SHA256"
	// SdkDateLayout is the Go layout of the X-Sdk-Date header.
	SdkDateLayout = "20060102T150405Z"
	// HeaderSdkDate carries the signing time; it is always a signed header.
	HeaderSdkDate = "X-Sdk-Date"
	// HeaderContentSha256 replaces the body hash when present (the SDK sends
	// UNSIGNED-PAYLOAD for bodies that are neither JSON nor BSON).
	HeaderContentSha256 = "X-Sdk-Content-Sha256"
	// UnsignedPayload is the X-Sdk-Content-Sha256 value for an unhashed body.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
)

// Sign signs req for API Gateway: it sets X-Sdk-Date from now and the
// Authorization header. body must be the exact bytes req will send (nil for
// none).
//
// Signed headers follow the Go SDK: every header present in req.Header,
// lower-cased and sorted, except Content-Type* (proxies rewrite it), names
// containing '_' (gateways drop them) and Authorization itself. Go keeps the
// Host of a request out of req.Header; to sign it, set req.Header "Host"
// explicitly (the Client does; net/http never sends that map entry, it uses
// req.Host). Headers set after Sign are not signed.
func Sign(req *http.Request, body []byte, ak, sk string, now time.Time) error {
	if ak == "" || sk == "" {
		return errors.New("modelarts: AK/SK signing needs both an access key and a secret key")
	}
	date := now.UTC().Format(SdkDateLayout)
	req.Header.Set(HeaderSdkDate, date)
	signed := signedHeaders(req.Header)
	cr := CanonicalRequest(req, signed, BodyHash(req.Header, body))
	sig := Signature(StringToSign(cr, date), sk)
	req.Header.Set("Authorization", fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
		SignAlgorithm, ak, strings.Join(signed, ";"), sig))
	return nil
}

// BodyHash is the payload hash of the canonical request: the value of
// X-Sdk-Content-Sha256 when the request carries one, else the lower-case hex
// SHA-256 of body.
func BodyHash(h http.Header, body []byte) string {
	if v := h.Get(HeaderContentSha256); v != "" {
		return v
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func signedHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "content-type") || strings.Contains(lk, "_") || lk == "authorization" {
			continue
		}
		if !slices.Contains(out, lk) {
			out = append(out, lk)
		}
	}
	slices.Sort(out)
	return out
}

// CanonicalRequest builds the canonical request over signedHeaders (lower
// case, sorted, as declared in the Authorization header):
//
//	METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n bodyHash
//
// The URI is req.URL's escaped path, each segment re-escaped, always ending in
// '/'. Query keys are lower-cased (as the current Go SDK does), sorted, each
// key's values sorted. The "host" header falls back to req.Host, then
// req.URL.Host, because Go servers and clients keep Host out of req.Header.
// A verifier passes the request as received (with its original path).
func CanonicalRequest(req *http.Request, signedHeaders []string, bodyHash string) string {
	return strings.Join([]string{
		req.Method,
		canonicalURI(req.URL),
		canonicalQuery(req.URL),
		canonicalHeaders(req, signedHeaders),
		strings.Join(signedHeaders, ";"),
		bodyHash,
	}, "\n")
}

// StringToSign is "SDK-HMAC-SHA256\n<X-Sdk-Date>\nhex(sha256(canonicalRequest))".
func StringToSign(canonicalRequest, sdkDate string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return SignAlgorithm + "\n" + sdkDate + "\n" + hex.EncodeToString(sum[:])
}

// Signature is the lower-case hex HMAC-SHA256 of stringToSign keyed with the
// secret key itself (no key derivation).
func Signature(stringToSign, sk string) string {
	m := hmac.New(sha256.New, []byte(sk))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// Authorization is a parsed "SDK-HMAC-SHA256 Access=..., SignedHeaders=...,
// Signature=..." header.
type Authorization struct {
	AccessKey     string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization parses an SDK-HMAC-SHA256 Authorization header value. It
// is what a verifier (the simulator) needs to recompute the signature.
func ParseAuthorization(v string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(v, SignAlgorithm+" ")
	if !ok {
		return a, fmt.Errorf("authorization scheme is not %s", SignAlgorithm)
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("malformed authorization part %q", k)
		}
		switch k {
		case "Access":
			a.AccessKey = val
		case "SignedHeaders":
			if val != "" {
				a.SignedHeaders = strings.Split(val, ";")
			}
		case "Signature":
			a.Signature = val
		}
	}
	if a.AccessKey == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
		return a, errors.New("authorization lacks Access, SignedHeaders or Signature")
	}
	return a, nil
}

func canonicalURI(u *url.URL) string {
	segs := strings.Split(u.EscapedPath(), "/")
	for i, s := range segs {
		if dec, err := url.PathUnescape(s); err == nil {
			s = dec
		}
		segs[i] = escape(s)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func canonicalQuery(u *url.URL) string {
	q, _ := url.ParseQuery(u.RawQuery)
	lower := map[string][]string{}
	for k, vs := range q {
		lk := strings.ToLower(k)
		lower[lk] = append(lower[lk], vs...)
	}
	keys := make([]string, 0, len(lower))
	for k := range lower {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		vs := lower[k]
		slices.Sort(vs)
		for _, v := range vs {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

func canonicalHeaders(req *http.Request, signed []string) string {
	byName := map[string][]string{}
	for k, vs := range req.Header {
		lk := strings.ToLower(k)
		byName[lk] = append(byName[lk], vs...)
	}
	var lines []string
	for _, k := range signed {
		vs := byName[k]
		if k == "host" && len(vs) == 0 {
			h := req.Host
			if h == "" && req.URL != nil {
				h = req.URL.Host
			}
			vs = []string{h}
		}
		vs = slices.Clone(vs)
		slices.Sort(vs)
		for _, v := range vs {
			lines = append(lines, k+":"+strings.TrimSpace(v))
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// escape percent-encodes everything but the unreserved characters
// A-Z a-z 0-9 - _ . ~, with upper-case hex (RFC 3986; space is %20).
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
