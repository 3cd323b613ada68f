package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func webhookSpec(name, url string, caPEM []byte) map[string]interface{} {
	cc := map[string]interface{}{"url": url}
	if caPEM != nil {
		cc["caBundle"] = base64.StdEncoding.EncodeToString(caPEM)
	}
	return map[string]interface{}{"name": name, "admissionReviewVersions": []interface{}{"v1"}, "sideEffects": "None",
		"clientConfig": cc,
		"rules": []interface{}{map[string]interface{}{"operations": []interface{}{"*"}, "apiGroups": []interface{}{"*"},
			"apiVersions": []interface{}{"*"}, "resources": []interface{}{"configmaps"}}}}
}

// hookServer is an in-process webhook; answer builds the response from the review.
type hookServer struct {
	mu      sync.Mutex
	reviews []map[string]interface{}
	protos  []string
	queries []string
	hosts   []string
	answer  func(req map[string]interface{}) interface{}
	caPEM   []byte
	addr    string
	remotes map[string]bool
}

// conns is how many client connections made the calls (mu held).
func (h *hookServer) conns() int { return len(h.remotes) }

func newHookServer(t testing.TB, serverName string) *hookServer {
	t.Helper()
	ca, caKey, caPEM, err := loadOrMakeCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, _, _, err := issueCert(ca, caKey, serverName, []string{serverName}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	h := &hookServer{caPEM: caPEM}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	srv := newTestWebhookServer(h, cert)
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return h
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var rev map[string]interface{}
	_ = json.Unmarshal(b, &rev)
	h.mu.Lock()
	h.reviews = append(h.reviews, rev)
	h.protos = append(h.protos, r.Proto)
	h.queries = append(h.queries, r.URL.Path+"?"+r.URL.RawQuery)
	h.hosts = append(h.hosts, r.Host)
	if h.remotes == nil {
		h.remotes = map[string]bool{}
	}
	h.remotes[r.RemoteAddr] = true
	ans := h.answer
	h.mu.Unlock()
	req, _ := rev["request"].(map[string]interface{})
	var out interface{}
	if ans != nil {
		out = ans(req)
	} else {
		out = allowResp(req)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (h *hookServer) count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.reviews) }

func (h *hookServer) last() map[string]interface{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reviews) == 0 {
		return nil
	}
	return h.reviews[len(h.reviews)-1]
}

func allowResp(req map[string]interface{}) interface{} {
	return map[string]interface{}{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"response": map[string]interface{}{"uid": req["uid"], "allowed": true}}
}

func denyResp(req map[string]interface{}, status map[string]interface{}) interface{} {
	return map[string]interface{}{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"response": map[string]interface{}{"uid": req["uid"], "allowed": false, "status": status}}
}

const vwcPath = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"

func cmBody(name string, labels map[string]interface{}) map[string]interface{} {
	m := map[string]interface{}{"name": name}
	if labels != nil {
		m["labels"] = labels
	}
	return map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": map[string]interface{}{"k": "v"}}
}

const cmPath = "/api/v1/namespaces/default/configmaps"

