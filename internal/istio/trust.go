// ParseRootBundle: the root certificates istiod distributes in every namespace's
// istio-ca-root-cert ConfigMap, parsed for the trust inventory.

package istio

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/meshlock/meshlock/internal/graph"
)

// Where the bundle comes from, in istio/istio: istiod's namespace controller
// (pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go,
// reconcileCACertAndCRL) writes, through InsertDataToConfigMap
// (security/pkg/k8s/configutil.go), the CA bundle it holds
// (pilot/pkg/keycertbundle/watcher.go, GetCABundle) into the ConfigMap
// CACertNamespaceConfigMap (pilot/pkg/features/experimental.go:
// PILOT_CA_CERT_CONFIGMAP, default istio-ca-root-cert) under the key
// CACertNamespaceConfigMapDataName (pkg/config/constants/constants.go:
// root-cert.pem), in every namespace istiod serves. The bundle is the
// concatenated PEM of every root proxies must trust: more than one while a
// root is being rotated.

// ParseRootBundle parses every CERTIFICATE block of a root bundle, in order.
// It returns what it could parse and, when something could not be, an error
// naming each such block by its position: a block of another type, one whose
// DER is no certificate, one cut short; "no PEM certificate" when there is no
// block at all. Text between blocks is ignored, as Go's and Envoy's own PEM
// readers ignore it.
func ParseRootBundle(pemText string) ([]graph.RootCert, error) {
	var (
		certs    []graph.RootCert
		problems []string
		blocks   int
	)
	rest := []byte(pemText)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		if block.Type != "CERTIFICATE" {
			// Named by its type only: a key put here by mistake must not be echoed.
			problems = append(problems, fmt.Sprintf("block %d is a %s, not a CERTIFICATE", blocks, block.Type))
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			problems = append(problems, fmt.Sprintf("block %d: %v", blocks, err))
			continue
		}
		certs = append(certs, describeCert(cert))
	}
	// pem.Decode skips a block it cannot read (no END line, bad base64) as if
	// it were text between blocks: count the BEGIN lines to tell.
	if begun := strings.Count(pemText, "-----BEGIN "); begun > blocks {
		problems = append(problems, fmt.Sprintf("%d PEM block(s) cut short or unreadable", begun-blocks))
	}
	if len(problems) > 0 {
		return certs, errors.New(strings.Join(problems, "; "))
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

func describeCert(cert *x509.Certificate) graph.RootCert {
	sum := sha256.Sum256(cert.Raw)
	out := graph.RootCert{
		Fingerprint: hex.EncodeToString(sum[:]),
		Subject:     cert.Subject.String(),
		Issuer:      cert.Issuer.String(),
		NotBefore:   cert.NotBefore.UTC(),
		NotAfter:    cert.NotAfter.UTC(),
		// Self-signed: issued by itself and verifying with its own key as a
		// CA would (CheckSignatureFrom also wants a CA that may sign
		// certificates, and refuses SHA-1 signatures).
		SelfSigned: bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil,
	}
	if cert.SerialNumber != nil {
		out.Serial = cert.SerialNumber.Text(16)
	}
	switch key := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		out.KeyAlgorithm, out.KeySize = "RSA", key.N.BitLen()
	case *ecdsa.PublicKey:
		out.KeyAlgorithm, out.KeySize = "ECDSA", key.Curve.Params().BitSize
	case ed25519.PublicKey:
		out.KeyAlgorithm, out.KeySize = "Ed25519", 256
	default:
		out.KeyAlgorithm = cert.PublicKeyAlgorithm.String()
	}
	return out
}
