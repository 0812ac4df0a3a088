package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/playground"
)

// ref is one <script src> or <link href> of a page.
type ref struct {
	tag, url, integrity string
}

var (
	tagRe  = regexp.MustCompile(`(?s)<(script|link)\b([^>]*)>`)
	attrRe = regexp.MustCompile(`(?s)\b(src|href|integrity)\s*=\s*"([^"]*)"`)
)

func pageRefs(t *testing.T, page string) []ref {
	t.Helper()
	var refs []ref
	for _, m := range tagRe.FindAllStringSubmatch(page, -1) {
		r := ref{tag: m[1]}
		for _, a := range attrRe.FindAllStringSubmatch(m[2], -1) {
			v := html.UnescapeString(a[2])
			switch a[1] {
			case "src", "href":
				r.url = v
			case "integrity":
				r.integrity = v
			}
		}
		if r.url != "" {
			refs = append(refs, r)
		}
	}
	return refs
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func sri384(b []byte) string {
	s := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(s[:])
}

func sri256(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(s[:])
}

func newMux(page http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", page)
	mux.Handle(AssetsPath, Assets())
	return mux
}

func TestPageReferencesOnlyLocalAssets(t *testing.T) {
	mux := newMux(GraphiQL("fleetgraph <test>", "/query"))
	rec := get(t, mux, http.MethodGet, "/", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type = %q", ct)
	}
	page := rec.Body.String()
	if !strings.Contains(page, "<title>fleetgraph &lt;test&gt;</title>") {
		t.Errorf("title not rendered/escaped in page")
	}
	for _, bad := range []string{"http://", "https://", "cdn.", "jsdelivr", "unpkg"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}

	refs := pageRefs(t, page)
	var got []string
	for _, r := range refs {
		got = append(got, r.url)
	}
	var want []string
	for name := range pinned {
		want = append(want, AssetsPath+name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("page references\n  %q\nwant\n  %q", got, want)
	}

	for _, r := range refs {
		if !strings.HasPrefix(r.url, AssetsPath) || strings.Contains(r.url, "//") {
			t.Errorf("%s %q is not a local asset path", r.tag, r.url)
		}
		if r.integrity == "" {
			t.Errorf("%s %q has no integrity attribute", r.tag, r.url)
			continue
		}
		wantCT := "text/javascript; charset=utf-8"
		if r.tag == "link" {
			wantCT = "text/css; charset=utf-8"
		}
		for _, enc := range []string{"", "gzip"} {
			res := get(t, mux, http.MethodGet, r.url, map[string]string{"Accept-Encoding": enc})
			if res.Code != http.StatusOK {
				t.Errorf("GET %s (Accept-Encoding %q) = %d", r.url, enc, res.Code)
				continue
			}
			if ct := res.Header().Get("Content-Type"); ct != wantCT {
				t.Errorf("GET %s: Content-Type %q, want %q", r.url, ct, wantCT)
			}
			if cc := res.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
				t.Errorf("GET %s: Cache-Control %q", r.url, cc)
			}
			body := res.Body.Bytes()
			if ce := res.Header().Get("Content-Encoding"); ce == "gzip" {
				if enc != "gzip" {
					t.Errorf("GET %s: gzip sent without Accept-Encoding", r.url)
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("GET %s: %v", r.url, err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("GET %s: %v", r.url, err)
				}
			} else if ce != "" {
				t.Errorf("GET %s: Content-Encoding %q", r.url, ce)
			}
			if got := sri384(body); got != r.integrity {
				t.Errorf("GET %s (Accept-Encoding %q): served bytes hash to %s, page says %s", r.url, enc, got, r.integrity)
			}
		}
	}
}

// The inline script must be allowed by the page's CSP hash, and no script
// may come from anywhere but this origin.
func TestPageContentSecurityPolicy(t *testing.T) {
	rec := get(t, GraphiQL("t", "/query"), http.MethodGet, "/", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	var scriptSrc string
	for _, d := range strings.Split(csp, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "script-src "); ok {
			scriptSrc = v
		}
	}
	if scriptSrc == "" || strings.Contains(scriptSrc, "http") || strings.Contains(scriptSrc, "unsafe") {
		t.Fatalf("script-src = %q", scriptSrc)
	}
	m := inlineScript.FindAllStringSubmatch(rec.Body.String(), -1)
	if len(m) != 1 {
		t.Fatalf("want 1 inline script, found %d", len(m))
	}
	if h := "'" + sri256([]byte(m[0][1])) + "'"; !strings.Contains(scriptSrc, h) {
		t.Errorf("script-src %q lacks the inline script's hash %s", scriptSrc, h)
	}
	if !strings.Contains(csp, "connect-src 'self' ws://example.com wss://example.com") {
		t.Errorf("relative endpoint: connect-src does not allow this host's WebSocket: %q", csp)
	}

	abs := get(t, GraphiQL("t", "https://api.example.org/query"), http.MethodGet, "/", nil)
	if csp := abs.Header().Get("Content-Security-Policy"); !strings.HasSuffix(csp, "connect-src 'self' https://api.example.org wss://api.example.org") {
		t.Errorf("absolute endpoint CSP = %q", csp)
	}
}

func TestPinnedHashesMatchEmbeddedFiles(t *testing.T) {
	total := 0
	err := fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		data, err := fs.ReadFile(embedded, p)
		if err != nil {
			return err
		}
		total += len(data)
		want, ok := pinned[name]
		switch {
		case ok && sri384(data) != want:
			t.Errorf("%s: embedded bytes hash to %s, assets.go pins %s", name, sri384(data), want)
		case !ok && !strings.HasSuffix(name, "/LICENSE"):
			t.Errorf("%s: embedded but neither pinned nor a LICENSE", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range pinned {
		if _, err := fs.Stat(embedded, "assets/"+name); err != nil {
			t.Errorf("pinned %s: %v", name, err)
		}
	}
	if total > 2<<20 {
		t.Errorf("embedded assets total %d bytes; keep them under 2 MiB (minified builds only)", total)
	}
}

// Our files are the ones gqlgen's own page loads from jsDelivr: same
// versions, same bytes (gqlgen pins sha256). A gqlgen upgrade that moves its
// page to other GraphiQL/React versions fails here, since the page template
// (ReactDOM.render, the UMD globals) goes with those versions: re-vendor with
// fetch-assets.sh then.
func TestSameFilesAsGqlgenDefaults(t *testing.T) {
	rec := get(t, playground.Handler("t", "/query", playground.WithGraphiqlEnablePluginExplorer(true)), http.MethodGet, "/", nil)
	upstream := map[string]string{
		"https://cdn.jsdelivr.net/npm/graphiql@4.1.2/graphiql.min.js":                    graphiqlJS,
		"https://cdn.jsdelivr.net/npm/graphiql@4.1.2/graphiql.min.css":                   graphiqlCSS,
		"https://cdn.jsdelivr.net/npm/react@18.2.0/umd/react.production.min.js":          reactJS,
		"https://cdn.jsdelivr.net/npm/react-dom@18.2.0/umd/react-dom.production.min.js":  reactDOMJS,
		"https://cdn.jsdelivr.net/npm/@graphiql/plugin-explorer@4.0.6/dist/index.umd.js": explorerJS,
		// jsDelivr minifies this one on the fly; npm ships dist/style.css.
		"https://cdn.jsdelivr.net/npm/@graphiql/plugin-explorer@4.0.6/dist/style.min.css": "",
	}
	refs := pageRefs(t, rec.Body.String())
	if len(refs) != len(upstream) {
		t.Errorf("gqlgen's default page loads %d files, want %d", len(refs), len(upstream))
	}
	for _, r := range refs {
		ours, ok := upstream[r.url]
		if !ok {
			t.Errorf("gqlgen's default page now loads %s: re-vendor (fetch-assets.sh) and update assets.go", r.url)
			continue
		}
		if ours == "" {
			continue
		}
		data, err := fs.ReadFile(embedded, "assets/"+ours)
		if err != nil {
			t.Fatal(err)
		}
		if got := sri256(data); got != r.integrity {
			t.Errorf("%s: ours hashes to %s, gqlgen pins %s for %s", ours, got, r.integrity, r.url)
		}
	}
}

func TestGraphiQLOptions(t *testing.T) {
	page := get(t, GraphiQL("t", "/query", WithExplorer(false), WithAssetsPath("/ui/assets"),
		WithPlaygroundOptions(playground.WithStoragePrefix("fleetgraph:"))), http.MethodGet, "/", nil).Body.String()
	refs := pageRefs(t, page)
	if len(refs) != 4 {
		t.Errorf("explorer off: want 4 assets, got %d", len(refs))
	}
	for _, r := range refs {
		if !strings.HasPrefix(r.url, "/ui/assets/graphiql/") || strings.Contains(r.url, "explorer") {
			t.Errorf("unexpected reference %q", r.url)
		}
	}
	if strings.Contains(page, "GraphiQLPluginExplorer") {
		t.Error("explorer off but page still uses the plugin")
	}
	if !strings.Contains(page, "new PrefixedStorage('fleetgraph:')") {
		t.Error("playground option not applied")
	}
	if !strings.Contains(page, "isHeadersEditorEnabled: true") {
		t.Error("headers editor not enabled")
	}
	if !strings.Contains(page, `"X-Fleetgraph-Priority":"interactive"`) {
		t.Error("GraphiQL's queries are not marked interactive for the upstream budget")
	}

	// Mounted under a sub-path as documented on WithAssetsPath.
	mux := http.NewServeMux()
	mux.Handle("/ui/assets/", http.StripPrefix("/ui", Assets()))
	if rec := get(t, mux, http.MethodGet, refs[0].url, nil); rec.Code != http.StatusOK || sri384(rec.Body.Bytes()) != refs[0].integrity {
		t.Errorf("GET %s under /ui = %d", refs[0].url, rec.Code)
	}
}

func TestPageMethodsAndCaching(t *testing.T) {
	h := GraphiQL("t", "/query")
	if rec := get(t, h, http.MethodPost, "/", nil); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	rec := get(t, h, http.MethodHead, "/", nil)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("HEAD / = %d, body %d bytes, Cache-Control %q", rec.Code, rec.Body.Len(), rec.Header().Get("Cache-Control"))
	}
	etag := rec.Header().Get("ETag")
	if rec := get(t, h, http.MethodGet, "/", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET / = %d, want 304", rec.Code)
	}
}

func TestAssetsHandler(t *testing.T) {
	h := Assets()
	js := AssetsPath + reactJS
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, js, http.StatusOK},
		{http.MethodHead, js, http.StatusOK},
		{http.MethodGet, AssetsPath + "graphiql/react-18.2.0/LICENSE", http.StatusOK},
		{http.MethodPost, js, http.StatusMethodNotAllowed},
		{http.MethodGet, AssetsPath, http.StatusNotFound},
		{http.MethodGet, AssetsPath + "graphiql/", http.StatusNotFound},
		{http.MethodGet, AssetsPath + "graphiql/react-18.2.0", http.StatusNotFound},
		{http.MethodGet, AssetsPath + "graphiql/react-18.2.0/../react-18.2.0/react.production.min.js", http.StatusNotFound},
		{http.MethodGet, AssetsPath + "graphiql//react-18.2.0/react.production.min.js", http.StatusNotFound},
		{http.MethodGet, AssetsPath + "nope.js", http.StatusNotFound},
		{http.MethodGet, "/elsewhere/" + reactJS, http.StatusNotFound},
	} {
		req := httptest.NewRequest(tc.method, "/", nil)
		req.URL.Path = tc.path // bypass the client-side cleaning
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, rec.Code, tc.want)
		}
	}

	if ct := get(t, h, http.MethodGet, AssetsPath+"graphiql/react-18.2.0/LICENSE", nil).Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("LICENSE Content-Type = %q", ct)
	}

	plain := get(t, h, http.MethodGet, js, nil)
	zipped := get(t, h, http.MethodGet, js, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Body.Len() >= plain.Body.Len() {
		t.Errorf("gzip: Content-Encoding %q, %d bytes vs %d plain", zipped.Header().Get("Content-Encoding"), zipped.Body.Len(), plain.Body.Len())
	}
	if plain.Header().Get("ETag") == zipped.Header().Get("ETag") {
		t.Error("gzip and identity share an ETag")
	}
	if v := zipped.Header().Get("Vary"); v != "Accept-Encoding" {
		t.Errorf("Vary = %q", v)
	}
	if nosniff := plain.Header().Get("X-Content-Type-Options"); nosniff != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", nosniff)
	}
	if rec := get(t, h, http.MethodGet, js, map[string]string{"If-None-Match": plain.Header().Get("ETag")}); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", rec.Code)
	}
	rng := get(t, h, http.MethodGet, js, map[string]string{"Range": "bytes=0-9", "Accept-Encoding": "gzip"})
	if rng.Code != http.StatusPartialContent || rng.Header().Get("Content-Encoding") != "" || !bytes.Equal(rng.Body.Bytes(), plain.Body.Bytes()[:10]) {
		t.Errorf("Range: %d, Content-Encoding %q", rng.Code, rng.Header().Get("Content-Encoding"))
	}
}