func TestWebhookCallShape(t *testing.T) {
	e := newEnv(t)
	h := newHookServer(t, "fence.demo.svc")
	e.ctlPost("/services?ns=demo&name=fence&addr=" + h.addr)
	w := webhookSpec("fence.leasefence.io", "", h.caPEM)
	w["clientConfig"] = map[string]interface{}{"service": map[string]interface{}{"namespace": "demo", "name": "fence", "path": "/validate"},
		"caBundle": base64.StdEncoding.EncodeToString(h.caPEM)}
	w["timeoutSeconds"] = 5
	r := e.do("POST", vwcPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "fence"}, "webhooks": []interface{}{w}})
	mustCode(t, "vwc", r, 201)
	hooks := r.body["webhooks"].([]interface{})
	hk := hooks[0].(map[string]interface{})
	if hk["failurePolicy"] != "Fail" || hk["matchPolicy"] != "Equivalent" || str(hk, "clientConfig", "service", "port") != "443" || str(r.body, "metadata", "generation") != "1" {
		t.Errorf("defaults: %s", r.raw)
	}
	if h.count() != 0 {
		t.Fatalf("webhook called for its own configuration")
	}
	e.writeUsers([]userInfo{{Token: "pa", Username: "system:serviceaccount:demo:controller", UID: "uid-a",
		Groups: []string{"system:serviceaccounts", "system:authenticated"}, Extra: map[string][]string{"authentication.kubernetes.io/pod-name": {"pod-a"}}}})

	// CREATE
	mustCode(t, "create", e.req(e.h2, "POST", cmPath+"?fieldManager=test", "pa", "", cmBody("c1", nil)), 201)
	rev := h.last()
	if rev["apiVersion"] != "admission.k8s.io/v1" || rev["kind"] != "AdmissionReview" {
		t.Errorf("review type: %v", rev)
	}
	req := rev["request"].(map[string]interface{})
	checks := map[string]string{
		"kind": `{"group":"","kind":"ConfigMap","version":"v1"}`, "resource": `{"group":"","resource":"configmaps","version":"v1"}`,
		"requestKind": `{"group":"","kind":"ConfigMap","version":"v1"}`, "requestResource": `{"group":"","resource":"configmaps","version":"v1"}`,
		"name": "c1", "namespace": "default", "operation": "CREATE", "dryRun": "false", "oldObject": "",
		"userInfo": `{"extra":{"authentication.kubernetes.io/pod-name":["pod-a"]},"groups":["system:serviceaccounts","system:authenticated"],"uid":"uid-a","username":"system:serviceaccount:demo:controller"}`,
		"options":  `{"apiVersion":"meta.k8s.io/v1","fieldManager":"test","kind":"CreateOptions"}`,
	}
	for k, want := range checks {
		if got := str(req, k); got != want {
			t.Errorf("request.%s = %s, want %s", k, got, want)
		}
	}
	if _, ok := req["oldObject"]; !ok {
		t.Errorf("oldObject missing (must be null)")
	}
	if len(str(req, "uid")) != 36 || str(req, "object", "metadata", "name") != "c1" || str(req, "object", "data", "k") != "v" {
		t.Errorf("uid/object: %v", req)
	}
	h.mu.Lock()
	if h.protos[0] != "HTTP/1.1" || h.queries[0] != "/validate?timeout=5s" || h.hosts[0] != "fence.demo.svc:443" {
		t.Errorf("call: %s %s %s", h.protos[0], h.queries[0], h.hosts[0])
	}
	h.mu.Unlock()

	// UPDATE via patch: oldObject set, UpdateOptions.
	mustCode(t, "patch", e.req(e.h2, "PATCH", cmPath+"/c1", "pa", "application/merge-patch+json", `{"data":{"k":"w"}}`), 200)
	req = h.last()["request"].(map[string]interface{})
	if str(req, "operation") != "UPDATE" || str(req, "oldObject", "data", "k") != "v" || str(req, "object", "data", "k") != "w" || str(req, "options", "kind") != "UpdateOptions" {
		t.Errorf("update review: %v", req)
	}
	// DELETE: object null, oldObject set, DeleteOptions.
	mustCode(t, "delete", e.req(e.h2, "DELETE", cmPath+"/c1", "pa", "", map[string]interface{}{"propagationPolicy": "Background"}), 200)
	req = h.last()["request"].(map[string]interface{})
	if str(req, "operation") != "DELETE" || str(req, "object") != "" || str(req, "oldObject", "metadata", "name") != "c1" ||
		str(req, "options") != `{"apiVersion":"meta.k8s.io/v1","kind":"DeleteOptions","propagationPolicy":"Background"}` {
		t.Errorf("delete review: %v", req)
	}
	if _, ok := req["object"]; !ok {
		t.Errorf("object missing on delete (must be null)")
	}
	// Leases do not match the rule: no call.
	n := h.count()
	mustCode(t, "lease", e.do("POST", leasesPath, lease("nocall", "a", 10)), 201)
	if h.count() != n {
		t.Errorf("webhook called for an unmatched resource")
	}
	// The admission outcomes are in the log.
	var adm []map[string]interface{}
	for _, l := range e.logEntries(0) {
		if l["type"] == "admission" {
			adm = append(adm, l)
		}
	}
	if len(adm) == 3 && !(adm[0]["sent_mono_ns"].(float64) > 0 && adm[0]["sent_mono_ns"].(float64) <= adm[0]["mono_ns"].(float64)) {
		t.Errorf("sent_mono_ns: %v", adm[0])
	}
	if len(adm) != 3 || adm[0]["allowed"] != true || adm[0]["webhook"] != "fence.leasefence.io" || adm[0]["podName"] != "pod-a" || adm[1]["verb"] != "patch" {
		t.Errorf("admission log: %v", adm)
	}
}

