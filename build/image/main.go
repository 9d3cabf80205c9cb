// Command image builds meshlock's container image without Docker and without
// a registry: an image equivalent to gcr.io/distroless/static:nonroot with the
// statically linked meshlock binary at /meshlock, assembled with
// go-containerregistry from nothing (empty.Image) plus one layer.
//
// The layer holds /meshlock (0755), the build machine's CA bundle at
// /etc/ssl/certs/ca-certificates.crt (Debian's ca-certificates package),
// /etc/passwd and /etc/group with root, nobody and nonroot (65532) as in
// distroless, /etc/nsswitch.conf, the home directories and /tmp (1777).
// The image runs as 65532:65532 with ENTRYPOINT ["/meshlock"] and exposes 8080/tcp.
//
// The output is one tar file that is at the same time an OCI image layout
// (oci-layout, index.json, blobs/sha256/...) and a `docker save` archive
// (manifest.json pointing into blobs/), so `docker load`, `podman load` and
// `skopeo copy oci-archive:...` all read it. Every timestamp is fixed
// (SOURCE_DATE_EPOCH, else 1970-01-01) and every tar is sorted, so the same
// inputs give the same digest and the same bytes.
//
//	cd build/image && go run . --binary ../../bin/meshlock-linux-amd64 --out ../../bin/meshlock-image.tar
//
// --binary may be repeated as --binary linux/arm64=PATH to build a
// multi-platform OCI image index; a bare PATH means linux/amd64.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// DefaultCACerts is where Debian's ca-certificates package puts the bundle,
	// and where the image keeps it (Go's crypto/x509 looks there first).
	DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"
	// NonRoot is distroless's nonroot user and group.
	NonRoot = 65532
	// Port is the port meshlock listens on (--addr :8080).
	Port = "8080/tcp"
)

// Binary is one platform's meshlock executable.
type Binary struct {
	Platform v1.Platform
	Path     string
}

// Options says what to build.
type Options struct {
	Binaries []Binary  // at least one; more than one gives an OCI image index
	CACerts  string    // PEM bundle copied to /etc/ssl/certs/ca-certificates.crt
	Tag      string    // e.g. meshlock:v1.2.3; names the image for docker/podman load
	Version  string    // org.opencontainers.image.version
	Source   string    // org.opencontainers.image.source
	Licenses string    // org.opencontainers.image.licenses (SPDX expression)
	Epoch    time.Time // every file mtime and the image's creation time
}

