// Package dashboard serves fleetgraph's built-in dashboard: a single page of
// hand-written JavaScript modules and CSS plus the vendored uPlot charting
// library, all embedded, so running the gateway needs neither a CDN nor a
// build step.
//
// The page speaks only GraphQL to the gateway: queries and mutations by POST,
// live charts and totals through subscriptions over graphql-transport-ws,
// falling back to Server-Sent Events when the websocket fails.
//
// Mount it under a path ending in a slash, stripping the path without the
// slash:
//
//	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", dashboard.Handler("/graphql")))
//
// ServeMux redirects /dashboard to /dashboard/ by itself. The page refers to
// its files relatively, so any prefix works.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"text/template"
)

//go:embed index.html
var pageTemplate string

// Handler returns the dashboard for the GraphQL API at graphqlPath (a path on
// this host such as "/graphql", or an absolute URL). After the mount prefix is
// stripped it answers:
//
//	""                    a redirect to the same path with a trailing slash
//	/                     the page (Cache-Control: no-cache, ETag, strict CSP)
//	/assets/<v>/<file>    the embedded files; <v> is a hash of all of them, so
//	                      they are cached for a year as immutable
//
// and 404 for anything else. Only GET and HEAD are allowed. The page is
// rendered once, here; its scripts and stylesheets carry SRI hashes (the JS
// modules through the import map's integrity table) and its
// Content-Security-Policy allows scripts, styles and connections only to this
// origin (or graphqlPath's), so a stray CDN reference fails in the browser.
func Handler(graphqlPath string) http.Handler {
	idx := assetIndex()
	page, importMap := renderPage(graphqlPath, idx)
	sum := sha256.Sum256(page)
	return &handler{
		page:    page,
		etag:    `"` + hex.EncodeToString(sum[:16]) + `"`,
		csp:     contentSecurityPolicy(importMap, graphqlPath),
		assets:  idx,
		prefix:  "/assets/" + idx.version + "/",
		version: idx.version,
	}
}

type handler struct {
	page    []byte
	etag    string
	csp     func(*http.Request) string
	assets  *index
	prefix  string
	version string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "":
		redirectToSlash(w, r)
	case p == "/":
		h.servePage(w, r)
	case strings.HasPrefix(p, h.prefix):
		h.assets.serve(w, r, strings.TrimPrefix(p, h.prefix))
	default:
		http.NotFound(w, r)
	}
}

// redirectToSlash sends /dashboard to /dashboard/: the page's relative
// asset URLs only resolve under the trailing slash. The mount prefix is
// gone from r.URL (http.StripPrefix), but not from r.RequestURI.
func redirectToSlash(w http.ResponseWriter, r *http.Request) {
	target := "/"
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		target = u.EscapedPath() + "/"
		if u.RawQuery != "" {
			target += "?" + u.RawQuery
		}
	}
	http.Redirect(w, r, target, http.StatusMovedPermanently)
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", h.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", h.csp(r))
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(h.page))
}

// The page's entry points; every other module is reached through imports.
const (
	appCSS = "app.css"
	mainJS = "js/main.js"
)

type pageData struct {
	Endpoint, Base                           string
	UplotCSS, UplotCSSSRI, AppCSS, AppCSSSRI string
	UplotJS, UplotJSSRI, MainJS, MainJSSRI   string
	ImportMap                                string
}

// renderPage fills the page template and returns the page with the exact
// text of its inline import map (the CSP allows that script by hash).
func renderPage(endpoint string, idx *index) (page []byte, importMap string) {
	base := "assets/" + idx.version + "/"
	// Module scripts fetched through import statements carry no integrity
	// attribute: the import map's integrity table gives them one.
	integrity := map[string]string{}
	for name, a := range idx.files {
		if strings.HasPrefix(name, "js/") {
			integrity["./"+base+name] = a.sri
		}
	}
	im, err := json.Marshal(map[string]any{"imports": map[string]string{}, "integrity": integrity})
	if err != nil {
		panic(err)
	}
	sri := func(name string) string {
		a := idx.files[name]
		if a == nil {
			panic("dashboard: embedded file " + name + " is missing")
		}
		return a.sri
	}
	esc := html.EscapeString
	data := pageData{
		Endpoint: esc(endpoint), Base: esc(base),
		UplotCSS: esc(base + uplotCSS), UplotCSSSRI: sri(uplotCSS),
		AppCSS: esc(base + appCSS), AppCSSSRI: sri(appCSS),
		UplotJS: esc(base + uplotJS), UplotJSSRI: sri(uplotJS),
		MainJS: esc(base + mainJS), MainJSSRI: sri(mainJS),
		ImportMap: string(im), // encoding/json escapes <, > and &: safe inside <script>
	}
	var buf bytes.Buffer
	if err := template.Must(template.New("page").Parse(pageTemplate)).Execute(&buf, data); err != nil {
		panic(err)
	}
	return buf.Bytes(), string(im)
}

var unsafeHost = regexp.MustCompile(`[^A-Za-z0-9.:\[\]-]`)

// contentSecurityPolicy is the page's CSP: scripts from this origin plus the
// inline import map by hash; styles, images and fonts from this origin only
// (uPlot styles its elements through the CSSOM, which style-src does not
// govern); fetch and WebSocket to this origin or the endpoint's.
func contentSecurityPolicy(importMap, endpoint string) func(*http.Request) string {
	sum := sha256.Sum256([]byte(importMap))
	connect := "'self'"
	absolute := false
	if eu, err := url.Parse(endpoint); err == nil && eu.Scheme != "" && eu.Host != "" {
		absolute = true
		ws := "ws"
		if eu.Scheme == "https" {
			ws = "wss"
		}
		connect += " " + eu.Scheme + "://" + eu.Host + " " + ws + "://" + eu.Host
	}
	fixed := "default-src 'none'; script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; style-src 'self'; img-src 'self' data:; font-src 'self'" +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; connect-src " + connect
	return func(r *http.Request) string {
		if absolute || r.Host == "" || unsafeHost.MatchString(r.Host) {
			return fixed
		}
		// A relative endpoint: subscriptions open ws(s)://<this host>, which
		// not every browser counts as 'self'.
		return fixed + " ws://" + r.Host + " wss://" + r.Host
	}
}
