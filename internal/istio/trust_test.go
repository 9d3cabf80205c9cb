// Tests of ParseRootBundle on real certificates made with crypto/x509: RSA, ECDSA and Ed25519
// roots, an intermediate, a rotation's two roots, text between blocks and blocks that are not
// certificates.

package istio

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

// testCert is a certificate made for a test, with its key and PEM.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  string
	// fingerprint is the SHA-256 of the DER that x509.CreateCertificate gave.
	fingerprint string
}

// issue makes a certificate of template for key, signed by parent (itself
// when parent is nil).
func issue(t *testing.T, template *x509.Certificate, key crypto.Signer, parent *testCert) testCert {
	t.Helper()
	parentCert, parentKey := template, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return testCert{
		cert: cert, key: key, fingerprint: hex.EncodeToString(sum[:]),
		pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
	}
}

func caTemplate(serial int64, org, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{Organization: []string{org}, CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func TestParseRootBundle(t *testing.T) {
	// Times in another zone than UTC: the parsed ones must come out in UTC.
	zone := time.FixedZone("UTC+2", 2*3600)
	start := time.Date(2026, 1, 2, 5, 4, 5, 0, zone)
	end := time.Date(2036, 1, 2, 5, 4, 5, 0, zone)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	intermediateKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	rsaRoot := issue(t, caTemplate(0x1f2e3d, "cluster.local", "Root A", start, end), rsaKey, nil)
	ecRoot := issue(t, caTemplate(0xabc, "cluster.local", "Root B", start, end.AddDate(5, 0, 0)), ecKey, nil)
	edRoot := issue(t, caTemplate(7, "corp.example", "Root C", start, end), edKey, nil)
	intermediate := issue(t, caTemplate(0x10, "cluster.local", "Intermediate", start, end), intermediateKey, &rsaRoot)
	// Named as its issuer but signed by another key: issued by the same name,
	// not signed by itself.
	sameName := issue(t, caTemplate(0x11, "cluster.local", "Root A", start, end), intermediateKey, &rsaRoot)

	wantRSA := graph.RootCert{
		Fingerprint: rsaRoot.fingerprint, Subject: "CN=Root A,O=cluster.local", Issuer: "CN=Root A,O=cluster.local",
		Serial: "1f2e3d", NotBefore: start.UTC(), NotAfter: end.UTC(), KeyAlgorithm: "RSA", KeySize: 2048, SelfSigned: true,
	}
	wantEC := graph.RootCert{
		Fingerprint: ecRoot.fingerprint, Subject: "CN=Root B,O=cluster.local", Issuer: "CN=Root B,O=cluster.local",
		Serial: "abc", NotBefore: start.UTC(), NotAfter: end.AddDate(5, 0, 0).UTC(), KeyAlgorithm: "ECDSA", KeySize: 256, SelfSigned: true,
	}
	wantEd := graph.RootCert{
		Fingerprint: edRoot.fingerprint, Subject: "CN=Root C,O=corp.example", Issuer: "CN=Root C,O=corp.example",
		Serial: "7", NotBefore: start.UTC(), NotAfter: end.UTC(), KeyAlgorithm: "Ed25519", KeySize: 256, SelfSigned: true,
	}
	wantIntermediate := graph.RootCert{
		Fingerprint: intermediate.fingerprint, Subject: "CN=Intermediate,O=cluster.local", Issuer: "CN=Root A,O=cluster.local",
		Serial: "10", NotBefore: start.UTC(), NotAfter: end.UTC(), KeyAlgorithm: "ECDSA", KeySize: 256, SelfSigned: false,
	}
	wantSameName := graph.RootCert{
		Fingerprint: sameName.fingerprint, Subject: "CN=Root A,O=cluster.local", Issuer: "CN=Root A,O=cluster.local",
		Serial: "11", NotBefore: start.UTC(), NotAfter: end.UTC(), KeyAlgorithm: "ECDSA", KeySize: 256, SelfSigned: false,
	}

	keyDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	badDER := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not a certificate")}))
	truncated := rsaRoot.pem[:len(rsaRoot.pem)/2]

	tests := []struct {
		name     string
		pem      string
		want     []graph.RootCert
		wantErr  []string // each must be in the error; none: no error
		notInErr []string
	}{
		{name: "an RSA root", pem: rsaRoot.pem, want: []graph.RootCert{wantRSA}},
		{name: "an ECDSA root", pem: ecRoot.pem, want: []graph.RootCert{wantEC}},
		{name: "an Ed25519 root", pem: edRoot.pem, want: []graph.RootCert{wantEd}},
		{name: "a rotation: two roots, in the bundle's order", pem: ecRoot.pem + rsaRoot.pem, want: []graph.RootCert{wantEC, wantRSA}},
		{name: "an intermediate is not self-signed", pem: intermediate.pem + rsaRoot.pem, want: []graph.RootCert{wantIntermediate, wantRSA}},
		{name: "issuer named as subject but signed by another key is not self-signed", pem: sameName.pem, want: []graph.RootCert{wantSameName}},
		{
			name: "text before, between and after blocks is ignored",
			pem:  "# istio roots\n" + rsaRoot.pem + "\nsome text\n\n" + edRoot.pem + "trailing words",
			want: []graph.RootCert{wantRSA, wantEd},
		},
		{
			name:     "a private key and a bad DER are named, the certificates around them kept",
			pem:      rsaRoot.pem + keyPEM + badDER + ecRoot.pem,
			want:     []graph.RootCert{wantRSA, wantEC},
			wantErr:  []string{"block 2 is a PRIVATE KEY, not a CERTIFICATE", "block 3: x509: "},
			notInErr: []string{strings.Split(keyPEM, "\n")[1]}, // the key's own text is never echoed
		},
		{
			name:    "a block cut short",
			pem:     ecRoot.pem + truncated,
			want:    []graph.RootCert{wantEC},
			wantErr: []string{"1 PEM block(s) cut short or unreadable"},
		},
		{name: "only a private key", pem: keyPEM, wantErr: []string{"block 1 is a PRIVATE KEY, not a CERTIFICATE"}},
		{name: "empty", pem: "", wantErr: []string{"no PEM certificate"}},
		{name: "no PEM at all", pem: "root-cert.pem was here\n", wantErr: []string{"no PEM certificate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRootBundle(tc.pem)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("certificates\n got: %+v\nwant: %+v", got, tc.want)
			}
			for _, c := range got {
				if c.NotBefore.Location() != time.UTC || c.NotAfter.Location() != time.UTC {
					t.Errorf("%s: validity %v to %v, want UTC", c.Subject, c.NotBefore, c.NotAfter)
				}
			}
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Errorf("error %q, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one with %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			for _, not := range tc.notInErr {
				if strings.Contains(err.Error(), not) {
					t.Errorf("error %q echoes %q", err, not)
				}
			}
		})
	}
}
