package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type env struct {
	t      testing.TB
	s      *sim
	base   string
	h2     *http.Client
	h1     *http.Client
	ctl    *httptest.Server
	token  string
	dir    string
	caPool *x509.CertPool
}

func newEnv(t testing.TB, mod ...func(*options)) *env {
	t.Helper()
	dir := t.TempDir()
	o := options{dir: dir, historySize: 10000, bookmarkInterval: time.Minute, quiet: true}
	for _, m := range mod {
		m(&o)
	}
	s, err := newSim(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeFiles(ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	srv := s.apiServer()
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	ctl := httptest.NewServer(s.controlHandler())
	t.Cleanup(func() { srv.Close(); ctl.Close() })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.certs.caPEM)
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}, Timeout: 20 * time.Second}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}, Timeout: 20 * time.Second}
	return &env{t: t, s: s, base: "https://" + ln.Addr().String(), h2: h2, h1: h1, ctl: ctl, token: s.users.admin.Token, dir: dir, caPool: pool}
}

type resp struct {
	code int
	body map[string]interface{}
	raw  string
	hdr  http.Header
	prot string
}

func (e *env) req(c *http.Client, method, path, token, ctype string, body interface{}) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	r, _ := http.NewRequest(method, e.base+path, rd)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		if ctype == "" {
			ctype = "application/json"
		}
		r.Header.Set("Content-Type", ctype)
	}
	res, err := c.Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{code: res.StatusCode, raw: string(raw), hdr: res.Header, prot: res.Proto}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	_ = d.Decode(&out.body)
	return out
}

func (e *env) do(method, path string, body interface{}) resp {
	e.t.Helper()
	return e.req(e.h2, method, path, e.token, "", body)
}

func (e *env) ctlPost(path string) map[string]interface{} {
	e.t.Helper()
	res, err := http.Post(e.ctl.URL+path, "", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]interface{}
	_ = json.NewDecoder(res.Body).Decode(&m)
	if res.StatusCode != 200 {
		e.t.Fatalf("control %s: %d %v", path, res.StatusCode, m)
	}
	return m
}

// stats is the control port's GET /stats.
func (e *env) stats() map[string]interface{} {
	e.t.Helper()
	res, err := http.Get(e.ctl.URL + "/stats")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]interface{}
	_ = json.NewDecoder(res.Body).Decode(&m)
	return m
}

func (e *env) logEntries(since int64) []map[string]interface{} {
	e.t.Helper()
	res, err := http.Get(e.ctl.URL + "/log?since=" + itoa(since))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out []map[string]interface{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]interface{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			e.t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func (e *env) writeUsers(users []userInfo) {
	e.t.Helper()
	b, _ := json.Marshal(users)
	p := filepath.Join(e.dir, "users.json")
	if err := os.WriteFile(p+".tmp", b, 0644); err != nil {
		e.t.Fatal(err)
	}
	// Make sure the mtime changes even within one clock tick.
	future := time.Now().Add(time.Duration(len(b)) * time.Millisecond)
	_ = os.Chtimes(p+".tmp", future, future)
	if err := os.Rename(p+".tmp", p); err != nil {
		e.t.Fatal(err)
	}
}

func lease(name string, holder string, dur int) map[string]interface{} {
	return map[string]interface{}{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]interface{}{"name": name},
		"spec": map[string]interface{}{"holderIdentity": holder, "leaseDurationSeconds": dur,
			"renewTime": "2026-11-24T06:12:00.123456Z", "acquireTime": "2026-11-24T06:12:00.000000Z", "leaseTransitions": 0}}
}

const leasesPath = "/apis/coordination.k8s.io/v1/namespaces/default/leases"

func mustCode(t *testing.T, what string, r resp, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: want %d, got %d: %s", what, code, r.code, r.raw)
	}
}

// wantStatus checks a failure Status exactly, field by field.
func wantStatus(t *testing.T, what string, r resp, code int, reason, message string, details string) {
	t.Helper()
	mustCode(t, what, r, code)
	b := r.body
	if str(b, "kind") != "Status" || str(b, "apiVersion") != "v1" || str(b, "status") != "Failure" || str(b, "metadata") != "{}" {
		t.Errorf("%s: not a Status: %s", what, r.raw)
	}
	if str(b, "reason") != reason {
		t.Errorf("%s: reason %q, want %q", what, str(b, "reason"), reason)
	}
	if message != "" && str(b, "message") != message {
		t.Errorf("%s: message\n got %q\nwant %q", what, str(b, "message"), message)
	}
	if str(b, "code") != itoa(int64(code)) {
		t.Errorf("%s: code field %q", what, str(b, "code"))
	}
	if details != "" && str(b, "details") != details {
		t.Errorf("%s: details\n got %s\nwant %s", what, str(b, "details"), details)
	}
}

// watchStream reads events of a watch until the stream ends or n events came.
type watchStream struct {
	res    *http.Response
	events chan map[string]interface{}
	proto  string
}

func (e *env) watch(c *http.Client, path string) *watchStream {
	e.t.Helper()
	r, _ := http.NewRequest("GET", e.base+path, nil)
	r.Header.Set("Authorization", "Bearer "+e.token)
	res, err := c.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		e.t.Fatalf("watch %s: %d %s", path, res.StatusCode, b)
	}
	ws := &watchStream{res: res, events: make(chan map[string]interface{}, 10000), proto: res.Proto}
	go func() {
		defer close(ws.events)
		d := json.NewDecoder(res.Body)
		d.UseNumber()
		for {
			var m map[string]interface{}
			if err := d.Decode(&m); err != nil {
				return
			}
			ws.events <- m
		}
	}()
	e.t.Cleanup(func() { res.Body.Close() })
	return ws
}

// next returns the next event, or nil when the stream ended or TIMEOUT passed.
func (w *watchStream) next(timeout time.Duration) map[string]interface{} {
	select {
	case ev, ok := <-w.events:
		if !ok {
			return nil
		}
		return ev
	case <-time.After(timeout):
		return nil
	}
}

// ended reports whether the stream ends (EOF) within TIMEOUT, draining events.
func (w *watchStream) ended(timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-w.events:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

func httpGetWithAccept(e *env, path, accept string) (map[string]interface{}, int) {
	e.t.Helper()
	r, _ := http.NewRequest("GET", e.base+path, nil)
	r.Header.Set("Authorization", "Bearer "+e.token)
	r.Header.Set("Accept", accept)
	res, err := e.h2.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]interface{}
	d := json.NewDecoder(res.Body)
	d.UseNumber()
	_ = d.Decode(&m)
	return m, res.StatusCode
}
