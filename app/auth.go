package app

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// Who may call. In apiKey mode a caller presents its key as
//
//	X-API-Key: <key>                  (recommended: leaves Authorization to a Run:ai bearer)
//	Authorization: ApiKey <key>
//
// or, on a websocket, as "X-API-Key" in the connection_init payload. The
// gateway keeps only SHA-256 hashes of the keys. A request without a valid
// key is answered 401 UNAUTHENTICATED before anything else runs. Vendor
// credentials travel separately (pass-through backends): the Run:ai bearer
// from "Authorization: Bearer", the ModelArts token from "X-Auth-Token", each
// to its own vendor's backends only; the API key reaches no backend.

type principalKey struct{}

// Principal is the name of the API key the caller authenticated with, or "".
func Principal(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(string)
	return p
}

func withPrincipal(ctx context.Context, name string) context.Context {
	if s := statsFrom(ctx); s != nil {
		s.setPrincipal(name)
	}
	return fleet.WithPrincipal(context.WithValue(ctx, principalKey{}, name), "apikey:"+name)
}

// apiKeys checks presented keys against the configured hashes; nil when
// the auth mode is not apiKey.
type apiKeys struct{ byHash map[string]string }

func newAPIKeys(cfg *Config) *apiKeys {
	if cfg.AuthMode() != AuthAPIKey {
		return nil
	}
	k := &apiKeys{byHash: map[string]string{}}
	for _, key := range cfg.Auth.APIKeys {
		k.byHash[strings.ToLower(key.SHA256)] = key.Name
	}
	return k
}

// check returns the name of key. Only hashes are compared, so the lookup's
// timing says nothing about the keys.
func (k *apiKeys) check(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	name, ok := k.byHash[documentHash(key)]
	return name, ok
}

// presentedAPIKey reads the key from X-API-Key or "Authorization: ApiKey".
func presentedAPIKey(get func(string) string) string {
	if k := strings.TrimSpace(get("X-API-Key")); k != "" {
		return k
	}
	if auth := get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "apikey ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// requireAPIKey refuses requests without a valid key. A websocket handshake
// without one goes on: browsers cannot set its headers, so the key is
// checked in connection_init (wsInit).
func (k *apiKeys) requireAPIKey(next http.Handler) http.Handler {
	if k == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := presentedAPIKey(r.Header.Get)
		if key == "" && isUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		name, ok := k.check(key)
		if !ok {
			msg := "an API key is required: send it in the X-API-Key header"
			if key != "" {
				msg = "the API key is not valid"
			}
			w.Header().Set("WWW-Authenticate", `ApiKey realm="fleetgraph", header="X-API-Key"`)
			writeHTTPError(w, orJSON(negotiate(r.Header.Values("Accept"))), http.StatusUnauthorized, errcodes.Unauthenticated, msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), name)))
	})
}

// credentialsFrom reads the vendor credentials a caller presented, from
// HTTP headers or a connection_init payload.
func credentialsFrom(get func(string) string) backends.Credentials {
	var c backends.Credentials
	if auth := get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		c.RunAIBearer = strings.TrimSpace(auth[7:])
	}
	c.ModelArtsAuthToken = strings.TrimSpace(get("X-Auth-Token"))
	return c
}

// callerCredentials puts what the caller presented into the context. Only
// pass-through backends read it, each only its own vendor's credential.
func callerCredentials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := backends.WithCredentials(r.Context(), credentialsFrom(r.Header.Get))
		next.ServeHTTP(w, r.WithContext(fleet.WithCaller(ctx, r)))
	})
}

type remoteKey struct{}

// wsInit reads credentials from the connection_init payload (keys
// Authorization, X-Auth-Token, X-API-Key, any case) into the connection's
// context exactly as callerCredentials does for headers; a credential in
// the payload replaces the handshake's. In apiKey mode a connection whose
// handshake carried no valid key must bring one here.
func wsInit(k *apiKeys) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		get := func(name string) string {
			for key, v := range payload {
				if s, ok := v.(string); ok && strings.EqualFold(key, name) {
					return s
				}
			}
			return ""
		}
		creds, _ := backends.CredentialsFrom(ctx)
		pc := credentialsFrom(get)
		if pc.RunAIBearer != "" {
			creds.RunAIBearer = pc.RunAIBearer
		}
		if pc.ModelArtsAuthToken != "" {
			creds.ModelArtsAuthToken = pc.ModelArtsAuthToken
		}
		ctx = backends.WithCredentials(ctx, creds)
		remote, _ := ctx.Value(remoteKey{}).(string)
		ctx = fleet.WithCaller(ctx, &http.Request{RemoteAddr: remote})
		if k != nil && Principal(ctx) == "" {
			name, ok := k.check(presentedAPIKey(get))
			if !ok {
				return ctx, nil, errors.New("UNAUTHENTICATED: a valid API key is required (X-API-Key in the connection_init payload)")
			}
			ctx = withPrincipal(ctx, name)
		}
		return ctx, nil, nil
	}
}
