// Test that the README's table of flags matches the flag set; -update-readme rewrites it.

package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's table of flags from the flag set")

const flagsBegin, flagsEnd = "<!-- flags:begin (make docs) -->\n", "<!-- flags:end -->"

// The README documents every flag exactly as the binary declares it.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	begin, end := strings.Index(readme, flagsBegin), strings.Index(readme, flagsEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md has no %q … %q block", strings.TrimSpace(flagsBegin), flagsEnd)
	}
	want := flagsMarkdown()
	got := readme[begin+len(flagsBegin) : end]
	if got == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(readme[:begin+len(flagsBegin)]+want+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's flags differ from the binary's: run make docs\n got:\n%s\nwant:\n%s", got, want)
}
