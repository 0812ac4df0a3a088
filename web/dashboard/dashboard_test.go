package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// mounted is the handler as the gateway mounts it.
func mounted() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", Handler("/graphql")))
	return mux
}

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func sri384(b []byte) string {
	s := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(s[:])
}

var (
	tagRe       = regexp.MustCompile(`(?s)<(script|link|img)\b([^>]*)>`)
	attrRe      = regexp.MustCompile(`(?s)\b(src|href|integrity|type)\s*=\s*"([^"]*)"`)
	importMapRe = regexp.MustCompile(`(?s)<script type="importmap">(.*?)</script>`)
)

type ref struct{ tag, url, integrity, typ string }

func pageRefs(page string) []ref {
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
			case "type":
				r.typ = v
			}
		}
		if r.url != "" {
			refs = append(refs, r)
		}
	}
	return refs
}

func TestPageLoadsOnlyEmbeddedFilesWithIntegrity(t *testing.T) {
	t.Parallel()
	h := mounted()
	rec := get(t, h, http.MethodGet, "/dashboard/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /dashboard/: %d", rec.Code)
	}
	page := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache (the asset URLs change with their content)", cc)
	}
	if !strings.Contains(page, `<meta name="fleetgraph-endpoint" content="/graphql">`) {
		t.Error("the page does not name the GraphQL endpoint")
	}
	refs := pageRefs(page)
	if len(refs) < 5 {
		t.Fatalf("page refs %+v", refs)
	}
	for _, r := range refs {
		if strings.Contains(r.url, "//") {
			t.Errorf("%s %s: not from this origin", r.tag, r.url)
			continue
		}
		res := get(t, h, http.MethodGet, "/dashboard/"+r.url)
		if res.Code != http.StatusOK {
			t.Errorf("%s: %d", r.url, res.Code)
			continue
		}
		if r.tag == "img" || strings.HasSuffix(r.url, ".svg") {
			continue
		}
		if r.integrity == "" {
			t.Errorf("%s has no integrity attribute", r.url)
		} else if got := sri384(res.Body.Bytes()); got != r.integrity {
			t.Errorf("%s: integrity %s, body hashes to %s", r.url, r.integrity, got)
		}
		if cc := res.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", r.url, cc)
		}
	}
}

// The modules that main.js imports get their integrity from the import map,
// which the CSP allows by hash.
func TestImportMapCoversEveryModule(t *testing.T) {
	t.Parallel()
	h := mounted()
	rec := get(t, h, http.MethodGet, "/dashboard/")
	m := importMapRe.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatal("no import map")
	}
	sum := sha256.Sum256([]byte(m[1]))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' "+hash) {
		t.Errorf("CSP %q does not allow the import map (%s)", csp, hash)
	}
	var im struct{ Integrity map[string]string }
	if err := json.Unmarshal([]byte(m[1]), &im); err != nil {
		t.Fatal(err)
	}
	modules, _ := fs.Glob(embedded, "assets/js/*.js")
	if len(modules) == 0 || len(im.Integrity) != len(modules) {
		t.Fatalf("import map lists %d modules, %d embedded", len(im.Integrity), len(modules))
	}
	for u, want := range im.Integrity {
		if !strings.HasPrefix(u, "./assets/") {
			t.Errorf("%s: integrity keys must be URL-like (./...), or browsers ignore them", u)
		}
		res := get(t, h, http.MethodGet, "/dashboard/"+strings.TrimPrefix(u, "./"))
		if res.Code != http.StatusOK || sri384(res.Body.Bytes()) != want {
			t.Errorf("%s: %d, hash %s want %s", u, res.Code, sri384(res.Body.Bytes()), want)
		}
		if ct := res.Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
			t.Errorf("%s: Content-Type %q (a module served otherwise does not run)", u, ct)
		}
	}
}