func TestWebhookDenialAndWarnings(t *testing.T) {
	e := newEnv(t)
	h := newHookServer(t, "127.0.0.1")
	h.answer = func(req map[string]interface{}) interface{} {
		o, _ := req["object"].(map[string]interface{})
		switch str(o, "metadata", "name") {
		case "deny403":
			return denyResp(req, map[string]interface{}{"code": 403, "reason": "Forbidden", "message": "replica pod-b is not the holder of lease demo/x (held by pod-a)"})
		case "denynocode":
			return denyResp(req, map[string]interface{}{"message": "no code"})
		case "denyreason":
			return denyResp(req, map[string]interface{}{"reason": "NotHolder"})
		case "denyempty":
			return denyResp(req, nil)
		case "warn":
			m := allowResp(req).(map[string]interface{})
			m["response"].(map[string]interface{})["warnings"] = []string{"lease is about to expire", "second"}
			return m
		}
		return allowResp(req)
	}
	mustCode(t, "vwc", e.do("POST", vwcPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "d"},
		"webhooks": []interface{}{webhookSpec("deny.example.com", "https://"+h.addr+"/v", h.caPEM)}}), 201)
	wantStatus(t, "deny403", e.do("POST", cmPath, cmBody("deny403", nil)), 403, "Forbidden",
		`admission webhook "deny.example.com" denied the request: replica pod-b is not the holder of lease demo/x (held by pod-a)`, "")
	wantStatus(t, "denynocode", e.do("POST", cmPath, cmBody("denynocode", nil)), 400, "",
		`admission webhook "deny.example.com" denied the request: no code`, "")
	wantStatus(t, "denyreason", e.do("POST", cmPath, cmBody("denyreason", nil)), 400, "NotHolder",
		`admission webhook "deny.example.com" denied the request: NotHolder`, "")
	wantStatus(t, "denyempty", e.do("POST", cmPath, cmBody("denyempty", nil)), 400, "",
		`admission webhook "deny.example.com" denied the request without explanation`, "")
	mustCode(t, "not stored", e.do("GET", cmPath+"/deny403", nil), 404)
	r := e.do("POST", cmPath, cmBody("warn", nil))
	mustCode(t, "warn", r, 201)
	if ws := r.hdr.Values("Warning"); len(ws) != 2 || ws[0] != `299 - "lease is about to expire"` {
		t.Errorf("warnings: %q", ws)
	}
	var denied int
	for _, l := range e.logEntries(0) {
		if l["type"] == "admission" && l["allowed"] == false {
			denied++
			if denied == 1 && (l["reason"] != "Forbidden" || !strings.Contains(l["message"].(string), "not the holder")) {
				t.Errorf("denial log: %v", l)
			}
		}
	}
	if denied != 4 {
		t.Errorf("%d denials logged", denied)
	}
	// dryRun=All calls the webhook with dryRun true and stores nothing.
	r = e.do("POST", cmPath+"?dryRun=All", cmBody("dry", nil))
	mustCode(t, "dry", r, 201)
	if str(h.last()["request"].(map[string]interface{}), "dryRun") != "true" {
		t.Errorf("dryRun not passed")
	}
	mustCode(t, "dry not stored", e.do("GET", cmPath+"/dry", nil), 404)
}

