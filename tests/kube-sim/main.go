// kube-sim is a small stand-in for kube-apiserver, for tests and the demo.
// It serves leases, configmaps, namespaces, tokenreviews,
// validatingwebhookconfigurations, customresourcedefinitions and the custom
// resources they define over TLS (HTTP/2 and HTTP/1.1), calls
// registered validating webhooks the way kube-apiserver does, and takes fault
// injections on a plain-HTTP control port.  See README.md.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// userInfo is authentication.k8s.io/v1 UserInfo.
type userInfo struct {
	Token    string              `json:"token,omitempty"`
	Username string              `json:"username"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// userDB holds the admin user and the users of DIR/users.json, re-read when
// the file changes.
type userDB struct {
	mu      sync.Mutex
	path    string
	modTime time.Time
	size    int64
	users   map[string]userInfo
	admin   userInfo
}

func (db *userDB) lookup(token string) (userInfo, bool) {
	if token == "" {
		return userInfo{}, false
	}
	if token == db.admin.Token {
		return db.admin, true
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.reloadLocked()
	u, ok := db.users[token]
	return u, ok
}

func (db *userDB) reloadLocked() {
	if db.path == "" {
		return
	}
	st, err := os.Stat(db.path)
	if err != nil {
		db.users = nil
		db.modTime = time.Time{}
		return
	}
	if st.ModTime().Equal(db.modTime) && st.Size() == db.size && db.users != nil {
		return
	}
	data, err := os.ReadFile(db.path)
	if err != nil {
		return
	}
	var list []userInfo
	if err := json.Unmarshal(data, &list); err != nil {
		log.Printf("kube-sim: %s: %v (keeping the previous users)", db.path, err)
		return
	}
	m := map[string]userInfo{}
	for _, u := range list {
		if u.Token != "" {
			m[u.Token] = u
		}
	}
	db.users = m
	db.modTime = st.ModTime()
	db.size = st.Size()
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// newUID returns an RFC 4122 version 4 UUID string.
func newUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// certs holds kube-sim's CA and serving certificate.
type certs struct {
	caPEM   []byte
	serving tls.Certificate
}

// loadOrMakeCA reuses DIR/ca.crt + DIR/ca.key when both exist, else makes a new CA.
func loadOrMakeCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	crtPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if crtPEM, err := os.ReadFile(crtPath); err == nil {
		if keyPEM, err := os.ReadFile(keyPath); err == nil {
			cb, _ := pem.Decode(crtPEM)
			kb, _ := pem.Decode(keyPEM)
			if cb != nil && kb != nil {
				crt, err1 := x509.ParseCertificate(cb.Bytes)
				key, err2 := x509.ParseECPrivateKey(kb.Bytes)
				if err1 == nil && err2 == nil {
					return crt, key, crtPEM, nil
				}
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kube-sim-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	crt, _ := x509.ParseCertificate(der)
	crtPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kder, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := writeFileAtomic(keyPath, keyPEM, 0600); err != nil {
		return nil, nil, nil, err
	}
	if err := writeFileAtomic(crtPath, crtPEM, 0644); err != nil {
		return nil, nil, nil, err
	}
	return crt, key, crtPEM, nil
}

// issueCert signs a serving certificate for DNS names and IPs with the CA.
func issueCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, dnsNames []string, ips []net.IP) (tls.Certificate, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	crtPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kder, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	cert, err := tls.X509KeyPair(crtPEM, keyPEM)
	return cert, crtPEM, keyPEM, err
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func kubeconfigText(server string, caPEM []byte, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kube-sim
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: kube-admin
  user:
    token: %s
contexts:
- name: kube-sim
  context:
    cluster: kube-sim
    user: kube-admin
    namespace: default
current-context: kube-sim
`, server, base64.StdEncoding.EncodeToString(caPEM), token)
}

// options are the command-line settings.
type options struct {
	addr             string
	controlAddr      string
	dir              string
	services         stringList
	bookmarkInterval time.Duration
	historySize      int
	quiet            bool
	crdCreateDelay   time.Duration
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "test-webhook" {
		os.Exit(testWebhookMain(os.Args[2:]))
	}
	log.SetFlags(0)
	var o options
	fs := flag.NewFlagSet("kube-sim", flag.ExitOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:6443", "`HOST:PORT` of the API (TLS); port 0 picks one, written to DIR/addr")
	fs.StringVar(&o.controlAddr, "control-addr", "", "`HOST:PORT` of the plain-HTTP control port (faults, log); port 0 picks one, written to DIR/control-addr")
	fs.StringVar(&o.dir, "dir", "", "state `DIR`: writes ca.crt, ca.key, kubeconfig, token, addr; reads users.json")
	fs.Var(&o.services, "service", "`NS/NAME=HOST:PORT`: where the Service NS/NAME of webhook clientConfig.service is reached (repeatable)")
	fs.DurationVar(&o.bookmarkInterval, "bookmark-interval", time.Minute, "how often a watch with allowWatchBookmarks gets a BOOKMARK (kube-apiserver: about 1m, and 2s before the watch times out)")
	fs.IntVar(&o.historySize, "history", 10000, "how many events are kept for watches; older resourceVersions get 410 Gone")
	fs.BoolVar(&o.quiet, "quiet", false, "no per-request log lines")
	fs.DurationVar(&o.crdCreateDelay, "crd-create-delay", 2*time.Second, "how long a create of a custom resource is held when its CRD became Established less than that long ago (kube-apiserver: 2s)")
	_ = fs.Parse(os.Args[1:])
	if o.dir == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: kube-sim --addr 127.0.0.1:PORT --dir DIR [--control-addr 127.0.0.1:PORT] [--service NS/NAME=HOST:PORT ...]")
		fmt.Fprintln(os.Stderr, "       kube-sim test-webhook --addr 127.0.0.1:PORT --dir DIR [--service-name NAME.NS.svc] ...")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		log.Printf("kube-sim: %v", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if err := os.MkdirAll(o.dir, 0755); err != nil {
		return err
	}
	sim, err := newSim(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	var cln net.Listener
	if o.controlAddr != "" {
		if cln, err = net.Listen("tcp", o.controlAddr); err != nil {
			return err
		}
	}
	if err := sim.writeFiles(ln.Addr().String()); err != nil {
		return err
	}
	if cln != nil {
		if err := writeFileAtomic(filepath.Join(o.dir, "control-addr"), []byte(cln.Addr().String()+"\n"), 0644); err != nil {
			return err
		}
		go func() {
			srv := &http.Server{Handler: sim.controlHandler(), ReadHeaderTimeout: 10 * time.Second}
			log.Printf("kube-sim: control port on http://%s", cln.Addr())
			if err := srv.Serve(cln); err != nil {
				log.Printf("kube-sim: control port: %v", err)
			}
		}()
	}
	if err := writeFileAtomic(filepath.Join(o.dir, "addr"), []byte(ln.Addr().String()+"\n"), 0644); err != nil {
		return err
	}
	log.Printf("kube-sim: serving https://%s (HTTP/2 and HTTP/1.1), kubeconfig %s", ln.Addr(), filepath.Join(o.dir, "kubeconfig"))
	srv := sim.apiServer()
	err = srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