// Result is what Write reports.
type Result struct {
	Digest    v1.Hash            // what to pull or pin: the manifest's, or the index's when multi-platform
	MediaType types.MediaType    // of Digest
	Images    map[string]v1.Hash // platform -> image manifest digest
	ConfigIDs map[string]v1.Hash // platform -> config digest (the image ID `docker images` shows)
	Tag       string
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// binaryFlag collects repeated --binary [os/arch[/variant]=]PATH values.
type binaryFlag []Binary

func (b *binaryFlag) String() string { return fmt.Sprint(*b) }

func (b *binaryFlag) Set(s string) error {
	plat, path := "linux/amd64", s
	if i := strings.Index(s, "="); i > 0 && strings.HasPrefix(s, "linux/") {
		plat, path = s[:i], s[i+1:]
	}
	p, err := v1.ParsePlatform(plat)
	if err != nil {
		return err
	}
	if p.OS != "linux" || (p.Architecture != "amd64" && p.Architecture != "arm64") {
		return fmt.Errorf("platform %s: only linux/amd64 and linux/arm64 are supported", plat)
	}
	for _, have := range *b {
		if have.Platform.Equals(*p) {
			return fmt.Errorf("platform %s given twice", plat)
		}
	}
	*b = append(*b, Binary{Platform: *p, Path: path})
	return nil
}

func run(args []string, stdout io.Writer) error {
	fset := flag.NewFlagSet("image", flag.ContinueOnError)
	var bins binaryFlag
	fset.Var(&bins, "binary", "static meshlock binary, `[linux/ARCH=]PATH` (linux/amd64 when no platform is given); repeat for a multi-platform index")
	out := fset.String("out", "", "output tar: an OCI image layout that docker load and podman load also accept (required)")
	caCerts := fset.String("ca-certs", DefaultCACerts, "PEM CA bundle to install at "+DefaultCACerts+" (Debian: apt-get install ca-certificates)")
	version := fset.String("version", "", "image version label and default tag (default: git describe --tags --always --dirty, else \"dev\")")
	tag := fset.String("tag", "", "image name for docker/podman load (default meshlock:VERSION)")
	source := fset.String("source", "https://github.com/meshlock/meshlock", "org.opencontainers.image.source label")
	licenses := fset.String("licenses", "NOASSERTION", "org.opencontainers.image.licenses label (SPDX expression)")
	digestFile := fset.String("digest-file", "", "also write the image digest to this file")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fset.Args())
	}
	if len(bins) == 0 {
		return errors.New("--binary is required (build it with CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags \"-s -w\" ./cmd/server)")
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	if *version == "" {
		*version = gitDescribe()
	}
	if *tag == "" {
		*tag = "meshlock:" + tagSafe(*version)
	}
	res, err := Write(*out, Options{
		Binaries: bins,
		CACerts:  *caCerts,
		Tag:      *tag,
		Version:  *version,
		Source:   *source,
		Licenses: *licenses,
		Epoch:    epoch,
	})
	if err != nil {
		return err
	}
	plats := make([]string, 0, len(res.Images))
	for p := range res.Images {
		plats = append(plats, p)
	}
	slices.Sort(plats)
	for _, p := range plats {
		fmt.Fprintf(stdout, "%s: manifest %s, image ID %s\n", p, res.Images[p], res.ConfigIDs[p])
	}
	fmt.Fprintf(stdout, "wrote %s (%s, load with docker load -i or podman load -i)\n", *out, res.Tag)
	fmt.Fprintf(stdout, "digest %s\n", res.Digest)
	if *digestFile != "" {
		if err := os.WriteFile(*digestFile, []byte(res.Digest.String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// sourceDateEpoch honours SOURCE_DATE_EPOCH (reproducible-builds.org); the default is the Unix epoch.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func gitDescribe() string {
	out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

var notTagChar = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// tagSafe turns a version into a valid image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func tagSafe(v string) string {
	v = notTagChar.ReplaceAllString(v, "-")
	v = strings.TrimLeft(v, ".-")
	if len(v) > 128 {
		v = v[:128]
	}
	if v == "" {
		return "dev"
	}
	return v
}

// Build returns one image per binary, in the order given.
func Build(o Options) ([]v1.Image, error) {
	if len(o.Binaries) == 0 {
		return nil, errors.New("no binary")
	}
	ca, err := readCACerts(o.CACerts)
	if err != nil {
		return nil, err
	}
	var imgs []v1.Image
	for _, b := range o.Binaries {
		img, err := buildImage(o, b, ca)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

func readCACerts(path string) ([]byte, error) {
	if path == "" {
		path = DefaultCACerts
	}
	ca, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("CA bundle %s not found: install Debian's ca-certificates package (apt-get install ca-certificates) or pass --ca-certs", path)
	}
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	return ca, nil
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkBinary refuses what would not run in a distroless/static image: not a
// Linux ELF executable for the platform, or dynamically linked.
func checkBinary(b Binary) ([]byte, error) {
	data, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("binary %s is not an ELF executable (build with GOOS=linux): %w", b.Path, err)
	}
	defer f.Close()
	if want := elfMachine[b.Platform.Architecture]; f.Machine != want {
		return nil, fmt.Errorf("binary %s is for %s, not %s (set GOARCH=%s)", b.Path, f.Machine, b.Platform.String(), b.Platform.Architecture)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("binary %s is dynamically linked; the image has no libc: build with CGO_ENABLED=0", b.Path)
		}
	}
	return data, nil
}

func buildImage(o Options, b Binary, ca []byte) (v1.Image, error) {
	bin, err := checkBinary(b)
	if err != nil {
		return nil, err
	}
	layerTar, err := rootFS(o.Epoch, bin, ca)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: o.Epoch}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "meshlock build/image: /meshlock, CA certificates, nonroot user (distroless/static:nonroot equivalent)",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS = b.Platform.OS
	cf.Architecture = b.Platform.Architecture
	cf.Variant = b.Platform.Variant
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", NonRoot, NonRoot),
		Entrypoint:   []string{"/meshlock"},
		ExposedPorts: map[string]struct{}{Port: {}},
		WorkingDir:   "/",
		Env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"SSL_CERT_FILE=" + DefaultCACerts,
		},
		Labels: labels(o),
	}
	return mutate.ConfigFile(img, cf)
}

func labels(o Options) map[string]string {
	version := o.Version
	if version == "" {
		version = "dev"
	}
	l := map[string]string{
		"org.opencontainers.image.title":    "meshlock",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.licenses": o.Licenses,
		"org.opencontainers.image.source":   o.Source,
	}
	for k, v := range l {
		if v == "" {
			delete(l, k)
		}
	}
	return l
}

const passwd = `root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
`

const group = `root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
`

// Go's resolver reads it; distroless ships the same line.
const nsswitch = "hosts: files dns\n"

type entry struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte // nil for a directory
	dir      bool
}