func TestWebhookFailurePolicy(t *testing.T) {
	e := newEnv(t)
	h := newHookServer(t, "127.0.0.1")
	mk := func(name, fp, url string, ca []byte, timeout int) map[string]interface{} {
		w := webhookSpec(name, url, ca)
		w["failurePolicy"] = fp
		w["timeoutSeconds"] = timeout
		w["objectSelector"] = map[string]interface{}{"matchLabels": map[string]interface{}{"case": name}}
		return w
	}
	dead := "https://127.0.0.1:1/x"
	hooks := []interface{}{
		mk("fail.example.com", "Fail", dead, h.caPEM, 2),
		mk("ignore.example.com", "Ignore", dead, h.caPEM, 2),
		mk("badca.example.com", "Fail", "https://"+h.addr+"/", nil, 2),
		mk("baduid.example.com", "Fail", "https://"+h.addr+"/", h.caPEM, 2),
		mk("patch.example.com", "Fail", "https://"+h.addr+"/", h.caPEM, 2),
		mk("slow.example.com", "Fail", "https://"+h.addr+"/", h.caPEM, 1),
		mk("slowignore.example.com", "Ignore", "https://"+h.addr+"/", h.caPEM, 1),
		mk("v1beta1.example.com", "Fail", "https://"+h.addr+"/", h.caPEM, 2),
	}
	mustCode(t, "vwc", e.do("POST", vwcPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "f"}, "webhooks": hooks}), 201)
	h.answer = func(req map[string]interface{}) interface{} {
		o, _ := req["object"].(map[string]interface{})
		switch str(o, "metadata", "labels", "case") {
		case "baduid.example.com":
			return map[string]interface{}{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": map[string]interface{}{"uid": "nope", "allowed": true}}
		case "patch.example.com":
			return map[string]interface{}{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": map[string]interface{}{"uid": req["uid"], "allowed": true,
				"patchType": "JSONPatch", "patch": base64.StdEncoding.EncodeToString([]byte(`[]`))}}
		case "slow.example.com", "slowignore.example.com":
			time.Sleep(3 * time.Second)
		case "v1beta1.example.com":
			return map[string]interface{}{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "response": map[string]interface{}{"uid": req["uid"], "allowed": true}}
		}
		return allowResp(req)
	}
	try := func(c string) resp {
		return e.do("POST", cmPath, cmBody(strings.ReplaceAll(c, ".", "-"), map[string]interface{}{"case": c}))
	}
	r := try("fail.example.com")
	wantStatus(t, "fail", r, 500, "InternalError", "", "")
	if !strings.HasPrefix(str(r.body, "message"), `Internal error occurred: failed calling webhook "fail.example.com": failed to call webhook: Post "https://127.0.0.1:1/x?timeout=2s": `) {
		t.Errorf("fail message: %s", str(r.body, "message"))
	}
	mustCode(t, "ignore", try("ignore.example.com"), 201)
	r = try("badca.example.com")
	wantStatus(t, "bad ca", r, 500, "InternalError", "", "")
	if !strings.Contains(str(r.body, "message"), "x509") && !strings.Contains(str(r.body, "message"), "certificate") {
		t.Errorf("bad ca message: %s", str(r.body, "message"))
	}
	r = try("baduid.example.com")
	wantStatus(t, "bad uid", r, 500, "InternalError", "", "")
	if !strings.Contains(str(r.body, "message"), `expected response.uid=`) {
		t.Errorf("bad uid message: %s", str(r.body, "message"))
	}
	r = try("patch.example.com")
	wantStatus(t, "patch", r, 500, "InternalError", "", "")
	if !strings.Contains(str(r.body, "message"), `received invalid webhook response: validating webhooks may not return patches`) {
		t.Errorf("patch message: %s", str(r.body, "message"))
	}
	r = try("v1beta1.example.com")
	wantStatus(t, "v1beta1 answer", r, 500, "InternalError", "", "")
	t0 := time.Now()
	r = try("slow.example.com")
	wantStatus(t, "timeout", r, 500, "InternalError", "", "")
	if d := time.Since(t0); d > 2500*time.Millisecond || !strings.Contains(str(r.body, "message"), "timeout=1s") {
		t.Errorf("timeout took %v: %s", d, str(r.body, "message"))
	}
	mustCode(t, "slow ignore", try("slowignore.example.com"), 201)
	var ignored int
	for _, l := range e.logEntries(0) {
		if l["type"] == "admission" && l["reason"] == "FailedIgnored" && l["allowed"] == true {
			ignored++
		}
	}
	if ignored != 2 {
		t.Errorf("%d ignored failures logged, want 2", ignored)
	}
}