// The vendored uPlot is byte for byte the npm build fetch-assets.sh verifies.
func TestVendoredFilesMatchPinnedHashes(t *testing.T) {
	t.Parallel()
	for name, want := range pinned {
		b, err := fs.ReadFile(embedded, "assets/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if got := sri384(b); got != want {
			t.Errorf("%s: %s, pinned %s: run fetch-assets.sh --write and update vendor.go", name, got, want)
		}
	}
	if _, err := fs.Stat(embedded, "assets/vendor/uplot-1.6.32/LICENSE"); err != nil {
		t.Errorf("uPlot's license is not shipped: %v", err)
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		endpoint, host string
		want, notWant  []string
	}{
		{"/graphql", "gw.example:8080", []string{"default-src 'none'", "style-src 'self';", "connect-src 'self' ws://gw.example:8080 wss://gw.example:8080", "frame-ancestors 'self'"}, []string{"unsafe-inline", "unsafe-eval"}},
		{"https://api.example/graphql", "gw.example", []string{"connect-src 'self' https://api.example wss://api.example"}, []string{"ws://gw.example"}},
		{"/graphql", "bad host;", []string{"connect-src 'self'"}, []string{"bad host"}},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = tt.host
		rec := httptest.NewRecorder()
		Handler(tt.endpoint).ServeHTTP(rec, req)
		csp := rec.Header().Get("Content-Security-Policy")
		for _, w := range tt.want {
			if !strings.Contains(csp, w) {
				t.Errorf("%s on %s: CSP %q lacks %q", tt.endpoint, tt.host, csp, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(csp, w) {
				t.Errorf("%s on %s: CSP %q has %q", tt.endpoint, tt.host, csp, w)
			}
		}
	}
}

func TestEndpointIsEscaped(t *testing.T) {
	t.Parallel()
	rec := get(t, Handler(`/graphql?"><script>alert(1)</script>`), http.MethodGet, "/")
	if strings.Contains(rec.Body.String(), "<script>alert") {
		t.Fatal("the endpoint is written into the page unescaped")
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	h := mounted()
	if rec := get(t, h, http.MethodGet, "/dashboard"); rec.Code/100 != 3 || rec.Header().Get("Location") != "/dashboard/" {
		t.Errorf("GET /dashboard: %d to %q, want a redirect to /dashboard/", rec.Code, rec.Header().Get("Location"))
	}
	// Without the mux's own redirect: the handler sends "" to the slash,
	// keeping the query.
	direct := http.StripPrefix("/ui", Handler("/graphql"))
	if rec := get(t, direct, http.MethodGet, "/ui?interval=5"); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/ui/?interval=5" {
		t.Errorf("GET /ui?interval=5: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	ver := assetIndex().version
	for target, code := range map[string]int{
		"/dashboard/?interval=5":                                    http.StatusOK,
		"/dashboard/nope":                                           http.StatusNotFound,
		"/dashboard/assets/" + ver + "/js/main.js":                  http.StatusOK,
		"/dashboard/assets/000000000000/js/main.js":                 http.StatusNotFound, // another build's URL
		"/dashboard/assets/" + ver + "/js/missing.js":               http.StatusNotFound,
		"/dashboard/assets/" + ver + "/../index.html":               http.StatusNotFound,
		"/dashboard/assets/" + ver + "/js//main.js":                 http.StatusNotFound,
		"/dashboard/assets/" + ver + "/":                            http.StatusNotFound,
		"/dashboard/assets/" + ver + "/favicon.svg":                 http.StatusOK,
		"/dashboard/assets/" + ver + "/vendor/uplot-1.6.32/LICENSE": http.StatusOK,
	} {
		// Straight to the handler: ServeMux would clean the odd paths first.
		if rec := get(t, http.StripPrefix("/dashboard", Handler("/graphql")), http.MethodGet, target); rec.Code != code {
			t.Errorf("GET %s: %d, want %d", target, rec.Code, code)
		}
	}
	if rec := get(t, h, http.MethodPost, "/dashboard/"); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	if rec := get(t, h, http.MethodHead, "/dashboard/"); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", rec.Code, rec.Body.Len())
	}
	etag := get(t, h, http.MethodGet, "/dashboard/").Header().Get("ETag")
	if rec := get(t, h, http.MethodGet, "/dashboard/", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", rec.Code)
	}
}

// Light enough to load fast: the whole dashboard, compressed as served.
func TestAssetsAreSmallAndGzipped(t *testing.T) {
	t.Parallel()
	h := mounted()
	ver := assetIndex().version
	total, raw := 0, 0
	for name, a := range assetIndex().files {
		rec := get(t, h, http.MethodGet, "/dashboard/assets/"+ver+"/"+name, "Accept-Encoding", "gzip")
		body := rec.Body.Bytes()
		raw += len(a.data)
		total += len(body)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			if a.compressible && len(a.data) > 4096 {
				t.Errorf("%s (%d bytes) not gzipped", name, len(a.data))
			}
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if !bytes.Equal(plain, a.data) {
			t.Errorf("%s: gzip body differs from the file", name)
		}
	}
	page := get(t, h, http.MethodGet, "/dashboard/").Body.Len()
	t.Logf("dashboard: %d files, %d bytes, %d bytes as served with gzip (+ %d bytes of page)", len(assetIndex().files), raw, total, page)
	if total+page > 100<<10 {
		t.Errorf("the dashboard weighs %d bytes gzipped: keep it well under 250 KB", total+page)
	}
}
