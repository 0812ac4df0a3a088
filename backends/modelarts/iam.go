package modelarts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

const (
	// refreshBefore renews an IAM token when less than this is left of its
	// 24 h, so no call is made with a token about to expire in flight.
	refreshBefore = time.Hour
	// defaultTokenLifetime applies when IAM's body carries no usable times.
	defaultTokenLifetime = 24 * time.Hour
)

// IAMConfig is an IAM user's password login, scoped to a project (ModelArts
// rejects domain-scoped tokens). All fields are required.
type IAMConfig struct {
	// Endpoint is the IAM root, e.g. https://iam.cn-north-4.myhuaweicloud.com
	// (may carry a path prefix); the client POSTs {Endpoint}/v3/auth/tokens.
	Endpoint string
	Username string
	Password string
	// Domain is the account (domain) name of the user.
	Domain string
	// Project is the project name the token is scoped to, e.g. "cn-north-4".
	Project string
}

// iamSource fetches project-scoped IAM tokens; a backends.TokenCache keeps
// them (one IAM call for N concurrent callers).
type iamSource struct {
	c   *Client
	cfg IAMConfig
	url string
}

// newIAMCache returns the token cache of IAM mode. A token is renewed when
// less than refreshBefore is left of it; while a renewal fails, the cached
// token is still used until it expires (the next call tries again).
func newIAMCache(c *Client, cfg IAMConfig) (*backends.TokenCache, error) {
	base, err := backends.ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("Endpoint: %w", err)
	}
	if cfg.Username == "" || cfg.Password == "" || cfg.Domain == "" || cfg.Project == "" {
		return nil, errors.New("Username, Password, Domain and Project are required")
	}
	u := *base
	u.Path += iamRoute
	u.RawPath = ""
	// nocatalog: the service catalog is most of the body and unused here.
	u.RawQuery = url.Values{"nocatalog": {"true"}}.Encode()
	s := &iamSource{c: c, cfg: cfg, url: u.String()}
	return &backends.TokenCache{
		Fetch: func(ctx context.Context) (backends.Token, error) {
			tok, exp, err := s.request(ctx)
			return backends.Token{Value: tok, RefreshAt: exp.Add(-refreshBefore), ExpiresAt: exp}, err
		},
		Now:      func() time.Time { return c.now() }, // SetClock may replace c.now after New
		Provider: backends.ModelArts,
		Backend:  c.cfg.Name,
		Route:    iamRoute,
	}, nil
}

type iamRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					Name     string  `json:"name"`
					Password string  `json:"password"`
					Domain   iamName `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope struct {
			Project iamName `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

type iamName struct {
	Name string `json:"name"`
}

type iamResponse struct {
	Token struct {
		ExpiresAt string `json:"expires_at"`
		IssuedAt  string `json:"issued_at"`
	} `json:"token"`
}

// request performs POST /v3/auth/tokens and returns the token and its expiry
// on the local clock.
func (s *iamSource) request(ctx context.Context) (string, time.Time, error) {
	var body iamRequest
	body.Auth.Identity.Methods = []string{"password"}
	body.Auth.Identity.Password.User.Name = s.cfg.Username
	body.Auth.Identity.Password.User.Password = s.cfg.Password
	body.Auth.Identity.Password.User.Domain.Name = s.cfg.Domain
	body.Auth.Scope.Project.Name = s.cfg.Project
	data, err := json.Marshal(body)
	if err != nil {
		return "", time.Time{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(data))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s %s: build IAM request: %w", backends.ModelArts, s.c.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	start := s.c.now()
	resp, err := s.c.hc.Do(req)
	if err != nil {
		return "", time.Time{}, s.c.transportError(ctx, iamRoute, err)
	}
	if err := s.c.checkResponse(resp, http.MethodPost, iamRoute); err != nil {
		return "", time.Time{}, err
	}
	raw, err := readBody(resp, maxErrorBytes*16)
	if err != nil {
		return "", time.Time{}, s.c.transportError(ctx, iamRoute, err)
	}
	tok := resp.Header.Get("X-Subject-Token")
	if tok == "" {
		return "", time.Time{}, fmt.Errorf("%s %s: POST %s: %d answer without X-Subject-Token: %w",
			backends.ModelArts, s.c.cfg.Name, iamRoute, resp.StatusCode, backends.ErrUpstream)
	}
	var out iamResponse
	_ = json.Unmarshal(raw, &out) // the times are optional to us; the header is what counts
	return tok, expiry(start, out.Token.IssuedAt, out.Token.ExpiresAt), nil
}

// expiry places the token's end on the local clock: the lifetime IAM states
// (expires_at - issued_at) counted from when the request was sent, so a skewed
// clock on either side does not shorten or stretch it. Without both times it
// falls back to expires_at, then to the documented 24 h.
func expiry(start time.Time, issuedAt, expiresAt string) time.Time {
	exp, errE := time.Parse(time.RFC3339Nano, expiresAt)
	iss, errI := time.Parse(time.RFC3339Nano, issuedAt)
	switch {
	case errE == nil && errI == nil && exp.After(iss):
		return start.Add(exp.Sub(iss))
	case errE == nil:
		return exp
	default:
		return start.Add(defaultTokenLifetime)
	}
}
