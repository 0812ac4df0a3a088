package runaisim

import (
	"github.com/fleetgraph/fleetgraph/backends/simctl"

	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// jwtHeader is the fixed, already encoded header of every issued token.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

type claims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Jti string `json:"jti"`
}

// issue signs an HS256 JWT for sub, expiring TokenTTL from now.
func (s *Server) issue(sub string) string {
	now := s.now()
	payload, _ := json.Marshal(claims{
		Iss: "runaisim",
		Sub: sub,
		Iat: now.Unix(),
		Exp: now.Add(s.opts.TokenTTL).Unix(),
		Jti: strconv.FormatInt(s.tokenSeq.Add(1), 10),
	})
	signed := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signed + "." + base64.RawURLEncoding.EncodeToString(s.sign(signed))
}

func (s *Server) sign(signed string) []byte {
	mac := hmac.New(sha256.New, s.signingKey)
	mac.Write([]byte(signed))
	return mac.Sum(nil)
}

// verify returns the claims of tok when it is a token this server issued
// and it has not expired.
func (s *Server) verify(tok string) (claims, bool) {
	var c claims
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return c, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || !hmac.Equal(sig, s.sign(tok[:i])) {
		return c, false
	}
	parts := strings.Split(tok[:i], ".")
	if len(parts) != 2 {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, false
	}
	if json.Unmarshal(payload, &c) != nil {
		return c, false
	}
	return c, s.now().Unix() < c.Exp
}

// authenticated requires a valid bearer, as every Run:ai route but the
// token call does.
func (s *Server) authenticated(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		var c claims
		if ok && strings.EqualFold(scheme, "Bearer") {
			c, ok = s.verify(strings.TrimSpace(tok))
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			writeError(w, http.StatusUnauthorized, statusMessage(http.StatusUnauthorized))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), subjectKey{}, c.Sub)))
	}
}

// account bills a call to the application its token was issued to, as
// the vendor limits an account and not a token: every token of one client
// (one per gateway replica) shares its limit. A call without a token this
// server issued is billed to its credential (it gets a 401 anyway).
func (s *Server) account(r *http.Request) string {
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if c, ok := s.verify(strings.TrimSpace(tok)); ok {
			return "client:" + c.Sub
		}
	}
	return simctl.BearerAccount(r)
}

type subjectKey struct{}

// subject is who the request's token was issued to (the application's
// client id): the createdBy and updatedBy of what it writes.
func subject(r *http.Request) string {
	sub, _ := r.Context().Value(subjectKey{}).(string)
	return sub
}

// grantToken is POST /api/v1/token. The real API reads the body's keys
// case-insensitively: its docs send clientId, its spec clientID, NVIDIA's
// own clients AppId. All of them work here.
func (s *Server) grantToken(w http.ResponseWriter, r *http.Request) {
	var raw map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&raw); err != nil {
		writeError(w, http.StatusBadRequest, "Bad request - the body must be a JSON object")
		return
	}
	fields := make(map[string]string, len(raw))
	for k, v := range raw {
		if str, ok := v.(string); ok {
			fields[strings.ToLower(k)] = str
		}
	}
	var id, secret string
	switch fields["granttype"] {
	case "client_credentials":
		id, secret = fields["clientid"], fields["clientsecret"]
	case "app_token":
		id, secret = fields["appid"], fields["appsecret"]
	case "":
		writeError(w, http.StatusBadRequest, "Required parameter is missing")
		return
	default:
		writeError(w, http.StatusBadRequest, "Bad request - grantType "+strconv.Quote(fields["granttype"])+" is not supported by the simulator")
		return
	}
	if id == "" || secret == "" {
		writeError(w, http.StatusBadRequest, "Required parameter is missing")
		return
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	if !idOK || !secretOK {
		writeError(w, http.StatusUnauthorized, "Invalid client credentials.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"accessToken": s.issue(id)})
}
