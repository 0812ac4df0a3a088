// Package web serves the GraphiQL IDE from assets embedded in the binary, so
// the page works with no internet access: gqlgen's playground page (the
// graphql/playground GraphiQL handler) is pointed at vendored copies of
// GraphiQL, React, ReactDOM and the GraphiQL explorer plugin instead of its
// jsDelivr defaults.
//
// Mount both handlers:
//
//	mux.Handle("GET /{$}", web.GraphiQL("fleetgraph", "/query"))
//	mux.Handle(web.AssetsPath, web.Assets())
//
// The vendored files live in assets/graphiql/ and are refreshed and verified
// by fetch-assets.sh (npm); the build itself needs no npm.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
)

//go:embed assets
var embedded embed.FS

// AssetsPath is the URL path prefix Assets expects to be mounted at, and the
// one the GraphiQL page references its scripts and styles under (unless
// WithAssetsPath says otherwise).
const AssetsPath = "/assets/"

// Option configures the GraphiQL page.
type Option func(*config)

type config struct {
	assetsPath string
	explorer   bool
	tabs       []Tab
	playground []playground.GraphiqlConfigOption
}

// WithAssetsPath sets the URL path prefix (with a trailing slash) the page
// loads its assets from, for when Assets is not mounted at AssetsPath; e.g.
// WithAssetsPath("/ui/assets/") together with
// mux.Handle("/ui/assets/", http.StripPrefix("/ui", web.Assets())).
func WithAssetsPath(prefix string) Option {
	return func(c *config) {
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		c.assetsPath = prefix
	}
}

// WithExplorer turns the GraphiQL explorer plugin (a query builder in the
// side bar, vendored too) on or off. It is on by default.
func WithExplorer(enabled bool) Option {
	return func(c *config) { c.explorer = enabled }
}

// WithPlaygroundOptions passes options through to gqlgen's playground page,
// e.g. playground.WithGraphiqlUiHeaders or playground.WithStoragePrefix.
// They apply after this package's own, so they could point the page back at
// a CDN; the page's Content-Security-Policy would then block those files.
func WithPlaygroundOptions(opts ...playground.GraphiqlConfigOption) Option {
	return func(c *config) { c.playground = append(c.playground, opts...) }
}

// GraphiQL returns a handler for the GraphiQL page: gqlgen's playground page
// for the GraphQL API at endpoint (a path on this host, or an absolute URL),
// loading every script and stylesheet from Assets, with SRI hashes. The
// headers editor is enabled (paste an Authorization header there) and the
// headers persist in the browser's localStorage, as gqlgen sets it up.
//
// The page is rendered once, here. It answers GET and HEAD with
// Cache-Control: no-cache and a Content-Security-Policy that allows scripts
// only from this origin (plus the page's own inline script, by hash), so a
// stray CDN reference fails loudly in the browser console.
func GraphiQL(title, endpoint string, opts ...Option) http.Handler {
	c := config{assetsPath: AssetsPath, explorer: true}
	for _, o := range opts {
		o(&c)
	}
	u := func(name string) string { return c.assetsPath + name }
	popts := []playground.GraphiqlConfigOption{
		playground.WithGraphiqlVersion(u(graphiqlJS), u(graphiqlCSS), graphiqlJSSRI, graphiqlCSSSRI),
		playground.WithGraphiqlReactVersion(u(reactJS), u(reactDOMJS), reactJSSRI, reactDOMJSSRI),
		playground.WithGraphiqlPluginExplorerVersion(u(explorerJS), u(explorerCSS), explorerJSSRI, explorerCSSSRI),
		playground.WithGraphiqlEnablePluginExplorer(c.explorer),
		// A person is at the keyboard: the gateway's upstream budget
		// serves GraphiQL's queries before dashboards' (app/budgetclass.go).
		playground.WithGraphiqlFetcherHeaders(map[string]string{"X-Fleetgraph-Priority": "interactive"}),
	}
	popts = append(popts, c.playground...)

	var rec pageRecorder
	playground.Handler(title, endpoint, popts...).ServeHTTP(&rec, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}})
	page := rec.body.Bytes()
	if len(c.tabs) > 0 {
		page = withTabs(page, c.tabs)
	}
	sum := sha256.Sum256(page)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	cspFor := contentSecurityPolicy(page, endpoint)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", cspFor(r))
		http.ServeContent(w, r, "", zeroTime, bytes.NewReader(page))
	})
}