func TestWebhookMatching(t *testing.T) {
	e := newEnv(t)
	mustCode(t, "ns", e.do("POST", "/api/v1/namespaces", map[string]interface{}{"metadata": map[string]interface{}{"name": "fenced", "labels": map[string]interface{}{"fence": "on"}}}), 201)
	a := func(op string, res *resDef, ns string, o, old obj) *admAttrs {
		return &admAttrs{op: op, res: res, ns: ns, obj: o, old: old}
	}
	lbl := func(l map[string]interface{}) obj { return obj{"metadata": obj{"labels": l}} }
	rule := func(ops, groups, res []interface{}, scope string) interface{} {
		r := obj{"operations": ops, "apiGroups": groups, "apiVersions": []interface{}{"v1"}, "resources": res}
		if scope != "" {
			r["scope"] = scope
		}
		return r
	}
	all := []interface{}{"*"}
	cases := []struct {
		name string
		w    obj
		a    *admAttrs
		want bool
	}{
		{"op match", obj{"rules": []interface{}{rule([]interface{}{"UPDATE"}, all, all, "")}}, a("UPDATE", resLeases, "default", lbl(nil), lbl(nil)), true},
		{"op no match", obj{"rules": []interface{}{rule([]interface{}{"UPDATE"}, all, all, "")}}, a("CREATE", resLeases, "default", lbl(nil), nil), false},
		{"group no match", obj{"rules": []interface{}{rule(all, []interface{}{""}, all, "")}}, a("CREATE", resLeases, "default", lbl(nil), nil), false},
		{"resource exact", obj{"rules": []interface{}{rule(all, all, []interface{}{"leases"}, "")}}, a("CREATE", resLeases, "default", lbl(nil), nil), true},
		{"resource other", obj{"rules": []interface{}{rule(all, all, []interface{}{"configmaps"}, "")}}, a("CREATE", resLeases, "default", lbl(nil), nil), false},
		{"resource */*", obj{"rules": []interface{}{rule(all, all, []interface{}{"*/*"}, "")}}, a("CREATE", resLeases, "default", lbl(nil), nil), true},
		{"resource leases/*", obj{"rules": []interface{}{rule(all, all, []interface{}{"leases/*"}, "")}}, a("CREATE", resLeases, "default", lbl(nil), nil), true},
		{"resource */status", obj{"rules": []interface{}{rule(all, all, []interface{}{"*/status"}, "")}}, a("CREATE", resLeases, "default", lbl(nil), nil), false},
		{"scope Cluster vs namespaced", obj{"rules": []interface{}{rule(all, all, all, "Cluster")}}, a("CREATE", resLeases, "default", lbl(nil), nil), false},
		{"scope Cluster vs namespace", obj{"rules": []interface{}{rule(all, all, all, "Cluster")}}, a("CREATE", resNamespaces, "", lbl(nil), nil), true},
		{"scope Namespaced", obj{"rules": []interface{}{rule(all, all, all, "Namespaced")}}, a("CREATE", resLeases, "default", lbl(nil), nil), true},
		{"nsSelector match", obj{"rules": []interface{}{rule(all, all, all, "")}, "namespaceSelector": obj{"matchLabels": obj{"fence": "on"}}}, a("CREATE", resConfigMaps, "fenced", lbl(nil), nil), true},
		{"nsSelector no match", obj{"rules": []interface{}{rule(all, all, all, "")}, "namespaceSelector": obj{"matchLabels": obj{"fence": "on"}}}, a("CREATE", resConfigMaps, "default", lbl(nil), nil), false},
		{"nsSelector by name label", obj{"rules": []interface{}{rule(all, all, all, "")}, "namespaceSelector": obj{"matchExpressions": []interface{}{obj{"key": "kubernetes.io/metadata.name", "operator": "In", "values": []interface{}{"default"}}}}}, a("CREATE", resConfigMaps, "default", lbl(nil), nil), true},
		{"nsSelector NotIn", obj{"rules": []interface{}{rule(all, all, all, "")}, "namespaceSelector": obj{"matchExpressions": []interface{}{obj{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": []interface{}{"default"}}}}}, a("CREATE", resConfigMaps, "default", lbl(nil), nil), false},
		{"nsSelector DoesNotExist", obj{"rules": []interface{}{rule(all, all, all, "")}, "namespaceSelector": obj{"matchExpressions": []interface{}{obj{"key": "fence", "operator": "DoesNotExist"}}}}, a("CREATE", resConfigMaps, "fenced", lbl(nil), nil), false},
		{"nsSelector ignored cluster-scoped", obj{"rules": []interface{}{rule(all, all, all, "")}, "namespaceSelector": obj{"matchLabels": obj{"fence": "on"}}}, a("CREATE", resTokenReviews, "", lbl(nil), nil), true},
		{"nsSelector on namespace itself", obj{"rules": []interface{}{rule(all, all, all, "")}, "namespaceSelector": obj{"matchLabels": obj{"fence": "on"}}}, a("CREATE", resNamespaces, "", lbl(map[string]interface{}{"fence": "on"}), nil), true},
		{"objSelector new", obj{"rules": []interface{}{rule(all, all, all, "")}, "objectSelector": obj{"matchExpressions": []interface{}{obj{"key": "app", "operator": "Exists"}}}}, a("UPDATE", resConfigMaps, "default", lbl(map[string]interface{}{"app": "x"}), lbl(nil)), true},
		{"objSelector old", obj{"rules": []interface{}{rule(all, all, all, "")}, "objectSelector": obj{"matchLabels": obj{"app": "x"}}}, a("DELETE", resConfigMaps, "default", nil, lbl(map[string]interface{}{"app": "x"})), true},
		{"objSelector none", obj{"rules": []interface{}{rule(all, all, all, "")}, "objectSelector": obj{"matchLabels": obj{"app": "x"}}}, a("UPDATE", resConfigMaps, "default", lbl(nil), lbl(nil)), false},
	}
	for _, c := range cases {
		// Through JSON, as stored objects are.
		b, _ := json.Marshal(c.w)
		v, _ := parseJSON(b)
		got, err := e.s.hookMatches(&hook{w: v.(map[string]interface{}), name: c.name}, c.a)
		if err != nil || got != c.want {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}
}

func TestWebhookDryRunSideEffects(t *testing.T) {
	e := newEnv(t)
	h := newHookServer(t, "127.0.0.1")
	w := webhookSpec("se.example.com", "https://"+h.addr+"/", h.caPEM)
	w["sideEffects"] = "NoneOnDryRun"
	mustCode(t, "vwc", e.do("POST", vwcPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "s"}, "webhooks": []interface{}{w}}), 201)
	mustCode(t, "dry ok", e.do("POST", cmPath+"?dryRun=All", cmBody("x", nil)), 201)
	// Invalid configurations are refused.
	bad := webhookSpec("bad", "http://x/", nil)
	bad["sideEffects"] = "Some"
	r := e.do("POST", vwcPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "bad"}, "webhooks": []interface{}{bad}})
	wantStatus(t, "invalid vwc", r, 422, "Invalid", "", "")
	for _, f := range []string{"webhooks[0].name", "webhooks[0].sideEffects", "webhooks[0].clientConfig.url"} {
		if !strings.Contains(r.raw, `"field":"`+f+`"`) {
			t.Errorf("no cause for %s: %s", f, r.raw)
		}
	}
}

func TestWebhookKeepAlive(t *testing.T) {
	e := newEnv(t)
	h := newHookServer(t, "127.0.0.1")
	mustCode(t, "vwc", e.do("POST", vwcPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "k"},
		"webhooks": []interface{}{webhookSpec("keep.example.com", "https://"+h.addr+"/", h.caPEM)}}), 201)
	for i := 0; i < 5; i++ {
		mustCode(t, "create", e.do("POST", cmPath, cmBody("k"+itoa(int64(i)), nil)), 201)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reviews) != 5 {
		t.Fatalf("%d calls", len(h.reviews))
	}
	if n := h.conns(); n != 1 {
		t.Errorf("%d TLS connections for 5 sequential calls, want 1 (keep-alive)", n)
	}
}

