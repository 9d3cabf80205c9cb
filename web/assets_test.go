// Tests of the static files as served: content types, caching by version, revalidation, the embed's
// contents, and the ES modules importing each other by relative, unversioned specifiers.

package web

// Tests of the static files as served: content types, caching by version,
// revalidation, no test or Go file served, and the page's ES modules
// importing each other by relative, unversioned specifiers that the embed
// holds (so that no module is served stale after an upgrade).

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func getStatic(target string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	StaticHandler().ServeHTTP(rec, req)
	return rec
}

func TestStaticHandler(t *testing.T) {
	for path, ct := range map[string]string{
		"/app.js":                        "text/javascript; charset=utf-8",
		"/state.mjs":                     "text/javascript; charset=utf-8",
		"/model.mjs":                     "text/javascript; charset=utf-8",
		"/app.css":                       "text/css; charset=utf-8",
		"/icons/lock-mixed.svg":          "image/svg+xml",
		"/vendor/cytoscape.min.js":       "text/javascript; charset=utf-8",
		"/vendor/cytoscape-dagre.min.js": "text/javascript; charset=utf-8",
	} {
		rec := getStatic(path, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d", path, rec.Code)
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", path, got, ct)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s without version: Cache-Control %q", path, got)
		}
	}
	// The page's versioned URL may be cached for good.
	url := assetURL("app.js")
	rec := getStatic("/"+strings.TrimPrefix(url, "static/"), nil)
	if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
		t.Errorf("%s: Cache-Control %q", url, got)
	}
	// An old version's URL (a page from before an upgrade) is not cached for good.
	if got := getStatic("/app.js?v=000000000000", nil).Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("app.js with another version: Cache-Control %q", got)
	}
	// Revalidation.
	etag := rec.Header().Get("ETag")
	if rec := getStatic("/app.js", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", rec.Code)
	}
	for _, path := range []string{"/", "/icons", "/icons/", "/nope.js", "/../static.go", "/static.go", "/test/model.test.mjs", "/test/fixtures.mjs", "/model.test.mjs",
		"/vendor/axe.min.js", "/axe.min.js", "/test/color.mjs"} { // axe-core is the browser tests' (test/e2e/testdata), never the page's
		if rec := getStatic(path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, rec.Code)
		}
	}
	rec = httptest.NewRecorder()
	StaticHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/app.js", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

// TestEmbeddedFiles: the embed holds the page's modules, its stylesheet, its
// icons and vendored libraries, and nothing else (no test, no Go file).
func TestEmbeddedFiles(t *testing.T) {
	for name := range assets {
		switch {
		case strings.HasPrefix(name, "test/"), strings.Contains(name, ".test."), path.Ext(name) == ".go":
			t.Errorf("%s is embedded", name)
		case strings.HasPrefix(name, "icons/"), strings.HasPrefix(name, "vendor/"):
		case !strings.Contains(name, "/") && (path.Ext(name) == ".js" || path.Ext(name) == ".mjs" || path.Ext(name) == ".css"):
		default:
			t.Errorf("%s: an unexpected embedded file", name)
		}
	}
	for _, want := range []string{"app.js", "state.mjs", "stream.js", "api.mjs", "graph-view.js", "table.js", "panel.js", "enforce.js", "activity.js", "model.mjs", "format.mjs", "identity.js", "trust.mjs",
		"theme.js", "theme.mjs", "theme-boot.js", "keyboard.mjs", "graph-keys.js"} {
		if _, ok := assets[want]; !ok {
			t.Errorf("%s is not embedded", want)
		}
	}
}

