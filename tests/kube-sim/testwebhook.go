package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// testWebhookMain is `kube-sim test-webhook`: a tiny validating webhook for
// tests.  It makes its own CA (DIR/webhook-ca.crt, to put in caBundle) and a
// serving certificate for --service-name, answers POST on any path, denies
// writes whose object (oldObject for DELETE) carries the label
// --deny-label (default "deny"), and records every AdmissionReview it got in
// DIR/webhook-requests.jsonl.
func testWebhookMain(args []string) int {
	fs := flag.NewFlagSet("test-webhook", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen `HOST:PORT`; the bound address is written to DIR/webhook-addr")
	dir := fs.String("dir", "", "state `DIR`")
	svcName := fs.String("service-name", "webhook.default.svc", "DNS name in the serving certificate")
	denyLabel := fs.String("deny-label", "deny", "deny objects with this label; its value is the message")
	code := fs.Int("code", 403, "status.code of a denial (0: none)")
	reason := fs.String("reason", "Forbidden", "status.reason of a denial")
	delay := fs.Duration("delay", 0, "wait this long before answering")
	warning := fs.String("warning", "", "add this warning to every answer")
	_ = fs.Parse(args)
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "test-webhook: --dir is required")
		return 2
	}
	_ = os.MkdirAll(*dir, 0755)
	sub := filepath.Join(*dir, "webhook-ca")
	_ = os.MkdirAll(sub, 0755)
	ca, caKey, caPEM, err := loadOrMakeCA(sub)
	if err != nil {
		log.Print(err)
		return 1
	}
	cert, _, _, err := issueCert(ca, caKey, *svcName, []string{*svcName, "localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		log.Print(err)
		return 1
	}
	if err := writeFileAtomic(filepath.Join(*dir, "webhook-ca.crt"), caPEM, 0644); err != nil {
		log.Print(err)
		return 1
	}
	h := &testWebhook{denyLabel: *denyLabel, code: *code, reason: *reason, delay: *delay, warning: *warning,
		logPath: filepath.Join(*dir, "webhook-requests.jsonl")}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Print(err)
		return 1
	}
	if err := writeFileAtomic(filepath.Join(*dir, "webhook-addr"), []byte(ln.Addr().String()+"\n"), 0644); err != nil {
		log.Print(err)
		return 1
	}
	srv := newTestWebhookServer(h, cert)
	log.Printf("test-webhook: serving https://%s", ln.Addr())
	err = srv.ServeTLS(ln, "", "")
	log.Print(err)
	return 1
}

type testWebhook struct {
	mu        sync.Mutex
	denyLabel string
	code      int
	reason    string
	delay     time.Duration
	warning   string
	logPath   string
	reviews   []map[string]interface{}
	protos    []string
}

func (h *testWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var rev map[string]interface{}
	if err := json.Unmarshal(body, &rev); err != nil {
		http.Error(w, "bad review", 400)
		return
	}
	h.mu.Lock()
	rec := map[string]interface{}{"path": r.URL.Path, "query": r.URL.RawQuery, "proto": r.Proto, "host": r.Host,
		"contentType": r.Header.Get("Content-Type"), "review": rev}
	h.reviews = append(h.reviews, rec)
	h.protos = append(h.protos, r.Proto)
	if h.logPath != "" {
		if f, err := os.OpenFile(h.logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0644); err == nil {
			b, _ := json.Marshal(rec)
			_, _ = f.Write(append(b, '\n'))
			_ = f.Close()
		}
	}
	h.mu.Unlock()
	if h.delay > 0 {
		time.Sleep(h.delay)
	}
	req, _ := rev["request"].(map[string]interface{})
	o, _ := req["object"].(map[string]interface{})
	if o == nil {
		o, _ = req["oldObject"].(map[string]interface{})
	}
	resp := map[string]interface{}{"uid": req["uid"], "allowed": true}
	if msg, ok := labelsOf(o)[h.denyLabel]; ok && h.denyLabel != "" {
		st := map[string]interface{}{"message": strings.ReplaceAll(msg, "_", " ")}
		if h.code != 0 {
			st["code"] = h.code
		}
		if h.reason != "" {
			st["reason"] = h.reason
		}
		resp["allowed"] = false
		resp["status"] = st
	}
	if h.warning != "" {
		resp["warnings"] = []string{h.warning}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]interface{}{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp})
}