func TestAcceptsGzip(t *testing.T) {
	for in, want := range map[string]bool{
		"":                            false,
		"gzip":                        true,
		"GZIP":                        true,
		"deflate, gzip;q=0.5":         true,
		"gzip;q=0":                    false,
		"gzip; q=0.000":               false,
		"br, zstd":                    false,
		"gzip, deflate, br, zstd":     true,
		"x-gzip":                      false,
		"identity, gzip ; q=1.0":      true,
		"gzip;q=0.001, br;q=1, *;q=0": true,
	} {
		if got := acceptsGzip([]string{in}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}

// The page opens on Examples: GraphiQL renders after the tabs are built,
// with defaultTabs among its props, and the page's CSP still admits its
// inline script (hashed after the rewrite).
func TestDefaultTabs(t *testing.T) {
	plain := get(t, GraphiQL("t", "/query"), http.MethodGet, "/", nil)
	if strings.Contains(plain.Body.String(), "defaultTabs") {
		t.Error("the page without WithDefaultTabs has default tabs")
	}
	rec := get(t, GraphiQL("t", "/query", WithDefaultTabs(Examples...)), http.MethodGet, "/", nil)
	page := rec.Body.String()
	for _, want := range []string{"fleetgraphTabs([{", "defaultTabs: defaultTabs,", ".then((defaultTabs) => ReactDOM.render(", "document.getElementById('graphiql'),\n      ));"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, m := range inlineScript.FindAllStringSubmatch(page, -1) {
		if !strings.Contains(csp, sri256([]byte(m[1]))) {
			t.Errorf("inline script not admitted by the CSP %q", csp)
		}
	}
}

// Examples are the README's example operations, word for word, and only
// NodeMetrics needs variables, which the page fills in.
func TestExamplesAreTheREADMEs(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range Examples {
		if !strings.Contains(string(readme), e.Query) {
			t.Errorf("README.md lacks the example\n%s", e.Query)
		}
		if strings.Contains(e.Query, "$") != (e.Variables != "") {
			t.Errorf("example with variables %q: %s", e.Variables, e.Query)
		}
	}
}
