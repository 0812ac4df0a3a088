package app

import (
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// origins is the CORS allow-list, also applied to websocket handshakes.
type origins struct {
	any      bool
	patterns []string // lower-case scheme://host patterns (path.Match)
}

func newOrigins(list []string) origins {
	var o origins
	for _, p := range list {
		if p == "*" {
			o.any = true
			continue
		}
		o.patterns = append(o.patterns, strings.ToLower(p))
	}
	return o
}

// allowed reports whether a cross-origin request from origin may proceed.
func (o origins) allowed(origin string) bool {
	if o.any {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	target := strings.ToLower(u.Scheme + "://" + u.Host)
	for _, p := range o.patterns {
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// sameOrigin: the page that sent the request was served by this host (the
// GraphiQL page, or a proxy that keeps Host).
func sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

const (
	corsMethods = "GET, POST, OPTIONS"
	corsHeaders = "Accept, Content-Type, Authorization, X-Auth-Token, X-API-Key, X-Request-Id, X-Fleetgraph-Cost, X-Fleetgraph-Priority, traceparent, tracestate"
)

// cors answers preflights and marks answers readable for allowed origins.
// A request from a browser page of any other origin is refused with 403
// before any work, websocket handshakes included; requests without Origin
// (curl, servers, same-origin GETs) are not concerned.
func cors(o origins, maxAge time.Duration, next http.Handler) http.Handler {
	age := strconv.Itoa(int(maxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if !o.allowed(origin) {
			if sameOrigin(r, origin) && !preflight {
				next.ServeHTTP(w, r)
				return
			}
			writeHTTPError(w, mediaJSON, http.StatusForbidden, errcodes.Forbidden, "origin "+origin+" is not allowed (cors.allowedOrigins)")
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", age)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", "X-Request-Id")
		next.ServeHTTP(w, r)
	})
}
