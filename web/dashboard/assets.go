package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed assets
var embedded embed.FS

var zeroTime time.Time // embedded files have no modification time

// index is every embedded file by its path under assets/, and the version
// segment of their URLs: a hash over all of them, so a changed file gets new
// URLs and a year-long immutable cache stays correct.
type index struct {
	version string
	files   map[string]*asset
}

type asset struct {
	data         []byte
	contentType  string
	etag         string
	sri          string
	compressible bool

	gzOnce sync.Once
	gz     []byte // nil when gzip does not make it smaller
}

var assetIndex = sync.OnceValue(func() *index {
	root, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err)
	}
	idx := &index{files: map[string]*asset{}}
	var names []string
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		sri := sha512.Sum384(data)
		ct := contentType(p)
		idx.files[p] = &asset{
			data:         data,
			contentType:  ct,
			etag:         `"` + hex.EncodeToString(sum[:16]) + `"`,
			sri:          "sha384-" + base64.StdEncoding.EncodeToString(sri[:]),
			compressible: len(data) > 1024 && (strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript")),
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n + "\x00" + idx.files[n].etag + "\x00"))
	}
	idx.version = hex.EncodeToString(h.Sum(nil))[:12]
	return idx
})

// serve answers one embedded file with its content type, a strong ETag and
// a year-long immutable Cache-Control, gzip-compressed when the client
// accepts it.
func (idx *index) serve(w http.ResponseWriter, r *http.Request, name string) {
	var a *asset
	if fs.ValidPath(name) && path.Clean(name) == name {
		a = idx.files[name]
	}
	if a == nil {
		http.NotFound(w, r)
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

// contentType is fixed for the types we ship rather than taken from the
// host's mime.types, which may say application/javascript or nothing: a
// module script served as anything but JavaScript does not run.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
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