// Wrong JSON types in a ValidatingWebhookConfiguration are decode errors that
// name the Go field and its type, as encoding/json's UnmarshalTypeError.
func TestWebhookConfigurationTypeErrors(t *testing.T) {
	e := newEnv(t)
	const pre = `ValidatingWebhookConfiguration in version "v1" cannot be handled as a ValidatingWebhookConfiguration: json: cannot unmarshal `
	for _, c := range []struct {
		field string
		value interface{}
		want  string
	}{
		{"rules", "x", `string into Go struct field ValidatingWebhook.webhooks.rules of type []v1.RuleWithOperations`},
		{"rules", []interface{}{1}, `number into Go struct field ValidatingWebhook.webhooks.rules of type v1.RuleWithOperations`},
		{"matchConditions", true, `bool into Go struct field ValidatingWebhook.webhooks.matchConditions of type []v1.MatchCondition`},
		{"objectSelector", []interface{}{}, `array into Go struct field ValidatingWebhook.webhooks.objectSelector of type v1.LabelSelector`},
		{"clientConfig", "x", `string into Go struct field ValidatingWebhook.webhooks.clientConfig of type v1.WebhookClientConfig`},
		{"clientConfig", map[string]interface{}{"service": 5}, `number into Go struct field WebhookClientConfig.webhooks.clientConfig.service of type v1.ServiceReference`},
		{"timeoutSeconds", 99999999999, `number 99999999999 into Go struct field ValidatingWebhook.webhooks.timeoutSeconds of type int32`},
	} {
		w := webhookSpec("t.example.com", "https://127.0.0.1:1/", nil)
		w[c.field] = c.value
		r := e.do("POST", vwcPath, map[string]interface{}{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
			"metadata": map[string]interface{}{"name": "t"}, "webhooks": []interface{}{w}})
		wantStatus(t, c.field, r, 400, "BadRequest", pre+c.want, "")
	}
}