// pageRecorder captures the playground page once, at construction.
type pageRecorder struct {
	header http.Header
	body   bytes.Buffer
}

func (p *pageRecorder) Header() http.Header {
	if p.header == nil {
		p.header = http.Header{}
	}
	return p.header
}
func (p *pageRecorder) Write(b []byte) (int, error) { return p.body.Write(b) }
func (p *pageRecorder) WriteHeader(int)             {}

var zeroTime time.Time // embedded files have no modification time

var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// contentSecurityPolicy builds the page's CSP: scripts from this origin and
// the inline scripts of page by hash; styles from this origin and inline (the
// stylesheet is inline and GraphiQL injects <style> elements); fonts and
// images from this origin or data: URLs (GraphiQL's fonts are inlined); fetch
// and WebSocket to this origin or the endpoint's.
func contentSecurityPolicy(page []byte, endpoint string) func(*http.Request) string {
	scripts := []string{"'self'"}
	for _, m := range inlineScript.FindAllSubmatch(page, -1) {
		sum := sha256.Sum256(m[1])
		scripts = append(scripts, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
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
	fixed := "default-src 'none'; script-src " + strings.Join(scripts, " ") +
		"; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:" +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; connect-src " + connect
	return func(r *http.Request) string {
		if absolute || r.Host == "" || strings.ContainsAny(r.Host, " ;,'\"") {
			return fixed
		}
		// A relative endpoint: subscriptions open ws(s)://<this host>, which
		// not every browser counts as 'self'.
		return fixed + " ws://" + r.Host + " wss://" + r.Host
	}
}

// Assets returns a handler for the embedded files, to mount at AssetsPath
// (it strips that prefix itself). It answers GET and HEAD with the file's
// content type, a strong ETag and a year-long immutable Cache-Control (the
// paths carry the package versions), gzip-compressed when the client accepts
// it; anything else under the prefix is 404.
func Assets() http.Handler {
	return http.HandlerFunc(serveAsset)
}

func serveAsset(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, AssetsPath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	a := lookupAsset(name)
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	body, etag := a.data, a.etag
	if a.compressible {
		h.Add("Vary", "Accept-Encoding")
		if r.Header.Get("Range") == "" && acceptsGzip(r.Header.Values("Accept-Encoding")) {
			if gz := a.gzipped(); gz != nil {
				h.Set("Content-Encoding", "gzip")
				body, etag = gz, a.etag[:len(a.etag)-1]+`-gz"`
			}
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(body))
}

type asset struct {
	data         []byte
	contentType  string
	etag         string
	compressible bool

	gzOnce sync.Once
	gz     []byte // nil when gzip does not make it smaller
}

func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(a.data); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		if buf.Len() < len(a.data) {
			a.gz = buf.Bytes()
		}
	})
	return a.gz
}

var assetIndex = sync.OnceValue(func() map[string]*asset {
	idx := map[string]*asset{}
	root, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err)
	}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ct := contentType(p)
		idx[p] = &asset{
			data:         data,
			contentType:  ct,
			etag:         `"` + hex.EncodeToString(sum[:16]) + `"`,
			compressible: len(data) > 1024 && (strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript")),
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	return idx
})

func lookupAsset(name string) *asset {
	if !fs.ValidPath(name) || path.Clean(name) != name {
		return nil
	}
	return assetIndex()[name]
}

// contentType is fixed for the types we ship rather than taken from the
// host's mime.types, which may say application/javascript or nothing.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".map", ".json":
		return "application/json"
	case "", ".txt", ".md":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero q.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if f, err := strconv.ParseFloat(q, 64); ok && err == nil && f == 0 {
				return false
			}
			return true
		}
	}
	return false
}