// TestModuleImports: every module the entry reaches imports its neighbours
// by a relative specifier with no ?v= (the server answers it no-cache with
// an ETag, so an upgrade is never served stale), and each one it names is
// embedded. Every module of the folder is reached from app.js, and none is
// over about 400 lines; the one script of the folder that is not a module
// (theme-boot.js, which must run before the first paint) is loaded by the
// page's <head> as a classic script, and imports nothing.
func TestModuleImports(t *testing.T) {
	reached := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if reached[name] {
			return
		}
		reached[name] = true
		a, ok := assets[name]
		if !ok {
			t.Errorf("%s is imported but not embedded", name)
			return
		}
		if lines := strings.Count(string(a.body), "\n"); lines > 420 {
			t.Errorf("%s has %d lines: split it", name, lines)
		}
		for _, m := range importRE.FindAllStringSubmatch(string(a.body), -1) {
			spec := m[1] + m[2]
			if !strings.HasPrefix(spec, "./") || strings.ContainsAny(spec, "?#") {
				t.Errorf("%s imports %q: want a relative specifier without a query", name, spec)
				continue
			}
			walk(path.Join(path.Dir(name), spec))
		}
		// Revalidated, never cached for good, when fetched as imported.
		rec := getStatic("/"+name, nil)
		if rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("ETag") == "" {
			t.Errorf("%s as imported: Cache-Control %q, ETag %q", name, rec.Header().Get("Cache-Control"), rec.Header().Get("ETag"))
		}
		if rec := getStatic("/"+name, map[string]string{"If-None-Match": a.etag}); rec.Code != http.StatusNotModified {
			t.Errorf("%s revalidated: %d, want 304", name, rec.Code)
		}
	}
	walk("app.js")
	classic := map[string]bool{}
	render(t, pageSnapshot(), "/").Find(`head script[src]`).Each(func(_ int, sc *goquery.Selection) {
		name, _, _ := strings.Cut(strings.TrimPrefix(sc.AttrOr("src", ""), "static/"), "?")
		if sc.AttrOr("type", "") != "module" && !strings.Contains(name, "/") {
			classic[name] = true
		}
	})
	if !classic["theme-boot.js"] || len(classic) != 1 {
		t.Errorf("the page's classic scripts of the folder: %v, want theme-boot.js only", classic)
	}
	for name := range classic {
		if reached[name] {
			t.Errorf("%s is a classic script and a module's import", name)
		}
		if a, ok := assets[name]; !ok || importRE.MatchString(string(a.body)) || strings.Contains(string(a.body), "export ") {
			t.Errorf("%s: embedded %v, and must neither import nor export (a classic script)", name, ok)
		}
	}
	for name := range assets {
		if !strings.Contains(name, "/") && (path.Ext(name) == ".js" || path.Ext(name) == ".mjs") && !reached[name] && !classic[name] {
			t.Errorf("%s is embedded but no module imports it", name)
		}
	}
	body, _ := io.ReadAll(getStatic("/app.js", nil).Body)
	if !strings.Contains(string(body), "from './state.mjs'") {
		t.Error("app.js does not import the store relatively")
	}
	// The page preloads what this walk reached, app.js aside (it has a
	// script tag of its own), by the URLs the imports resolve to.
	var want []string
	for name := range reached {
		if name != "app.js" {
			want = append(want, "static/"+name)
		}
	}
	slices.Sort(want)
	if got := pageModules(); !slices.Equal(got, want) {
		t.Errorf("pageModules %v, want %v", got, want)
	}
}

// The page's head preloads every module app.js imports, at any depth,
// and nothing else: chart.mjs is three imports deep (app.js → panel.js →
// history.js → chart.mjs).
func TestPagePreloadsItsModules(t *testing.T) {
	got := pageModules()
	if !slices.Contains(got, "static/chart.mjs") || slices.Contains(got, "static/app.js") {
		t.Errorf("preloaded %v: want chart.mjs, not app.js", got)
	}
	var preloaded []string
	render(t, pageSnapshot(), "/").Find(`head link[rel=modulepreload]`).Each(func(_ int, l *goquery.Selection) {
		preloaded = append(preloaded, l.AttrOr("href", ""))
	})
	if !slices.Equal(preloaded, got) {
		t.Errorf("the page preloads %v, want %v", preloaded, got)
	}
}
