// Tests of the documentation: the table of flags in docs/operating.md matches the flag set
// (-update-readme rewrites it), the README stays short, and every relative link of the README
// and docs/ leads to a file (and heading) that exists.

package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the table of flags in docs/operating.md from the flag set")

const flagsBegin, flagsEnd = "<!-- flags:begin (make docs) -->\n", "<!-- flags:end -->"

// repoRoot is the repository, seen from this package's folder (go test runs in it).
var repoRoot = filepath.Join("..", "..")

// flagsDoc is the page that holds the generated table of flags.
var flagsDoc = filepath.Join(repoRoot, "docs", "operating.md")

// readmeMaxLines is the README's budget: what meshlock is, the two commands, installing, the
// three ways to open it and the links; everything else lives in docs/ (issue 23).
const readmeMaxLines = 200

// docs/operating.md documents every flag exactly as the binary declares it. (The name is
// kept from when the table was in the README: make docs runs it.)
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	data, err := os.ReadFile(flagsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	begin, end := strings.Index(doc, flagsBegin), strings.Index(doc, flagsEnd)
	if begin < 0 || end < begin {
		t.Fatalf("%s has no %q … %q block", flagsDoc, strings.TrimSpace(flagsBegin), flagsEnd)
	}
	want := flagsMarkdown()
	got := doc[begin+len(flagsBegin) : end]
	if got == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(flagsDoc, []byte(doc[:begin+len(flagsBegin)]+want+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the flags in docs/operating.md differ from the binary's: run make docs\n got:\n%s\nwant:\n%s", got, want)
}

// The README is read in five minutes: at most readmeMaxLines lines.
func TestREADMEIsShort(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimRight(string(data), "\n"), "\n") + 1; n > readmeMaxLines {
		t.Errorf("README.md has %d lines, more than %d: move the detail into docs/ and link to it", n, readmeMaxLines)
	}
}

// Each page of docs/ opens, under its title, with one line on who it is for.
func TestDocsSayWhoTheyAreFor(t *testing.T) {
	for _, path := range docPages(t) {
		if filepath.Base(path) == "README.md" {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		if len(lines) < 3 || !strings.HasPrefix(lines[0], "# ") || lines[1] != "" || !strings.HasPrefix(lines[2], "For ") {
			t.Errorf("%s should open with its title, a blank line and a paragraph starting \"For …\" (who it is for)", path)
		}
	}
}

// Every relative link and image of README.md and docs/*.md leads to a file or folder of the
// repository, and a #fragment to a heading (or an <a id>) of the Markdown page it names.
func TestDocsLinksResolve(t *testing.T) {
	pages := docPages(t)
	anchors := map[string]map[string]bool{} // absolute path of a Markdown page → its anchors
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		a := markdownAnchors(string(data))
		anchors[path] = a
		return a
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, path := range pages {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			t.Fatal(err)
		}
		page, err := filepath.Rel(root, abs) // for messages: README.md, docs/api.md
		if err != nil {
			t.Fatal(err)
		}
		for _, link := range markdownLinks(string(data)) {
			if isExternal(link) {
				continue
			}
			checked++
			target, fragment, _ := strings.Cut(link, "#")
			if i := strings.IndexByte(target, '?'); i >= 0 {
				target = target[:i]
			}
			resolved := abs
			if target != "" {
				if strings.HasPrefix(target, "/") {
					t.Errorf("%s: link %q is absolute: write it relative to the page, so that it works in a clone and on the forge", page, link)
					continue
				}
				resolved = filepath.Join(filepath.Dir(abs), filepath.FromSlash(target))
			}
			if rel, err := filepath.Rel(root, resolved); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Errorf("%s: link %q leaves the repository", page, link)
				continue
			}
			info, err := os.Stat(resolved)
			if err != nil {
				t.Errorf("%s: link %q leads nowhere: %v", page, link, err)
				continue
			}
			if fragment == "" || info.IsDir() || !strings.HasSuffix(resolved, ".md") {
				continue
			}
			if !anchorsOf(resolved)[fragment] {
				t.Errorf("%s: link %q: %s has no heading or anchor %q", page, link, filepath.Base(resolved), fragment)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the link parser is broken")
	}
}

// docPages are README.md and docs/*.md.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("docs/ has no Markdown page")
	}
	return append([]string{filepath.Join(repoRoot, "README.md")}, pages...)
}

var (
	fence      = regexp.MustCompile("(?ms)^ *(```|~~~).*?^ *(```|~~~) *$")
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	htmlLink   = regexp.MustCompile(`(?i)<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*"([^"]*)"`)
	htmlAnchor = regexp.MustCompile(`(?i)<a\b[^>]*?\b(?:id|name)\s*=\s*"([^"]*)"`)
	heading    = regexp.MustCompile(`(?m)^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$`)
)

// prose is the Markdown without fenced code blocks and code spans, where nothing is a link.
func prose(md string) string {
	return codeSpan.ReplaceAllString(fence.ReplaceAllString(md, ""), "")
}

// markdownLinks are the targets of the page's links and images: inline, reference
// definitions and HTML <a href>, <img src>.
func markdownLinks(md string) []string {
	text := prose(md)
	var links []string
	for _, re := range []*regexp.Regexp{inlineLink, refLink, htmlLink} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			links = append(links, m[1])
		}
	}
	return links
}

func isExternal(link string) bool {
	lower := strings.ToLower(link)
	for _, scheme := range []string{"http://", "https://", "mailto:", "ftp://", "//"} {
		if strings.HasPrefix(lower, scheme) {
			return true
		}
	}
	return false
}

// markdownAnchors are the fragments a page answers to: GitHub's slug of every heading (duplicates
// numbered -1, -2, …) and the id or name of every <a>.
func markdownAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(md, ""), -1) {
		slug := githubSlug(m[1])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	for _, m := range htmlAnchor.FindAllStringSubmatch(md, -1) {
		anchors[m[1]] = true
	}
	return anchors
}

var mdLinkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

// githubSlug is the anchor GitHub gives a heading: its text (a link's text, code without its
// backticks), lower case, without punctuation but hyphens and underscores, spaces turned hyphens.
func githubSlug(text string) string {
	text = mdLinkText.ReplaceAllString(text, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}
