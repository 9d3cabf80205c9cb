// Tests of the image builder: the tar's OCI layout and docker-save manifest, reproducible bytes,
// multi-platform indexes, refused inputs (scripts, dynamic binaries, bad CA bundles), flags, tag sanitising.

package main

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// A tiny static Go program stands in for meshlock: a real Linux ELF executable,
// so the builder's checks (ELF, architecture, no interpreter) see what they would.
const fakeMain = "package main\n\nfunc main() { println(\"fake meshlock\") }\n"

var (
	fakeOnce sync.Map // GOARCH -> *fakeBuild
)

type fakeBuild struct {
	once sync.Once
	path string
	err  error
}

func fakeBinary(t *testing.T, goarch string) string {
	t.Helper()
	v, _ := fakeOnce.LoadOrStore(goarch, &fakeBuild{})
	fb := v.(*fakeBuild)
	fb.once.Do(func() {
		dir, err := os.MkdirTemp("", "meshlock-image-fake-")
		if err != nil {
			fb.err = err
			return
		}
		src := filepath.Join(dir, "main.go")
		if err := os.WriteFile(src, []byte(fakeMain), 0o644); err != nil {
			fb.err = err
			return
		}
		fb.path = filepath.Join(dir, "meshlock-linux-"+goarch)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", fb.path, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=-buildvcs=false", "GO111MODULE=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			fb.err = errors.New(err.Error() + ": " + string(out))
		}
	})
	if fb.err != nil {
		t.Fatalf("building the fake binary for %s: %v", goarch, fb.err)
	}
	return fb.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	fakeOnce.Range(func(_, v any) bool {
		if p := v.(*fakeBuild).path; p != "" {
			os.RemoveAll(filepath.Dir(p))
		}
		return true
	})
	os.Exit(code)
}

// testCA writes a PEM bundle with one self-signed certificate, so the tests
// do not depend on the machine's ca-certificates package.
func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "meshlock test CA"},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca-certificates.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func testOptions(t *testing.T, ca string, bins ...Binary) Options {
	return Options{
		Binaries: bins,
		CACerts:  ca,
		Tag:      "meshlock:v1.2.3",
		Version:  "v1.2.3",
		Source:   "https://github.com/meshlock/meshlock",
		Licenses: "Apache-2.0",
		Epoch:    time.Unix(0, 0).UTC(),
	}
}

func amd64(t *testing.T) Binary {
	return Binary{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Path: fakeBinary(t, "amd64")}
}

// archive reads the output tar into memory: name -> header and contents.
type archive struct {
	names   []string
	headers map[string]*tar.Header
	files   map[string][]byte
}