// rootFS is the image's only layer, as an uncompressed tar sorted by name with fixed mtimes.
func rootFS(epoch time.Time, bin, ca []byte) ([]byte, error) {
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte(nsswitch)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: NonRoot, gid: NonRoot, dir: true},
		{name: "meshlock", mode: 0o755, data: bin},
		{name: "root/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: epoch,
			Format:  tar.FormatUSTAR,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write builds the image(s) and writes the archive to path (atomically).
func Write(path string, o Options) (*Result, error) {
	tag, err := name.NewTag(o.Tag, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("tag %q: %w", o.Tag, err)
	}
	imgs, err := Build(o)
	if err != nil {
		return nil, err
	}
	res := &Result{Images: map[string]v1.Hash{}, ConfigIDs: map[string]v1.Hash{}, Tag: tag.String()}
	blobs := map[string]blob{}
	addRaw := func(raw []byte) v1.Hash {
		h, _, _ := v1.SHA256(bytes.NewReader(raw))
		blobs[h.Hex] = blob{size: int64(len(raw)), open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(raw)), nil
		}}
		return h
	}
	type dockerEntry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var docker []dockerEntry
	var top v1.Descriptor
	// The platform index, written by hand: mutate's adds an artifactType to each
	// entry, which belongs to artifacts and referrers, not to runnable images.
	platforms := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for i, img := range imgs {
		plat := o.Binaries[i].Platform
		raw, err := img.RawManifest()
		if err != nil {
			return nil, err
		}
		mh := addRaw(raw)
		cfg, err := img.RawConfigFile()
		if err != nil {
			return nil, err
		}
		ch := addRaw(cfg)
		layers, err := img.Layers()
		if err != nil {
			return nil, err
		}
		var layerPaths []string
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return nil, err
			}
			size, err := l.Size()
			if err != nil {
				return nil, err
			}
			blobs[d.Hex] = blob{size: size, open: l.Compressed}
			layerPaths = append(layerPaths, "blobs/sha256/"+d.Hex)
		}
		res.Images[plat.String()] = mh
		res.ConfigIDs[plat.String()] = ch
		// docker load (classic store) reads manifest.json; one platform only, or
		// the tag would end on whichever came last.
		if i == 0 {
			docker = append(docker, dockerEntry{Config: "blobs/sha256/" + ch.Hex, RepoTags: []string{tag.String()}, Layers: layerPaths})
			top = v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mh, Size: int64(len(raw))}
		}
		platforms.Manifests = append(platforms.Manifests, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mh, Size: int64(len(raw)), Platform: &plat})
	}
	if len(imgs) > 1 {
		raw, err := json.Marshal(platforms)
		if err != nil {
			return nil, err
		}
		top = v1.Descriptor{MediaType: types.OCIImageIndex, Digest: addRaw(raw), Size: int64(len(raw))}
	}
	top.Annotations = map[string]string{
		// containerd (and so Docker's containerd image store) names the image from this,
		"io.containerd.image.name": fullName(tag),
		// and the OCI spec's own, which podman and skopeo read.
		"org.opencontainers.image.ref.name": tag.TagStr(),
	}
	res.Digest, res.MediaType = top.Digest, top.MediaType

	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{top}}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	manifestJSON, err := json.Marshal(docker)
	if err != nil {
		return nil, err
	}
	files := map[string]blob{
		"index.json":    bytesBlob(indexJSON),
		"manifest.json": bytesBlob(manifestJSON),
		"oci-layout":    bytesBlob([]byte(`{"imageLayoutVersion":"1.0.0"}`)),
	}
	for hex, b := range blobs {
		files["blobs/sha256/"+hex] = b
	}
	if err := writeTar(path, o.Epoch, files, []string{"blobs/", "blobs/sha256/"}); err != nil {
		return nil, err
	}
	return res, nil
}

// fullName is the reference as Docker and containerd spell it: docker.io/library/meshlock:dev.
func fullName(t name.Tag) string {
	reg := t.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + t.RepositoryStr() + ":" + t.TagStr()
}

type blob struct {
	size int64
	open func() (io.ReadCloser, error)
}

func bytesBlob(b []byte) blob {
	return blob{size: int64(len(b)), open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// writeTar writes files and dirs sorted by name, with fixed mtimes and owners,
// to a temporary file next to path that replaces path only when complete.
func writeTar(path string, epoch time.Time, files map[string]blob, dirs []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	names := slices.Concat(dirs)
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	tw := tar.NewWriter(tmp)
	for _, n := range names {
		h := &tar.Header{Name: n, ModTime: epoch, Format: tar.FormatUSTAR}
		b, isFile := files[n]
		if isFile {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, b.size
		} else {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !isFile {
			continue
		}
		rc, err := b.open()
		if err != nil {
			return err
		}
		written, err := io.Copy(tw, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		if written != b.size {
			return fmt.Errorf("%s: wrote %d bytes, want %d", n, written, b.size)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
