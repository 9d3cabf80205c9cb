// Package testbed starts real servers on loopback for integration tests:
// etcd and a kube-apiserver built from k8s.io/kubernetes with Istio's CRDs
// installed, and Debian's Prometheus. Everything it starts is stopped, and
// every folder it made removed, when the test ends, also when it fails.
package testbed

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Users the kube-apiserver knows by static token. AdminUser is in
// system:masters; UnprivilegedUser has no RBAC rights at all, for tests of
// forbidden writes.
const (
	AdminUser        = "admin"
	UnprivilegedUser = "alice"
)

// Cluster is a running kube-apiserver backed by its own etcd.
type Cluster struct {
	// URL is the kube-apiserver's https address on loopback.
	URL string
	// Kubeconfig is the path of a kubeconfig file for AdminUser.
	Kubeconfig string
	// RESTConfig talks to the cluster as AdminUser.
	RESTConfig *rest.Config

	caPEM  []byte
	tokens map[string]string

	// What StartAPIServer needs to run the kube-apiserver again as before:
	// same port, certificates, token file and etcd.
	dir           string
	apiserverBin  string
	apiserverArgs []string
	admin         *rest.Config // RESTConfig as made: a test may change the field
	mu            sync.Mutex
	apiserver     *process
	starts        int
}

// ConfigFor returns a rest.Config that talks to the cluster as user
// (AdminUser or UnprivilegedUser).
func (c *Cluster) ConfigFor(user string) *rest.Config {
	cfg := rest.CopyConfig(c.RESTConfig)
	cfg.BearerToken = c.tokens[user]
	return cfg
}

// Token returns user's bearer token.
func (c *Cluster) Token(user string) string { return c.tokens[user] }

// StartCluster starts etcd and kube-apiserver on free loopback ports, waits
// until the API is ready and Istio's CRDs are established, and stops both
// when the test ends.
func StartCluster(t TB) *Cluster {
	t.Helper()
	apiserverBin := findBinary(t, "kube-apiserver")
	etcdBin := findBinary(t, "etcd")
	crdPath := istioCRDFile(t)
	dir := t.TempDir()

	etcdURL := startEtcd(t, etcdBin, dir)

	certFile, keyFile, caPEM := writeServingCert(t, dir)
	saKey := writeServiceAccountKey(t, dir)
	tokens := map[string]string{AdminUser: randomToken(t), UnprivilegedUser: randomToken(t)}
	tokenFile := filepath.Join(dir, "tokens.csv")
	tokenCSV := fmt.Sprintf("%s,%s,uid-admin,\"system:masters\"\n%s,%s,uid-alice\n",
		tokens[AdminUser], AdminUser, tokens[UnprivilegedUser], UnprivilegedUser)
	writeFile(t, tokenFile, tokenCSV)

	port := FreePort(t)
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// No kubernetes Endpoints for a loopback address: it would be refused.
		"--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + saKey,
		"--service-account-signing-key-file=" + saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}

	url := "https://" + loopback(port)
	cfg := &rest.Config{
		Host:            url,
		BearerToken:     tokens[AdminUser],
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		QPS:             200,
		Burst:           400,
	}
	c := &Cluster{URL: url, RESTConfig: cfg, caPEM: caPEM, tokens: tokens,
		dir: dir, apiserverBin: apiserverBin, apiserverArgs: args, admin: rest.CopyConfig(cfg)}
	c.startAPIServer(t)
	c.Kubeconfig = writeKubeconfig(t, dir, c)
	if err := installCRDs(cfg, crdPath); err != nil {
		t.Fatalf("testbed: Istio CRDs: %v", err)
	}
	return c
}

