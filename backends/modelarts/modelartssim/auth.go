package modelartssim

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

const (
	tokenLifetime = 24 * time.Hour   // IAM: valid 24 h
	maxSdkSkew    = 15 * time.Minute // API Gateway: X-Sdk-Date within ±15 min
	tokenPrefix   = "MIIsim"         // real tokens are long PKI blobs starting "MII"
	authFailMsg   = "Incorrect IAM authentication information: "
)

// tokenClaims is what an issued token carries. Tokens are stateless: claims
// plus an HMAC under the instance's secret, so any number can be issued and
// another instance's tokens fail to "decrypt" as on the real gateway.
type tokenClaims struct {
	User      string `json:"u"`
	ProjectID string `json:"p"`
	Issued    int64  `json:"i"`
	Expires   int64  `json:"e"`
	Nonce     string `json:"n"`
}

// IssueToken returns a valid X-Auth-Token for the configured user and
// project, as IAM would issue now (for tests and pass-through demos).
func (s *Server) IssueToken() string {
	tok, _ := s.issue(s.opts.Now())
	return tok
}

func (s *Server) issue(now time.Time) (string, tokenClaims) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	c := tokenClaims{User: s.opts.Username, ProjectID: s.opts.ProjectID, Issued: now.Unix(),
		Expires: now.Add(tokenLifetime).Unix(), Nonce: hex.EncodeToString(nonce)}
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return tokenPrefix + p + "." + s.mac(p), c
}

func (s *Server) mac(payload string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// parseToken returns the claims of a token this instance issued, or a
// message for APIGW.0301.
func (s *Server) parseToken(tok string) (tokenClaims, string) {
	var c tokenClaims
	p, sig, ok := strings.Cut(strings.TrimPrefix(tok, tokenPrefix), ".")
	if !ok || !strings.HasPrefix(tok, tokenPrefix) || !hmac.Equal([]byte(sig), []byte(s.mac(p))) {
		return c, "decrypt token fail"
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return c, "decrypt token fail"
	}
	if !s.opts.Now().Before(time.Unix(c.Expires, 0)) {
		return c, "token expired"
	}
	return c, ""
}

// authorize runs API Gateway's authentication and ModelArts' project check.
// It writes the error and returns false when the request must stop.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	project := r.PathValue("project_id")
	switch {
	case r.Header.Get("X-Auth-Token") != "":
		c, msg := s.parseToken(r.Header.Get("X-Auth-Token"))
		if msg != "" {
			writeError(w, http.StatusUnauthorized, "APIGW.0301", authFailMsg+msg, true)
			return false
		}
		if project != c.ProjectID {
			writeError(w, http.StatusForbidden, "ModelArts.0210", "The project id in the request URL does not match the token.", false)
			return false
		}
		return true
	case strings.HasPrefix(r.Header.Get("Authorization"), modelarts.SignAlgorithm+" "):
		if msg := s.verifySignature(r); msg != "" {
			writeError(w, http.StatusUnauthorized, "APIGW.0301", authFailMsg+msg, true)
			return false
		}
		if project != s.opts.ProjectID || (r.Header.Get("X-Project-Id") != "" && r.Header.Get("X-Project-Id") != project) {
			writeError(w, http.StatusForbidden, "ModelArts.0210", "The project id in the request URL does not match the token.", false)
			return false
		}
		return true
	default:
		writeError(w, http.StatusUnauthorized, "APIGW.0301", authFailMsg+"Authorization not found", true)
		return false
	}
}

// verifySignature checks an SDK-HMAC-SHA256 request over the headers the
// client declared, on the request as sent (RequestURI: a prefix stripped in
// front of the simulator was signed too). It returns "" when valid.
func (s *Server) verifySignature(r *http.Request) string {
	a, err := modelarts.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "verify aksk signature fail, " + err.Error()
	}
	if !slices.Contains(a.SignedHeaders, "x-sdk-date") {
		return "verify aksk signature fail, x-sdk-date must be a signed header"
	}
	date := r.Header.Get(modelarts.HeaderSdkDate)
	t, err := time.Parse(modelarts.SdkDateLayout, date)
	if err != nil {
		return "verify aksk signature fail, invalid X-Sdk-Date " + fmt.Sprintf("%q", date)
	}
	now := s.opts.Now().UTC()
	if d := now.Sub(t); d > maxSdkSkew || d < -maxSdkSkew {
		return fmt.Sprintf("signature expired, signature time:%s,server time:%s", date, now.Format(modelarts.SdkDateLayout))
	}
	if a.AccessKey != s.opts.AccessKey {
		return "verify aksk signature fail, the access key does not exist"
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 8<<20))
	if err != nil {
		return "verify aksk signature fail, unreadable body"
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	signed := *r
	if r.RequestURI != "" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			signed.URL = u
		}
	}
	cr := modelarts.CanonicalRequest(&signed, a.SignedHeaders, modelarts.BodyHash(r.Header, body))
	want := modelarts.Signature(modelarts.StringToSign(cr, date), s.opts.SecretKey)
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		// Like API Gateway's app-auth errors, show the canonical request
		// (it holds no secret) with '|' for line breaks.
		return "verify aksk signature fail, canonical request: " + strings.ReplaceAll(cr, "\n", "|")
	}
	return ""
}
