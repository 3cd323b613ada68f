// Command gowebhook is the reference point of `make bench`: the fence decision
// written the way a Kubernetes webhook is usually written in Go — net/http
// over TLS (HTTP/1.1 only, like kube-apiserver calls it) and encoding/json
// decoding the whole AdmissionReview into the admission/v1 types (object and
// oldObject as raw JSON, as k8s.io/apimachinery's RawExtension keeps them).
// Standard library only.
//
//	gowebhook --listen ADDR:PORT --tls-cert F --tls-key F --config FENCES.json --holders HOLDERS.json
//
// HOLDERS.json maps "NS/NAME" to the holder identity: a fixed Lease snapshot,
// observed at start, held for 3600s (the bench's Leases never change).
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

type groupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

type groupVersionResource struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
}

type userInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

type admissionRequest struct {
	UID                string                `json:"uid"`
	Kind               groupVersionKind      `json:"kind"`
	Resource           groupVersionResource  `json:"resource"`
	SubResource        string                `json:"subResource,omitempty"`
	RequestKind        *groupVersionKind     `json:"requestKind,omitempty"`
	RequestResource    *groupVersionResource `json:"requestResource,omitempty"`
	RequestSubResource string                `json:"requestSubResource,omitempty"`
	Name               string                `json:"name,omitempty"`
	Namespace          string                `json:"namespace,omitempty"`
	Operation          string                `json:"operation"`
	UserInfo           userInfo              `json:"userInfo"`
	Object             json.RawMessage       `json:"object,omitempty"`
	OldObject          json.RawMessage       `json:"oldObject,omitempty"`
	DryRun             *bool                 `json:"dryRun,omitempty"`
	Options            json.RawMessage       `json:"options,omitempty"`
}

type status struct {
	Code    int32  `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

type admissionResponse struct {
	UID     string  `json:"uid"`
	Allowed bool    `json:"allowed"`
	Result  *status `json:"status,omitempty"`
}

type admissionReview struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Request    *admissionRequest  `json:"request,omitempty"`
	Response   *admissionResponse `json:"response,omitempty"`
}

type fence struct {
	Lease   string `json:"lease"`
	Writers struct {
		Users  []string `json:"users"`
		Groups []string `json:"groups"`
	} `json:"writers"`
	Identity json.RawMessage `json:"identity"`
	Mode     string          `json:"mode"`
}

type lease struct {
	holder   string
	duration time.Duration
	changed  time.Time
}

type webhook struct {
	fences []fence
	users  map[string]int
	groups map[string]int
	leases map[string]*lease
}

const podNameKey = "authentication.kubernetes.io/pod-name"

// decide returns whether the write is allowed and, when not, why.
func (wh *webhook) decide(r *admissionRequest) (bool, string) {
	if r.Resource.Group == "coordination.k8s.io" && r.Resource.Resource == "leases" {
		return true, ""
	}
	fi, ok := wh.users[r.UserInfo.Username]
	if !ok {
		fi = -1
		for _, g := range r.UserInfo.Groups {
			if i, ok := wh.groups[g]; ok && (fi < 0 || i < fi) {
				fi = i
			}
		}
		if fi < 0 {
			return true, ""
		}
	}
	f := &wh.fences[fi]
	var id string
	if p := r.UserInfo.Extra[podNameKey]; len(p) > 0 {
		id = p[0]
	}
	if id == "" {
		return false, fmt.Sprintf("leasefence: write by %q is fenced by lease %s but carries no replica identity; write denied", r.UserInfo.Username, f.Lease)
	}
	l := wh.leases[f.Lease]
	switch {
	case l == nil:
		return false, fmt.Sprintf("leasefence: lease %s does not exist, so replica %q is not its holder; write denied", f.Lease, id)
	case l.holder == "":
		return false, fmt.Sprintf("leasefence: lease %s has no holder (released), so replica %q is not its holder; write denied", f.Lease, id)
	case time.Since(l.changed) > l.duration:
		return false, fmt.Sprintf("leasefence: lease %s held by %q expired; replica %q; write denied", f.Lease, l.holder, id)
	case l.holder != id:
		return false, fmt.Sprintf("leasefence: replica %q is not the holder of lease %s (held by %q); write denied", id, f.Lease, l.holder)
	}
	return true, ""
}

func (wh *webhook) serveValidate(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 3<<20))
	if err != nil {
		http.Error(w, "cannot read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		http.Error(w, "invalid AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.Request == nil || review.Request.UID == "" {
		http.Error(w, "AdmissionReview has no request.uid", http.StatusBadRequest)
		return
	}
	allowed, msg := wh.decide(review.Request)
	resp := &admissionResponse{UID: review.Request.UID, Allowed: allowed}
	if !allowed {
		resp.Result = &status{Code: http.StatusForbidden, Reason: "Forbidden", Message: msg}
	}
	out, err := json.Marshal(admissionReview{APIVersion: review.APIVersion, Kind: review.Kind, Response: resp})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

func load(path string, v interface{}) {
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		log.Fatalf("gowebhook: %s: %v", path, err)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8443", "`ADDR:PORT` to serve on")
	cert := flag.String("tls-cert", "", "serving certificate `FILE`")
	key := flag.String("tls-key", "", "serving key `FILE`")
	config := flag.String("config", "", "fence configuration `FILE` (leasefence's format)")
	holders := flag.String("holders", "", "`FILE`: {\"NS/NAME\": \"holder\"}")
	flag.Parse()
	if *cert == "" || *key == "" || *config == "" || *holders == "" {
		flag.Usage()
		os.Exit(2)
	}

	var cfg struct {
		Fences []fence `json:"fences"`
	}
	var held map[string]string
	load(*config, &cfg)
	load(*holders, &held)
	wh := &webhook{fences: cfg.Fences, users: map[string]int{}, groups: map[string]int{}, leases: map[string]*lease{}}
	for i, f := range cfg.Fences {
		for _, u := range f.Writers.Users {
			wh.users[u] = i
		}
		for _, g := range f.Writers.Groups {
			wh.groups[g] = i
		}
	}
	now := time.Now()
	for name, h := range held {
		wh.leases[name] = &lease{holder: h, duration: 3600 * time.Second, changed: now}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/validate", wh.serveValidate)
	srv := &http.Server{
		Addr:      *listen,
		Handler:   mux,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
		// A non-nil, empty map turns HTTP/2 off: kube-apiserver calls webhooks over HTTP/1.1.
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	log.Printf("gowebhook: serving https://%s (HTTP/1.1)", *listen)
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}
