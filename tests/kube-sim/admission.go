package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// admAttrs are the admission attributes of one write.
type admAttrs struct {
	op      string // CREATE, UPDATE, DELETE
	verb    string // create, update, patch, delete (for the log)
	res     *resDef
	sub     string // subresource ("status") or ""
	ns      string
	name    string
	obj     obj
	old     obj
	options obj
}

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
	Object             interface{}           `json:"object"`
	OldObject          interface{}           `json:"oldObject"`
	DryRun             *bool                 `json:"dryRun,omitempty"`
	Options            interface{}           `json:"options"`
}

type admissionReview struct {
	Kind       string            `json:"kind"`
	APIVersion string            `json:"apiVersion"`
	Request    *admissionRequest `json:"request,omitempty"`
	Response   *admissionResp    `json:"response,omitempty"`
}

type admissionResp struct {
	UID       string     `json:"uid"`
	Allowed   bool       `json:"allowed"`
	Status    *apiStatus `json:"status,omitempty"`
	Patch     []byte     `json:"patch,omitempty"`
	PatchType *string    `json:"patchType,omitempty"`
	Warnings  []string   `json:"warnings,omitempty"`
}

// hook is one validating webhook of a stored configuration.
type hook struct {
	config string
	w      obj
	name   string
}

func strList(v interface{}) []string {
	l, _ := v.([]interface{})
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func anyMatch(l []string, v string) bool {
	for _, x := range l {
		if x == "*" || x == v {
			return true
		}
	}
	return false
}

// ruleMatches is the webhook rule matcher of kube-apiserver.
func ruleMatches(rule obj, a *admAttrs) bool {
	if !anyMatch(strList(rule["operations"]), a.op) {
		return false
	}
	if !anyMatch(strList(rule["apiGroups"]), a.res.group) || !anyMatch(strList(rule["apiVersions"]), a.res.version) {
		return false
	}
	resOK := false
	for _, r := range strList(rule["resources"]) {
		res, sub, _ := strings.Cut(r, "/")
		if (res == "*" || res == a.res.resource) && (sub == "*" || sub == a.sub) {
			resOK = true
		}
	}
	if !resOK {
		return false
	}
	switch scope, _ := rule["scope"].(string); scope {
	case "Cluster":
		return !a.res.namespaced
	case "Namespaced":
		return a.res.namespaced
	}
	return true
}

// hookMatches applies rules, namespaceSelector and objectSelector.
func (s *sim) hookMatches(h *hook, a *admAttrs) (bool, error) {
	matched := false
	rules, _ := h.w["rules"].([]interface{})
	for _, r := range rules {
		if rm, ok := r.(map[string]interface{}); ok && ruleMatches(rm, a) {
			matched = true
			break
		}
	}
	if !matched {
		return false, nil
	}
	nsSel, err := metaSelector(h.w["namespaceSelector"])
	if err != nil {
		return false, err
	}
	if len(nsSel) > 0 {
		var labels map[string]string
		switch {
		case a.res == resNamespaces:
			if a.obj != nil {
				labels = labelsOf(a.obj)
			} else {
				labels = labelsOf(a.old)
			}
		case !a.res.namespaced:
			labels = nil // cluster-scoped: the namespaceSelector does not apply
		default:
			ns := s.st.get(resNamespaces, "", a.ns)
			if ns == nil {
				return false, fmt.Errorf("namespace %q not found", a.ns)
			}
			labels = labelsOf(ns)
		}
		if labels != nil && !nsSel.matches(labels) {
			return false, nil
		}
	}
	objSel, err := metaSelector(h.w["objectSelector"])
	if err != nil {
		return false, err
	}
	if len(objSel) > 0 {
		m := (a.obj != nil && objSel.matches(labelsOf(a.obj))) || (a.old != nil && objSel.matches(labelsOf(a.old)))
		if !m {
			return false, nil
		}
	}
	return true, nil
}

// admit runs the validating webhooks that match A; nil when the write may go on.
func (s *sim) admit(rc *reqCtx, a *admAttrs) *apiStatus {
	if a.res == resVWCs {
		// kube-apiserver never calls webhooks for admissionregistration.k8s.io objects.
		return nil
	}
	configs, _ := s.st.list(resVWCs, "", nil)
	sort.Slice(configs, func(i, j int) bool { return metaString(configs[i], "name") < metaString(configs[j], "name") })
	var hooks []*hook
	for _, c := range configs {
		ws, _ := c["webhooks"].([]interface{})
		for _, w := range ws {
			wm, ok := w.(map[string]interface{})
			if !ok {
				continue
			}
			name, _ := wm["name"].(string)
			h := &hook{config: metaString(c, "name"), w: wm, name: name}
			ok, err := s.hookMatches(h, a)
			if err != nil {
				return errInternal(fmt.Sprintf("failed calling webhook %q: %v", name, err))
			}
			if ok {
				hooks = append(hooks, h)
			}
		}
	}
	if len(hooks) == 0 {
		return nil
	}
	if rc.dryRun {
		for _, h := range hooks {
			if se, _ := h.w["sideEffects"].(string); se != "None" && se != "NoneOnDryRun" {
				return errBadRequest(fmt.Sprintf("admission webhook %q does not support dry run", h.name))
			}
		}
	}
	type result struct {
		resp *admissionResp
		err  error
		sent time.Time
	}
	results := make([]result, len(hooks))
	var wg sync.WaitGroup
	for i, h := range hooks {
		if mc, ok := h.w["matchConditions"].([]interface{}); ok && len(mc) > 0 {
			log.Printf("kube-sim: webhook %q has %d matchConditions (CEL): not evaluated, calling the webhook", h.name, len(mc))
		}
		wg.Add(1)
		go func(i int, h *hook) {
			defer wg.Done()
			sent := time.Now()
			resp, err := s.callWebhook(rc, h, a)
			results[i] = result{resp, err, sent}
		}(i, h)
	}
	wg.Wait()
	var out *apiStatus
	for i, h := range hooks {
		r := results[i]
		entry := s.admissionEntry(rc, a, h.name)
		entry.SentMonoNs = int64(r.sent.Sub(s.start))
		if r.err != nil {
			fp, _ := h.w["failurePolicy"].(string)
			entry.Message = r.err.Error()
			if fp == "Ignore" {
				entry.Allowed = boolp(true)
				entry.Reason = "FailedIgnored"
				log.Printf("kube-sim: failed calling webhook %q, failing open (failurePolicy Ignore): %v", h.name, r.err)
			} else {
				entry.Allowed = boolp(false)
				entry.Reason = "InternalError"
				if out == nil {
					out = errInternal(fmt.Sprintf("failed calling webhook %q: %v", h.name, r.err))
				}
			}
			s.events.add(entry)
			continue
		}
		for _, w := range r.resp.Warnings {
			rc.warn(w)
		}
		entry.Allowed = boolp(r.resp.Allowed)
		if r.resp.Status != nil {
			entry.Reason = r.resp.Status.Reason
			entry.Message = r.resp.Status.Message
		}
		s.events.add(entry)
		if !r.resp.Allowed && out == nil {
			out = toStatusErr(h.name, r.resp.Status)
		}
	}
	return out
}

// toStatusErr is webhookerrors.ToStatusErr.
func toStatusErr(name string, st *apiStatus) *apiStatus {
	deniedBy := fmt.Sprintf("admission webhook %q denied the request", name)
	res := &apiStatus{}
	if st != nil {
		*res = *st
	}
	res.Kind, res.APIVersion, res.Metadata = "Status", "v1", map[string]string{}
	if res.Code < 400 {
		res.Code = 400
	}
	if res.Status == "" || res.Status == "Success" {
		res.Status = "Failure"
	}
	switch {
	case res.Message != "":
		res.Message = deniedBy + ": " + res.Message
	case res.Reason != "":
		res.Message = deniedBy + ": " + res.Reason
	default:
		res.Message = deniedBy + " without explanation"
	}
	return res
}

func (s *sim) serviceAddr(ns, name string) (string, bool) {
	s.svcMu.Lock()
	defer s.svcMu.Unlock()
	a, ok := s.services[ns+"/"+name]
	return a, ok
}

// transport returns the keep-alive HTTP/1.1 transport for one webhook client configuration.
func (s *sim) transport(cabundle []byte, serverName string) (*http.Transport, error) {
	sum := sha256.Sum256(append(append([]byte{}, cabundle...), serverName...))
	key := hex.EncodeToString(sum[:])
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	if t := s.hookTr[key]; t != nil {
		return t, nil
	}
	tc := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if len(cabundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cabundle) {
			return nil, fmt.Errorf("unable to load root certificates: unable to parse bytes as PEM block")
		}
		tc.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		TLSClientConfig:     tc,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only, as kube-apiserver
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if strings.HasSuffix(host, ".svc") {
				parts := strings.Split(host, ".")
				if len(parts) == 3 {
					a, ok := s.serviceAddr(parts[1], parts[0])
					if !ok {
						return nil, fmt.Errorf("service %q not found", parts[0])
					}
					addr = a
				}
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	s.hookTr[key] = t
	return t, nil
}

func (s *sim) callWebhook(rc *reqCtx, h *hook, a *admAttrs) (*admissionResp, error) {
	cc, _ := h.w["clientConfig"].(map[string]interface{})
	var cab []byte
	if b64, ok := cc["caBundle"].(string); ok && b64 != "" {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("failed to decode caBundle: %v", err)
		}
		cab = b
	}
	timeout := 10 * time.Second
	if ts, ok := h.w["timeoutSeconds"].(json.Number); ok {
		if n, err := ts.Int64(); err == nil && n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	var u *url.URL
	var serverName string
	if us, ok := cc["url"].(string); ok {
		var err error
		if u, err = url.Parse(us); err != nil {
			return nil, fmt.Errorf("invalid url %q: %v", us, err)
		}
		serverName = u.Hostname()
	} else {
		svc, _ := cc["service"].(map[string]interface{})
		name, _ := svc["name"].(string)
		ns, _ := svc["namespace"].(string)
		path, _ := svc["path"].(string)
		port := "443"
		if p, ok := svc["port"].(json.Number); ok {
			port = p.String()
		}
		serverName = name + "." + ns + ".svc"
		u = &url.URL{Scheme: "https", Host: serverName + ":" + port, Path: path}
	}
	q := u.Query()
	q.Set("timeout", fmt.Sprintf("%ds", int(timeout/time.Second)))
	u.RawQuery = q.Encode()
	tr, err := s.transport(cab, serverName)
	if err != nil {
		return nil, err
	}
	uid := newUID()
	dry := rc.dryRun
	gvk := groupVersionKind{Group: a.res.group, Version: a.res.version, Kind: a.res.kind}
	gvr := groupVersionResource{Group: a.res.group, Version: a.res.version, Resource: a.res.resource}
	req := &admissionRequest{UID: uid, Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr, SubResource: a.sub, RequestSubResource: a.sub,
		Name: a.name, Namespace: a.ns, Operation: a.op, UserInfo: userInfo{Username: rc.user.Username, UID: rc.user.UID,
			Groups: rc.user.Groups, Extra: rc.user.Extra}, DryRun: &dry, Options: a.options}
	if a.obj != nil {
		req.Object = a.obj
	}
	if a.old != nil {
		req.OldObject = a.old
	}
	body, err := json.Marshal(admissionReview{Kind: "AdmissionReview", APIVersion: "admission.k8s.io/v1", Request: req})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(rc.r.Context(), timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, "POST", u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json, */*")
	hr.Header.Set("User-Agent", "kube-apiserver-admission")
	resp, err := tr.RoundTrip(hr)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("failed to call webhook: Post %q: %v", u.String(), err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	if err != nil {
		return nil, fmt.Errorf("failed to call webhook: Post %q: %v", u.String(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("failed to call webhook: an error on the server (%q) has prevented the request from succeeding", strings.TrimSpace(string(rb)))
	}
	var rev admissionReview
	if err := json.Unmarshal(rb, &rev); err != nil {
		return nil, fmt.Errorf("received invalid webhook response: %v", err)
	}
	// The checks and their order of VerifyAdmissionResponse.
	if rev.Response == nil {
		return nil, fmt.Errorf("received invalid webhook response: webhook response was absent")
	}
	if rev.Response.UID != uid {
		return nil, fmt.Errorf("received invalid webhook response: expected response.uid=%q, got %q", uid, rev.Response.UID)
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("received invalid webhook response: expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got %s, Kind=%s", rev.APIVersion, rev.Kind)
	}
	if len(rev.Response.Patch) > 0 || (rev.Response.PatchType != nil && *rev.Response.PatchType != "") {
		return nil, fmt.Errorf("received invalid webhook response: validating webhooks may not return patches")
	}
	return rev.Response, nil
}

// handleTokenReview authenticates spec.token like the real TokenReview.
func (s *sim) handleTokenReview(rc *reqCtx, o obj) {
	if st := s.admit(rc, &admAttrs{op: "CREATE", verb: "create", res: resTokenReviews, name: metaString(o, "name"), obj: o, options: s.options(rc, "CreateOptions")}); st != nil {
		rc.fail(st)
		return
	}
	spec, _ := o["spec"].(map[string]interface{})
	tok, _ := spec["token"].(string)
	if tok == "" {
		rc.fail(errBadRequest("token is required for TokenReview in authentication"))
		return
	}
	status := obj{"user": obj{}}
	if u, ok := s.users.lookup(tok); ok {
		user := obj{"username": u.Username}
		if u.UID != "" {
			user["uid"] = u.UID
		}
		if len(u.Groups) > 0 {
			user["groups"] = u.Groups
		}
		if len(u.Extra) > 0 {
			user["extra"] = u.Extra
		}
		status = obj{"authenticated": true, "user": user}
		if aud, ok := spec["audiences"].([]interface{}); ok && len(aud) > 0 {
			status["audiences"] = aud
		}
	}
	m := meta(o)
	m["creationTimestamp"] = nil
	o["status"] = status
	rc.reply(201, o)
}

// podName is userInfo.extra["authentication.kubernetes.io/pod-name"][0].
func podName(u userInfo) string {
	if l := u.Extra["authentication.kubernetes.io/pod-name"]; len(l) > 0 {
		return l[0]
	}
	return ""
}

func (s *sim) admissionEntry(rc *reqCtx, a *admAttrs, webhook string) *logEntry {
	e := &logEntry{Type: "admission", Verb: a.verb, Group: a.res.group, Resource: a.res.resource, Subresource: a.sub, Namespace: a.ns,
		Name: a.name, User: rc.user.Username, PodName: podName(rc.user), Webhook: webhook, DryRun: rc.dryRun}
	o := a.obj
	if o == nil {
		o = a.old
	}
	if o != nil {
		e.ResourceVersion = metaString(o, "resourceVersion")
		e.Object = copyObj(o)
	}
	if a.old != nil {
		e.OldResourceVersion = metaString(a.old, "resourceVersion")
	}
	return e
}

func boolp(b bool) *bool { return &b }