func readArchive(t *testing.T, r io.Reader) archive {
	t.Helper()
	a := archive{headers: map[string]*tar.Header{}, files: map[string][]byte{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		a.names = append(a.names, h.Name)
		a.headers[h.Name] = h
		a.files[h.Name] = b
	}
	return a
}

func (a archive) checkSortedAndFixed(t *testing.T, what string, epoch time.Time) {
	t.Helper()
	if !slices.IsSorted(a.names) {
		t.Errorf("%s: entries not sorted: %q", what, a.names)
	}
	for _, n := range a.names {
		if h := a.headers[n]; !h.ModTime.Equal(epoch) {
			t.Errorf("%s: %s has mtime %v, want %v", what, n, h.ModTime, epoch)
		}
	}
}

func TestImage(t *testing.T) {
	ca := testCA(t)
	bin := amd64(t)
	out := filepath.Join(t.TempDir(), "bin", "meshlock-image.tar")
	res, err := Write(out, testOptions(t, ca, bin))
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(0, 0)

	// The archive itself: an OCI image layout plus docker save's manifest.json.
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := readArchive(t, f)
	a.checkSortedAndFixed(t, "archive", epoch)
	for _, n := range []string{"oci-layout", "index.json", "manifest.json", "blobs/sha256/" + res.Digest.Hex} {
		if _, ok := a.files[n]; !ok {
			t.Errorf("archive lacks %s; has %q", n, a.names)
		}
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(a.files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != res.Digest || index.Manifests[0].MediaType != types.OCIManifestSchema1 {
		t.Fatalf("index.json = %s, want the one image manifest %s", a.files["index.json"], res.Digest)
	}
	if got := index.Manifests[0].Annotations["io.containerd.image.name"]; got != "docker.io/library/meshlock:v1.2.3" {
		t.Errorf("io.containerd.image.name = %q", got)
	}
	if got := index.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != "v1.2.3" {
		t.Errorf("org.opencontainers.image.ref.name = %q", got)
	}

	// The docker save side, read as docker load would.
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("docker archive image invalid: %v", err)
	}
	// docker load keeps the config (the image ID), not the manifest.
	if id, _ := img.ConfigName(); id != res.ConfigIDs["linux/amd64"] {
		t.Errorf("manifest.json image ID %s, want %s", id, res.ConfigIDs["linux/amd64"])
	}
	var dm []struct{ RepoTags []string }
	if err := json.Unmarshal(a.files["manifest.json"], &dm); err != nil || len(dm) != 1 || !slices.Equal(dm[0].RepoTags, []string{"meshlock:v1.2.3"}) {
		t.Errorf("manifest.json = %s (%v)", a.files["manifest.json"], err)
	}

	// The OCI layout side, unpacked and read as podman or skopeo would.
	dir := t.TempDir()
	for n, b := range a.files {
		if a.headers[n].Typeflag == tar.TypeDir {
			continue
		}
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	oimg, err := lp.Image(res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(oimg); err != nil {
		t.Fatalf("OCI layout image invalid: %v", err)
	}

	// Manifest and config, from the OCI side (whose manifest is the digest printed).
	img = oimg
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("manifest media types: %+v", m)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if !cf.Created.Equal(epoch) {
		t.Errorf("created %v", cf.Created)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("User = %q", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/meshlock"}) || len(c.Cmd) != 0 {
		t.Errorf("Entrypoint = %q, Cmd = %q", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	}
	if c.WorkingDir != "/" {
		t.Errorf("WorkingDir = %q", c.WorkingDir)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.source":   "https://github.com/meshlock/meshlock",
		"org.opencontainers.image.title":    "meshlock",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.version":  "v1.2.3",
	}
	for k, v := range wantLabels {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !slices.Contains(c.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt") {
		t.Errorf("Env = %q", c.Env)
	}
	if res.ConfigIDs["linux/amd64"] != m.Config.Digest {
		t.Errorf("reported image ID %s, config is %s", res.ConfigIDs["linux/amd64"], m.Config.Digest)
	}

	// The one layer: the root file system.
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	fs := readArchive(t, rc)
	fs.checkSortedAndFixed(t, "layer", epoch)
	binData, _ := os.ReadFile(bin.Path)
	caData, _ := os.ReadFile(ca)
	type want struct {
		typ      byte
		mode     int64
		uid, gid int
		data     []byte
	}
	wants := map[string]want{
		"meshlock":                          {tar.TypeReg, 0o755, 0, 0, binData},
		"etc/ssl/certs/ca-certificates.crt": {tar.TypeReg, 0o644, 0, 0, caData},
		"etc/passwd":                        {tar.TypeReg, 0o644, 0, 0, nil},
		"etc/group":                         {tar.TypeReg, 0o644, 0, 0, nil},
		"tmp/":                              {tar.TypeDir, 0o1777, 0, 0, nil},
		"home/nonroot/":                     {tar.TypeDir, 0o700, 65532, 65532, nil},
		"etc/":                              {tar.TypeDir, 0o755, 0, 0, nil},
		"etc/ssl/certs/":                    {tar.TypeDir, 0o755, 0, 0, nil},
	}
	for n, w := range wants {
		h, ok := fs.headers[n]
		if !ok {
			t.Errorf("layer lacks /%s; has %q", n, fs.names)
			continue
		}
		if h.Typeflag != w.typ || h.Mode != w.mode || h.Uid != w.uid || h.Gid != w.gid {
			t.Errorf("/%s: type %c mode %o owner %d:%d, want type %c mode %o owner %d:%d", n, h.Typeflag, h.Mode, h.Uid, h.Gid, w.typ, w.mode, w.uid, w.gid)
		}
		if w.data != nil && !bytes.Equal(fs.files[n], w.data) {
			t.Errorf("/%s: contents differ from the input (%d bytes, want %d)", n, len(fs.files[n]), len(w.data))
		}
	}
	if !strings.Contains(string(fs.files["etc/passwd"]), "\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n") ||
		!strings.HasPrefix(string(fs.files["etc/passwd"]), "root:x:0:0:") {
		t.Errorf("/etc/passwd:\n%s", fs.files["etc/passwd"])
	}
	if !strings.Contains(string(fs.files["etc/group"]), "\nnonroot:x:65532:\n") {
		t.Errorf("/etc/group:\n%s", fs.files["etc/group"])
	}
	for _, n := range fs.names {
		if strings.HasPrefix(n, "/") || strings.Contains(n, "..") {
			t.Errorf("layer entry %q is not a clean relative path", n)
		}
	}
}

func TestReproducible(t *testing.T) {
	ca := testCA(t)
	bin := amd64(t)
	dir := t.TempDir()
	var digests []v1.Hash
	var sums [][32]byte
	for i, name := range []string{"a.tar", "b.tar"} {
		if i == 1 {
			// Nothing about the inputs' own mtimes or the wall clock may leak in.
			later := time.Now().Add(time.Hour)
			os.Chtimes(bin.Path, later, later)
			os.Chtimes(ca, later, later)
		}
		res, err := Write(filepath.Join(dir, name), testOptions(t, ca, bin))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, res.Digest)
		b, _ := os.ReadFile(filepath.Join(dir, name))
		sums = append(sums, sha256.Sum256(b))
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds gave digests %s and %s", digests[0], digests[1])
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds gave different archives (same digest %v)", digests[0] == digests[1])
	}

	// A different SOURCE_DATE_EPOCH is a different image, deterministically.
	o := testOptions(t, ca, bin)
	o.Epoch = time.Unix(1700000000, 0).UTC()
	res, err := Write(filepath.Join(dir, "c.tar"), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest == digests[0] {
		t.Errorf("changing the epoch did not change the digest")
	}
}

func TestMultiPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles for arm64")
	}
	ca := testCA(t)
	arm := Binary{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Path: fakeBinary(t, "arm64")}
	out := filepath.Join(t.TempDir(), "multi.tar")
	res, err := Write(out, testOptions(t, ca, amd64(t), arm))
	if err != nil {
		t.Fatal(err)
	}
	if res.MediaType != types.OCIImageIndex || len(res.Images) != 2 {
		t.Fatalf("result %+v, want an index of two images", res)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := readArchive(t, f)
	dir := t.TempDir()
	for n, b := range a.files {
		if a.headers[n].Typeflag == tar.TypeDir {
			continue
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755)
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	inner, err := idx.ImageIndex(res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(inner); err != nil {
		t.Fatal(err)
	}
	im, err := inner.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, d := range im.Manifests {
		plats = append(plats, d.Platform.String())
		if d.ArtifactType != "" || d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: descriptor %+v, want a plain image manifest", d.Platform, d)
		}
		if d.Digest != res.Images[d.Platform.String()] {
			t.Errorf("%s: index has %s, result %s", d.Platform, d.Digest, res.Images[d.Platform.String()])
		}
	}
	if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %q", plats)
	}
	// docker load's manifest.json names the amd64 image only.
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := img.ConfigName(); id != res.ConfigIDs["linux/amd64"] {
		t.Errorf("manifest.json image ID %s, want linux/amd64's %s", id, res.ConfigIDs["linux/amd64"])
	}
}

func TestRefusals(t *testing.T) {
	ca := testCA(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755)
	notPEM := filepath.Join(dir, "empty.crt")
	os.WriteFile(notPEM, []byte("no certificates here\n"), 0o644)
	bin := amd64(t)
	cases := []struct {
		name string
		o    func() Options
		want string
	}{
		{"missing CA bundle", func() Options {
			return testOptions(t, filepath.Join(dir, "nope.crt"), bin)
		}, "apt-get install ca-certificates"},
		{"CA bundle without certificates", func() Options { return testOptions(t, notPEM, bin) }, "no PEM certificate"},
		{"not ELF", func() Options {
			return testOptions(t, ca, Binary{Platform: bin.Platform, Path: script})
		}, "not an ELF"},
		{"wrong architecture", func() Options {
			return testOptions(t, ca, Binary{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}, Path: bin.Path})
		}, "GOARCH=arm64"},
		{"bad tag", func() Options {
			o := testOptions(t, ca, bin)
			o.Tag = "Meshlock:UPPER case"
			return o
		}, "tag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "out.tar")
			_, err := Write(out, c.o())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a failed build left %s behind", out)
			}
		})
	}
}

func TestDynamicBinaryRefused(t *testing.T) {
	// Any dynamically linked Linux executable on the machine will do.
	var dyn string
	for _, p := range []string{"/bin/sh", "/usr/bin/env", "/bin/ls"} {
		if _, err := os.Stat(p); err == nil {
			dyn = p
			break
		}
	}
	if dyn == "" {
		t.Skip("no dynamically linked executable found")
	}
	resolved, _ := filepath.EvalSymlinks(dyn)
	_, err := checkBinary(Binary{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Path: resolved})
	if err == nil {
		t.Skipf("%s is not a dynamically linked amd64 binary here", resolved)
	}
	if !strings.Contains(err.Error(), "CGO_ENABLED=0") && !strings.Contains(err.Error(), "GOARCH") {
		t.Errorf("err = %v", err)
	}
}

func TestRunFlags(t *testing.T) {
	ca := testCA(t)
	bin := amd64(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "img.tar")
	digestFile := filepath.Join(dir, "digest")
	var stdout bytes.Buffer
	err := run([]string{"--binary", bin.Path, "--ca-certs", ca, "--version", "v0.1.0+build/7", "--out", out, "--digest-file", digestFile}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := os.ReadFile(digestFile)
	if !strings.HasPrefix(string(d), "sha256:") || !strings.Contains(stdout.String(), "digest "+strings.TrimSpace(string(d))) {
		t.Errorf("stdout %q, digest file %q", stdout.String(), d)
	}
	if !strings.Contains(stdout.String(), "meshlock:v0.1.0-build-7") {
		t.Errorf("want the version made tag-safe in %q", stdout.String())
	}
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.Labels["org.opencontainers.image.version"] != "v0.1.0+build/7" {
		t.Errorf("version label %q", cf.Config.Labels["org.opencontainers.image.version"])
	}

	for _, args := range [][]string{
		{"--out", out},
		{"--binary", bin.Path},
		{"--binary", "windows/amd64=" + bin.Path, "--out", out},
		{"--binary", bin.Path, "--binary", "linux/amd64=" + bin.Path, "--out", out},
	} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

func TestTagSafe(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":                 "v1.2.3",
		"c9082a8-dirty":          "c9082a8-dirty",
		"v1.0.0-3-gabc+meta/x":   "v1.0.0-3-gabc-meta-x",
		".hidden":                "hidden",
		"":                       "dev",
		strings.Repeat("a", 200): strings.Repeat("a", 128),
	} {
		if got := tagSafe(in); got != want {
			t.Errorf("tagSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
