// The embedded static files as served: explicit content types, strong ETags, versioned asset URLs
// cached for a year, and revalidation for everything else.

package web

// The embedded static files (static.FS) as served: content types, strong
// ETags, and caching that never serves a module stale after an upgrade.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshlock/meshlock/static"
)

// asset is one embedded static file, read once.
type asset struct {
	body        []byte
	contentType string
	etag        string // strong, quoted
	version     string // short content hash, the ?v= of versioned URLs
}

// contentTypes are set explicitly: mime.TypeByExtension reads the host's
// mime.types, which may lack .mjs or call .js application/javascript.
var contentTypes = map[string]string{
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
	".map":  "application/json",
	".txt":  "text/plain; charset=utf-8",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// assets are the embedded files by path ("app.js", "icons/lock-locked.svg").
var assets = loadAssets(static.FS)

func loadAssets(fsys fs.FS) map[string]*asset {
	out := map[string]*asset{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		out[name] = &asset{
			body:        body,
			contentType: ct,
			etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
			version:     hex.EncodeToString(sum[:6]),
		}
		return nil
	})
	if err != nil {
		panic("web: reading the embedded static files: " + err.Error())
	}
	return out
}

// importRE finds the specifiers of static imports and re-exports; the
// page's modules import one another by relative specifiers (static/static.go).
var importRE = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]`)

// pageModules are the modules app.js imports, directly or not, as
// page-relative URLs without a version: the URLs the browser resolves the
// imports to. The page preloads them all at once: without it the browser
// finds each level of imports only once the level above has arrived, three
// round trips before the first line runs (TestBigMeshInBrowser's timeline:
// modules done at 500 ms of a 700 ms ready).
var pageModules = sync.OnceValue(func() []string {
	seen := map[string]bool{"app.js": true}
	queue := []string{"app.js"}
	for len(queue) > 0 {
		module := queue[0]
		queue = queue[1:]
		a := assets[module]
		if a == nil {
			continue
		}
		for _, m := range importRE.FindAllSubmatch(a.body, -1) {
			spec := string(m[1]) + string(m[2])
			if !strings.HasPrefix(spec, "./") {
				continue // TestModuleImports refuses any other
			}
			if name := path.Join(path.Dir(module), spec); !seen[name] {
				seen[name] = true
				queue = append(queue, name)
			}
		}
	}
	delete(seen, "app.js") // the entry, loaded by its own versioned URL
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, "static/"+name)
	}
	slices.Sort(out)
	return out
})

// assetURL is the page-relative URL of an embedded file with its content
// hash, so that it may be cached for good: "static/app.js?v=1a2b3c4d5e6f".
func assetURL(name string) string {
	a, ok := assets[name]
	if !ok {
		return "static/" + name
	}
	return "static/" + name + "?v=" + a.version
}

// StaticHandler serves static.FS. It is mounted at "/static/*" with the
// prefix stripped: a request for "/static/app.js" arrives as "app.js".
//
// A request whose ?v= matches the file's content hash (the URLs the page
// writes) may be cached for a year; any other must be revalidated, which
// the strong ETag makes cheap (304). Directories are not listed.
//
// That is what keeps the page's ES modules current without a build step:
// the page names only its entry module versioned (static/app.js?v=...),
// and the entry's imports are plain relative specifiers ('./state.mjs'),
// unversioned, so they are always answered no-cache with their ETag: after
// an upgrade every changed module is fetched again, every unchanged one
// costs a 304.
func StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "static files are read-only")
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		a, ok := assets[name]
		if !ok {
			writeError(w, http.StatusNotFound, "no such file")
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", a.etag)
		if r.URL.Query().Get("v") == a.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