// StopAPIServer stops the cluster's kube-apiserver (SIGTERM, SIGKILL after
// 10s) and returns once it has exited: its address refuses connections
// until StartAPIServer. etcd keeps running. Stopping a stopped API server
// does nothing.
func (c *Cluster) StopAPIServer() {
	c.mu.Lock()
	p := c.apiserver
	c.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// StartAPIServer starts the kube-apiserver again after StopAPIServer, on
// the same address with the same certificate, tokens and etcd, so that
// URL, RESTConfig, ConfigFor and Kubeconfig work as before. It returns once
// /readyz answers and Istio's APIs are served again; the new process is
// stopped when t's test ends. It fails t if the API server is running.
func (c *Cluster) StartAPIServer(t TB) {
	t.Helper()
	c.startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Discovery of CRD groups can lag /readyz; StartCluster promises them.
	if err := waitServed(ctx, c.admin, "networking.istio.io/v1", "security.istio.io/v1"); err != nil {
		t.Fatalf("testbed: after restart: %v", err)
	}
}

// startAPIServer runs the kube-apiserver and waits until /readyz answers.
func (c *Cluster) startAPIServer(t TB) {
	t.Helper()
	c.mu.Lock()
	if c.apiserver != nil && c.apiserver.exited() == nil {
		c.mu.Unlock()
		t.Fatalf("testbed: the kube-apiserver at %s is running: StopAPIServer first", c.URL)
	}
	c.starts++
	// A log file per run: the stopped server's log stays for a failure's report.
	name := "kube-apiserver"
	if c.starts > 1 {
		name = fmt.Sprintf("kube-apiserver-%d", c.starts)
	}
	p := startProcess(t, c.dir, name, c.apiserverBin, c.apiserverArgs...)
	c.apiserver = p
	c.mu.Unlock()
	httpClient, err := rest.HTTPClientFor(c.admin)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	if err := p.waitReady(60*time.Second, httpOK(httpClient, c.URL+"/readyz", nil)); err != nil {
		t.Fatalf("testbed: %v", err)
	}
}

func startEtcd(t TB, bin, dir string) string {
	t.Helper()
	clientURL := "http://" + loopback(FreePort(t))
	peerURL := "http://" + loopback(FreePort(t))
	etcd := startProcess(t, dir, "etcd", bin,
		"--name=testbed",
		"--data-dir="+filepath.Join(dir, "etcd-data"),
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=testbed="+peerURL,
		"--log-level=warn",
	)
	if err := etcd.waitReady(30*time.Second, httpOK(http.DefaultClient, clientURL+"/health", nil)); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return clientURL
}

// istioCRDFile finds Istio's CRDs in the istio.io/api module at the version
// meshlock's go.mod requires, so the CRDs always match the client.
func istioCRDFile(t TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("testbed: locating the istio.io/api module: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "kubernetes", "customresourcedefinitions.gen.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("testbed: Istio CRDs: %v", err)
	}
	return path
}

// installCRDs creates every CRD in the file and waits until each is
// established and served, so a test can use Istio's types right away.
func installCRDs(cfg *rest.Config, path string) error {
	client, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var names []string
	decoder := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := decoder.Decode(&crd); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if crd.Name == "" {
			continue
		}
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("%s holds no CRD", path)
	}
	for _, name := range names {
		if err := waitEstablished(ctx, client, name); err != nil {
			return err
		}
	}
	return waitServed(ctx, cfg, "networking.istio.io/v1", "security.istio.io/v1")
}

func waitEstablished(ctx context.Context, client apiextensions.Interface, name string) error {
	for {
		crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("CRD %s: %w", name, err)
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitServed waits until discovery lists the group versions: a client's
// REST mapper reads discovery, and an established CRD is not always in it yet.
func waitServed(ctx context.Context, cfg *rest.Config, groupVersions ...string) error {
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	for _, gv := range groupVersions {
		for {
			list, err := disc.ServerResourcesForGroupVersion(gv)
			if err == nil && len(list.APIResources) > 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not served: %v", gv, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// writeServingCert makes a self-signed certificate for 127.0.0.1 so clients
// verify the server instead of skipping verification.
func writeServingCert(t TB, dir string) (certFile, keyFile string, caPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "meshlock-testbed"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile = filepath.Join(dir, "serving.crt")
	keyFile = filepath.Join(dir, "serving.key")
	writeFile(t, certFile, string(caPEM))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile, caPEM
}

func writeServiceAccountKey(t TB, dir string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	path := filepath.Join(dir, "service-account.key")
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	return path
}

func writeKubeconfig(t TB, dir string, c *Cluster) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testbed"] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthorityData: c.caPEM}
	cfg.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{Token: c.tokens[AdminUser]}
	cfg.AuthInfos[UnprivilegedUser] = &clientcmdapi.AuthInfo{Token: c.tokens[UnprivilegedUser]}
	cfg.Contexts["testbed"] = &clientcmdapi.Context{Cluster: "testbed", AuthInfo: AdminUser}
	cfg.Contexts[UnprivilegedUser] = &clientcmdapi.Context{Cluster: "testbed", AuthInfo: UnprivilegedUser}
	cfg.CurrentContext = "testbed"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatalf("testbed: kubeconfig: %v", err)
	}
	return path
}

func randomToken(t TB) string {
	t.Helper()
	return rand.Text()
}

func writeFile(t TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("testbed: %v", err)
	}
}
