package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVersionAndHealthNeedNoToken(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz", "/livez"} {
		r := e.req(e.h2, "GET", p, "", "", nil)
		if r.code != 200 || r.raw != "ok" {
			t.Errorf("%s: %d %q", p, r.code, r.raw)
		}
	}
	r := e.req(e.h2, "GET", "/version", "", "", nil)
	mustCode(t, "version", r, 200)
	if str(r.body, "gitVersion") != "v1.32.4" || str(r.body, "major") != "1" || str(r.body, "minor") != "32" {
		t.Errorf("version: %s", r.raw)
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t)
	want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}` + "\n"
	for _, tok := range []string{"", "nope"} {
		r := e.req(e.h2, "GET", leasesPath, tok, "", nil)
		if r.code != 401 || r.raw != want {
			t.Errorf("token %q: %d %s", tok, r.code, r.raw)
		}
	}
}

func TestUsersJSONReloaded(t *testing.T) {
	e := newEnv(t)
	if r := e.req(e.h2, "GET", leasesPath, "t1", "", nil); r.code != 401 {
		t.Fatalf("unknown user: %d", r.code)
	}
	e.writeUsers([]userInfo{{Token: "t1", Username: "alice", UID: "u-1", Groups: []string{"g1"}}})
	if r := e.req(e.h2, "GET", leasesPath, "t1", "", nil); r.code != 200 {
		t.Fatalf("added user: %d %s", r.code, r.raw)
	}
	e.writeUsers([]userInfo{{Token: "t2", Username: "bob"}})
	if r := e.req(e.h2, "GET", leasesPath, "t1", "", nil); r.code != 401 {
		t.Fatalf("removed user: %d", r.code)
	}
	if r := e.req(e.h2, "GET", leasesPath, "t2", "", nil); r.code != 200 {
		t.Fatalf("new user: %d", r.code)
	}
}

func TestHTTP2AndHTTP1(t *testing.T) {
	e := newEnv(t)
	if r := e.req(e.h2, "GET", leasesPath, e.token, "", nil); r.prot != "HTTP/2.0" {
		t.Errorf("h2 client got %s", r.prot)
	}
	if r := e.req(e.h1, "GET", leasesPath, e.token, "", nil); r.prot != "HTTP/1.1" || r.code != 200 {
		t.Errorf("h1 client got %s %d", r.prot, r.code)
	}
}

func TestLeaseCRUDAndErrorShapes(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", leasesPath, lease("l1", "a", 15))
	mustCode(t, "create", r, 201)
	uid := str(r.body, "metadata", "uid")
	rv1 := str(r.body, "metadata", "resourceVersion")
	if len(uid) != 36 || rv1 == "" || str(r.body, "metadata", "creationTimestamp") == "" || str(r.body, "metadata", "namespace") != "default" {
		t.Errorf("create result: %s", r.raw)
	}
	if str(r.body, "metadata", "generation") != "" {
		t.Errorf("leases have no generation in kube-apiserver: %s", r.raw)
	}
	if str(r.body, "kind") != "Lease" || str(r.body, "apiVersion") != "coordination.k8s.io/v1" {
		t.Errorf("typemeta: %s", r.raw)
	}

	r = e.do("GET", leasesPath+"/l1", nil)
	mustCode(t, "get", r, 200)
	if str(r.body, "spec", "holderIdentity") != "a" || str(r.body, "spec", "renewTime") != "2026-11-24T06:12:00.123456Z" {
		t.Errorf("get: %s", r.raw)
	}

	wantStatus(t, "create twice", e.do("POST", leasesPath, lease("l1", "a", 15)), 409, "AlreadyExists",
		`leases.coordination.k8s.io "l1" already exists`, `{"group":"coordination.k8s.io","kind":"leases","name":"l1"}`)

	// Update with the current resourceVersion.
	l := r.body
	l["spec"].(map[string]interface{})["holderIdentity"] = "b"
	r = e.do("PUT", leasesPath+"/l1", l)
	mustCode(t, "update", r, 200)
	rv2 := str(r.body, "metadata", "resourceVersion")
	if n1, n2 := atoi(rv1), atoi(rv2); n2 <= n1 {
		t.Errorf("resourceVersion did not grow: %s -> %s", rv1, rv2)
	}
	if str(r.body, "metadata", "uid") != uid {
		t.Errorf("uid changed")
	}
	// Stale resourceVersion.
	l["spec"].(map[string]interface{})["holderIdentity"] = "c"
	wantStatus(t, "stale update", e.do("PUT", leasesPath+"/l1", l), 409, "Conflict",
		`Operation cannot be fulfilled on leases.coordination.k8s.io "l1": the object has been modified; please apply your changes to the latest version and try again`,
		`{"group":"coordination.k8s.io","kind":"leases","name":"l1"}`)

	// Name mismatch.
	r = e.do("PUT", leasesPath+"/other", r.body)
	wantStatus(t, "name mismatch", r, 400, "BadRequest", "the name of the object (l1) does not match the name on the URL (other)", "")

	// Delete, then 404.
	r = e.do("DELETE", leasesPath+"/l1", nil)
	mustCode(t, "delete", r, 200)
	if str(r.body, "kind") != "Status" || str(r.body, "status") != "Success" || str(r.body, "details", "uid") != uid || str(r.body, "details", "kind") != "leases" {
		t.Errorf("delete answer: %s", r.raw)
	}
	wantStatus(t, "get deleted", e.do("GET", leasesPath+"/l1", nil), 404, "NotFound",
		`leases.coordination.k8s.io "l1" not found`, `{"group":"coordination.k8s.io","kind":"leases","name":"l1"}`)
	wantStatus(t, "delete missing", e.do("DELETE", leasesPath+"/l1", nil), 404, "NotFound", `leases.coordination.k8s.io "l1" not found`, "")
	wantStatus(t, "patch missing", e.req(e.h2, "PATCH", leasesPath+"/l1", e.token, "application/merge-patch+json", `{"spec":{}}`), 404, "NotFound", `leases.coordination.k8s.io "l1" not found`, "")

	// Namespace that does not exist.
	wantStatus(t, "create in missing namespace", e.do("POST", "/apis/coordination.k8s.io/v1/namespaces/nope/leases", lease("x", "a", 1)),
		404, "NotFound", `namespaces "nope" not found`, `{"kind":"namespaces","name":"nope"}`)
	wantStatus(t, "get in missing namespace", e.do("GET", "/apis/coordination.k8s.io/v1/namespaces/nope/leases/x", nil),
		404, "NotFound", `leases.coordination.k8s.io "x" not found`, "")

	// PUT to a missing lease creates it (leases allow create on update); a configmap does not.
	r = e.do("PUT", leasesPath+"/l2", lease("l2", "a", 10))
	mustCode(t, "put-create lease", r, 201)
	// ...even with a resourceVersion in the body (kube-apiserver ignores it when creating).
	l3 := lease("l3", "a", 10)
	l3["metadata"].(map[string]interface{})["resourceVersion"] = "2"
	mustCode(t, "put-create lease with a resourceVersion", e.do("PUT", leasesPath+"/l3", l3), 201)
	// A uid in the body is a precondition: PUT of a deleted lease with its old uid conflicts.
	r = e.do("GET", leasesPath+"/l3", nil)
	mustCode(t, "delete l3", e.do("DELETE", leasesPath+"/l3", nil), 200)
	wantStatus(t, "put-create with uid", e.do("PUT", leasesPath+"/l3", r.body), 409, "Conflict",
		`Operation cannot be fulfilled on leases.coordination.k8s.io "l3": Precondition failed: UID in precondition: `+str(r.body, "metadata", "uid")+`, UID in object meta: `, "")
	mustCode(t, "l3 stays deleted", e.do("GET", leasesPath+"/l3", nil), 404)
	cm := map[string]interface{}{"metadata": map[string]interface{}{"name": "c1"}, "data": map[string]interface{}{"a": "b"}}
	wantStatus(t, "put missing configmap", e.do("PUT", "/api/v1/namespaces/default/configmaps/c1", cm), 404, "NotFound", `configmaps "c1" not found`, `{"kind":"configmaps","name":"c1"}`)

	// Unknown path.
	wantStatus(t, "unknown path", e.do("GET", "/apis/foo/v1/bars", nil), 404, "NotFound", "the server could not find the requested resource", "{}")
}

func atoi(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func TestLeaseValidation(t *testing.T) {
	e := newEnv(t)
	l := lease("v", "a", 0)
	l["spec"].(map[string]interface{})["leaseTransitions"] = -1
	r := e.do("POST", leasesPath, l)
	wantStatus(t, "invalid", r, 422, "Invalid",
		`Lease.coordination.k8s.io "v" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]`, "")
	if str(r.body, "details", "kind") != "Lease" || str(r.body, "details", "group") != "coordination.k8s.io" ||
		!strings.Contains(str(r.body, "details", "causes"), `"field":"spec.leaseDurationSeconds"`) ||
		!strings.Contains(str(r.body, "details", "causes"), `"reason":"FieldValueInvalid"`) {
		t.Errorf("details: %s", r.raw)
	}
	for _, ts := range []string{"2026-11-24T06:12:00.123Z", "2026-11-24T06:12:00.123456789Z", "2026-11-24T06:12:00Z", "yesterday"} {
		l := lease("v", "a", 10)
		l["spec"].(map[string]interface{})["renewTime"] = ts
		r := e.do("POST", leasesPath, l)
		wantStatus(t, "microtime "+ts, r, 400, "BadRequest", "", "")
		if !strings.HasPrefix(str(r.body, "message"), `Lease in version "v1" cannot be handled as a Lease: parsing time "`+ts+`" as "2006-01-02T15:04:05.000000Z07:00"`) {
			t.Errorf("microtime %s: %s", ts, str(r.body, "message"))
		}
	}
	l = lease("v", "a", 10)
	l["spec"].(map[string]interface{})["leaseDurationSeconds"] = "10"
	wantStatus(t, "string duration", e.do("POST", leasesPath, l), 400, "BadRequest",
		`Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32`, "")
	l = lease("Bad_Name", "a", 10)
	r = e.do("POST", leasesPath, l)
	wantStatus(t, "bad name", r, 422, "Invalid", "", "")
	if !strings.HasPrefix(str(r.body, "message"), `Lease.coordination.k8s.io "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`) {
		t.Errorf("bad name: %s", str(r.body, "message"))
	}
	// Unknown fields: Strict rejects, default warns and drops.
	l = lease("u", "a", 10)
	l["spec"].(map[string]interface{})["bogus"] = 1
	wantStatus(t, "strict", e.do("POST", leasesPath+"?fieldValidation=Strict", l), 400, "BadRequest", `Lease in version "v1" cannot be handled as a Lease: strict decoding error: unknown field "spec.bogus"`, "")
	r = e.do("POST", leasesPath, l)
	mustCode(t, "warn", r, 201)
	if r.hdr.Get("Warning") != `299 - "unknown field \"spec.bogus\""` || strings.Contains(r.raw, "bogus") {
		t.Errorf("warn: %q %s", r.hdr.Get("Warning"), r.raw)
	}
	// A valid lease with an offset time is accepted (RFC3339 with six digits).
	l = lease("ok", "a", 10)
	l["spec"].(map[string]interface{})["renewTime"] = "2026-11-24T06:12:00.123456+00:00"
	mustCode(t, "offset time", e.do("POST", leasesPath, l), 201)
}

func TestResourceVersionMonotonicAndNoopUpdate(t *testing.T) {
	e := newEnv(t)
	last := int64(0)
	check := func(r resp) {
		t.Helper()
		n := atoi(str(r.body, "metadata", "resourceVersion"))
		if n <= last {
			t.Fatalf("resourceVersion %d after %d", n, last)
		}
		last = n
	}
	for i := 0; i < 5; i++ {
		check(e.do("POST", leasesPath, lease(fmt.Sprintf("m%d", i), "a", 10)))
		check(e.do("POST", "/api/v1/namespaces/default/configmaps", map[string]interface{}{"metadata": map[string]interface{}{"name": fmt.Sprintf("c%d", i)}}))
	}
	r := e.do("GET", leasesPath, nil)
	if atoi(str(r.body, "metadata", "resourceVersion")) != last || str(r.body, "kind") != "LeaseList" {
		t.Errorf("list: %s", r.raw)
	}
	if strings.Contains(str(r.body, "items"), `"kind"`) {
		t.Errorf("list items carry kind: %s", r.raw)
	}
	got := e.do("GET", leasesPath+"/m0", nil)
	again := e.do("PUT", leasesPath+"/m0", got.body)
	mustCode(t, "noop update", again, 200)
	if str(again.body, "metadata", "resourceVersion") != str(got.body, "metadata", "resourceVersion") {
		t.Errorf("no-op update wrote a new resourceVersion")
	}
	if atoi(str(e.do("GET", leasesPath, nil).body, "metadata", "resourceVersion")) != last {
		t.Errorf("no-op update moved the global resourceVersion")
	}
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", leasesPath, lease("race", "a", 10))
	base := r.body
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l := copyObj(base)
			l["spec"].(map[string]interface{})["holderIdentity"] = fmt.Sprintf("h%d", i)
			codes[i] = e.do("PUT", leasesPath+"/race", l).code
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case 409:
		default:
			t.Errorf("code %d", c)
		}
	}
	if ok != 1 {
		t.Errorf("%d updates from the same resourceVersion won, want 1 (%v)", ok, codes)
	}
}

func TestPatches(t *testing.T) {
	e := newEnv(t)
	mustCode(t, "create", e.do("POST", leasesPath, lease("p", "a", 10)), 201)
	r := e.req(e.h2, "PATCH", leasesPath+"/p", e.token, "application/merge-patch+json", `{"spec":{"holderIdentity":"b","acquireTime":null},"metadata":{"labels":{"x":"y"}}}`)
	mustCode(t, "merge", r, 200)
	if str(r.body, "spec", "holderIdentity") != "b" || str(r.body, "spec", "acquireTime") != "" || str(r.body, "metadata", "labels", "x") != "y" || str(r.body, "spec", "leaseDurationSeconds") != "10" {
		t.Errorf("merge: %s", r.raw)
	}
	r = e.req(e.h2, "PATCH", leasesPath+"/p", e.token, "application/strategic-merge-patch+json", `{"spec":{"holderIdentity":"c"},"metadata":{"$setElementOrder/finalizers":["f1"]}}`)
	mustCode(t, "smp", r, 200)
	if str(r.body, "spec", "holderIdentity") != "c" {
		t.Errorf("smp: %s", r.raw)
	}
	r = e.req(e.h2, "PATCH", leasesPath+"/p", e.token, "application/json-patch+json", `[{"op":"test","path":"/spec/holderIdentity","value":"c"},{"op":"replace","path":"/spec/holderIdentity","value":"d"},{"op":"add","path":"/metadata/labels/z","value":"1"}]`)
	mustCode(t, "json patch", r, 200)
	if str(r.body, "spec", "holderIdentity") != "d" || str(r.body, "metadata", "labels", "z") != "1" {
		t.Errorf("json patch: %s", r.raw)
	}
	// A patch carrying a stale resourceVersion conflicts.
	wantStatus(t, "stale patch", e.req(e.h2, "PATCH", leasesPath+"/p", e.token, "application/merge-patch+json", `{"metadata":{"resourceVersion":"1"},"spec":{"holderIdentity":"e"}}`),
		409, "Conflict", `Operation cannot be fulfilled on leases.coordination.k8s.io "p": the object has been modified; please apply your changes to the latest version and try again`, "")
	// A patch producing an invalid object.
	wantStatus(t, "invalid patch", e.req(e.h2, "PATCH", leasesPath+"/p", e.token, "application/merge-patch+json", `{"spec":{"leaseDurationSeconds":-5}}`), 422, "Invalid", "", "")
	wantStatus(t, "bad microtime patch", e.req(e.h2, "PATCH", leasesPath+"/p", e.token, "application/merge-patch+json", `{"spec":{"renewTime":"2026-11-24T06:12:00Z"}}`), 400, "BadRequest", "", "")
	// Strategic merge on a list with a merge key.
	vwc := map[string]interface{}{"metadata": map[string]interface{}{"name": "w"}, "webhooks": []interface{}{
		webhookSpec("a.example.com", "https://127.0.0.1:1/", nil), webhookSpec("b.example.com", "https://127.0.0.1:1/", nil)}}
	mustCode(t, "vwc", e.do("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", vwc), 201)
	r = e.req(e.h2, "PATCH", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/w", e.token, "application/strategic-merge-patch+json",
		`{"webhooks":[{"name":"b.example.com","timeoutSeconds":3}]}`)
	mustCode(t, "smp list", r, 200)
	hooks := r.body["webhooks"].([]interface{})
	if len(hooks) != 2 || str(hooks[1].(map[string]interface{}), "timeoutSeconds") != "3" || str(r.body, "metadata", "generation") != "2" {
		t.Errorf("smp list: %s", r.raw)
	}
}

func TestDryRun(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", leasesPath+"?dryRun=All", lease("d", "a", 10))
	mustCode(t, "dry create", r, 201)
	mustCode(t, "not stored", e.do("GET", leasesPath+"/d", nil), 404)
}

func TestNamespaces(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"default", "kube-system", "kube-node-lease"} {
		r := e.do("GET", "/api/v1/namespaces/"+n, nil)
		mustCode(t, n, r, 200)
		if str(r.body, "metadata", "labels", "kubernetes.io/metadata.name") != n || str(r.body, "status", "phase") != "Active" {
			t.Errorf("%s: %s", n, r.raw)
		}
	}
	r := e.do("POST", "/api/v1/namespaces", map[string]interface{}{"metadata": map[string]interface{}{"name": "demo", "labels": map[string]interface{}{"team": "x"}}})
	mustCode(t, "create ns", r, 201)
	if str(r.body, "metadata", "labels", "kubernetes.io/metadata.name") != "demo" {
		t.Errorf("label: %s", r.raw)
	}
	l := lease("in-demo", "a", 10)
	mustCode(t, "lease in new ns", e.do("POST", "/apis/coordination.k8s.io/v1/namespaces/demo/leases", l), 201)
	mustCode(t, "delete ns", e.do("DELETE", "/api/v1/namespaces/demo", nil), 200)
	mustCode(t, "lease gone with ns", e.do("GET", "/apis/coordination.k8s.io/v1/namespaces/demo/leases/in-demo", nil), 404)
	mustCode(t, "lease into deleted ns", e.do("POST", "/apis/coordination.k8s.io/v1/namespaces/demo/leases", l), 404)
	r = e.do("GET", "/apis/coordination.k8s.io/v1/leases", nil)
	mustCode(t, "all-namespace list", r, 200)
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/apis/coordination.k8s.io/v1", nil)
	if str(r.body, "kind") != "APIResourceList" || !strings.Contains(r.raw, `"name":"leases"`) || !strings.Contains(r.raw, `"namespaced":true`) {
		t.Errorf("resource list: %s", r.raw)
	}
	r = e.do("GET", "/api/v1", nil)
	if !strings.Contains(r.raw, `"shortNames":["cm"]`) || !strings.Contains(r.raw, `"shortNames":["ns"]`) {
		t.Errorf("core: %s", r.raw)
	}
	r = e.do("GET", "/apis", nil)
	for _, g := range []string{"coordination.k8s.io", "authentication.k8s.io", "admissionregistration.k8s.io"} {
		if !strings.Contains(r.raw, `"name":"`+g+`"`) {
			t.Errorf("/apis lacks %s", g)
		}
	}
	r = e.do("GET", "/openapi/v3", nil)
	mustCode(t, "openapi v3", r, 200)
	u := str(r.body, "paths", "apis/coordination.k8s.io/v1", "serverRelativeURL")
	r = e.do("GET", u, nil)
	if !strings.Contains(r.raw, "fieldValidation") {
		t.Errorf("openapi doc: %s", r.raw)
	}
	mustCode(t, "openapi v2", e.do("GET", "/openapi/v2", nil), 404)
}

func TestTokenReview(t *testing.T) {
	e := newEnv(t)
	e.writeUsers([]userInfo{{Token: "pod-tok", Username: "system:serviceaccount:demo:controller", UID: "u9",
		Groups: []string{"system:serviceaccounts"}, Extra: map[string][]string{"authentication.kubernetes.io/pod-name": {"pod-a"}}}})
	tr := func(tok string) resp {
		return e.do("POST", "/apis/authentication.k8s.io/v1/tokenreviews", map[string]interface{}{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": map[string]interface{}{"token": tok}})
	}
	r := tr("pod-tok")
	mustCode(t, "tokenreview", r, 201)
	if str(r.body, "status", "authenticated") != "true" || str(r.body, "status", "user", "username") != "system:serviceaccount:demo:controller" ||
		str(r.body, "status", "user", "extra") != `{"authentication.kubernetes.io/pod-name":["pod-a"]}` || str(r.body, "status", "user", "uid") != "u9" {
		t.Errorf("authenticated: %s", r.raw)
	}
	r = tr("bogus")
	mustCode(t, "tokenreview unknown", r, 201)
	if str(r.body, "status", "authenticated") != "" || str(r.body, "status", "user") != "{}" {
		t.Errorf("unknown: %s", r.raw)
	}
	wantStatus(t, "no token", tr(""), 400, "BadRequest", "token is required for TokenReview in authentication", "")
	mustCode(t, "get tokenreviews", e.do("GET", "/apis/authentication.k8s.io/v1/tokenreviews", nil), 405)
}

func TestFaults(t *testing.T) {
	e := newEnv(t)
	e.ctlPost("/faults/fail?count=2&code=500")
	for i := 0; i < 2; i++ {
		wantStatus(t, "injected 500", e.do("GET", leasesPath, nil), 500, "InternalError", "Internal error occurred: injected fault", "")
	}
	mustCode(t, "after faults", e.do("GET", leasesPath, nil), 200)

	e.ctlPost("/faults/fail?count=1&code=429&retryAfter=3")
	r := e.do("GET", leasesPath, nil)
	wantStatus(t, "429", r, 429, "TooManyRequests", "Too many requests, please try again later.", `{"retryAfterSeconds":3}`)
	if r.hdr.Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q", r.hdr.Get("Retry-After"))
	}

	// Path and verb filters.
	e.ctlPost("/faults/fail?count=1&code=503&verb=PUT&path=/apis/coordination.k8s.io")
	mustCode(t, "GET not matched", e.do("GET", leasesPath, nil), 200)
	mustCode(t, "configmap POST not matched", e.do("POST", "/api/v1/namespaces/default/configmaps", map[string]interface{}{"metadata": map[string]interface{}{"name": "f"}}), 201)
	wantStatus(t, "PUT matched", e.do("PUT", leasesPath+"/x", lease("x", "a", 1)), 503, "ServiceUnavailable", "", "")
	mustCode(t, "rule used up", e.do("PUT", leasesPath+"/x", lease("x", "a", 1)), 201)

	// Latency.
	e.ctlPost("/faults/latency?ms=150")
	t0 := time.Now()
	e.do("GET", leasesPath, nil)
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("latency not applied: %v", d)
	}
	e.ctlPost("/faults/latency?ms=0")

	// Pause until resume.
	e.ctlPost("/faults/pause?ms=5000")
	done := make(chan time.Duration)
	go func() {
		t0 := time.Now()
		e.do("GET", leasesPath, nil)
		done <- time.Since(t0)
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("request went through a pause")
	default:
	}
	e.ctlPost("/faults/resume")
	select {
	case d := <-done:
		if d < 150*time.Millisecond {
			t.Errorf("paused only %v", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("resume did not release the request")
	}
	// A short pause ends by itself.
	e.ctlPost("/faults/pause?ms=200")
	t0 = time.Now()
	e.do("GET", leasesPath, nil)
	if d := time.Since(t0); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("short pause: %v", d)
	}
	// Health endpoints are never faulted; reset clears.
	e.ctlPost("/faults/fail?count=5&code=500")
	if r := e.req(e.h2, "GET", "/readyz", "", "", nil); r.code != 200 {
		t.Errorf("readyz faulted")
	}
	e.ctlPost("/faults/reset")
	mustCode(t, "after reset", e.do("GET", leasesPath, nil), 200)
}

func TestLogOfCommits(t *testing.T) {
	e := newEnv(t)
	e.writeUsers([]userInfo{{Token: "pa", Username: "system:serviceaccount:demo:controller", Extra: map[string][]string{"authentication.kubernetes.io/pod-name": {"pod-a"}}}})
	start := e.logEntries(0)
	last := int64(len(start))
	r := e.req(e.h2, "POST", leasesPath, "pa", "", lease("lg", "pod-a", 10))
	mustCode(t, "create", r, 201)
	r = e.req(e.h2, "PATCH", leasesPath+"/lg", "pa", "application/merge-patch+json", `{"spec":{"holderIdentity":"pod-b"}}`)
	mustCode(t, "patch", r, 200)
	mustCode(t, "delete", e.req(e.h2, "DELETE", leasesPath+"/lg", "pa", "", nil), 200)
	got := e.logEntries(last)
	if len(got) != 3 {
		t.Fatalf("want 3 entries, got %d: %v", len(got), got)
	}
	verbs := []string{"create", "patch", "delete"}
	prevSeq, prevMono := last, int64(-1)
	for i, g := range got {
		if g["type"] != "commit" || g["verb"] != verbs[i] || g["user"] != "system:serviceaccount:demo:controller" || g["podName"] != "pod-a" ||
			g["resource"] != "leases" || g["group"] != "coordination.k8s.io" || g["namespace"] != "default" || g["name"] != "lg" {
			t.Errorf("entry %d: %v", i, g)
		}
		seq := int64(g["seq"].(float64))
		mono := int64(g["mono_ns"].(float64))
		if seq != prevSeq+1 || mono < prevMono {
			t.Errorf("entry %d: seq %d mono %d after %d %d", i, seq, mono, prevSeq, prevMono)
		}
		prevSeq, prevMono = seq, mono
		if _, err := time.Parse(time.RFC3339Nano, g["time"].(string)); err != nil {
			t.Errorf("time: %v", err)
		}
	}
	obj := got[1]["object"].(map[string]interface{})
	if obj["spec"].(map[string]interface{})["holderIdentity"] != "pod-b" || obj["metadata"].(map[string]interface{})["uid"] == "" {
		t.Errorf("object: %v", obj)
	}
	if got[2]["resourceVersion"] == got[1]["resourceVersion"] {
		t.Errorf("delete has its own resourceVersion")
	}
}

func TestTableOutput(t *testing.T) {
	e := newEnv(t)
	mustCode(t, "c", e.do("POST", leasesPath, lease("tb", "pod-a", 10)), 201)
	r, _ := httpGetWithAccept(e, leasesPath, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	if str(r, "kind") != "Table" || !strings.Contains(str(r, "columnDefinitions"), `"name":"Holder"`) ||
		str(r, "rows") == "" || !strings.Contains(str(r, "rows"), `"cells":["tb","pod-a","`) || !strings.Contains(str(r, "rows"), `"PartialObjectMetadata"`) {
		t.Errorf("table: %v", r)
	}
}

// Every branch of apimachinery's duration.HumanDuration.
func TestHumanDuration(t *testing.T) {
	const day, year = 24 * time.Hour, 365 * 24 * time.Hour
	for d, want := range map[time.Duration]string{
		-2 * time.Second: "<invalid>", -500 * time.Millisecond: "0s", 0: "0s", 90 * time.Second: "90s", 119 * time.Second: "119s",
		2 * time.Minute: "2m", 5*time.Minute + 3*time.Second: "5m3s", 10 * time.Minute: "10m", 179 * time.Minute: "179m",
		3 * time.Hour: "3h", 3*time.Hour + 5*time.Minute: "3h5m", 8 * time.Hour: "8h", 47 * time.Hour: "47h",
		2 * day: "2d", 50 * time.Hour: "2d2h", 8 * day: "8d", 729 * day: "729d",
		2 * year: "2y", 2*year + day: "2y1d", 8 * year: "8y", 9*year + 5*day: "9y",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestConcurrentPatchesAllApply(t *testing.T) {
	e := newEnv(t)
	mustCode(t, "create", e.do("POST", "/api/v1/namespaces/default/configmaps", map[string]interface{}{"metadata": map[string]interface{}{"name": "cp"}}), 201)
	var wg sync.WaitGroup
	codes := make([]int, 10)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = e.req(e.h2, "PATCH", "/api/v1/namespaces/default/configmaps/cp", e.token, "application/merge-patch+json",
				fmt.Sprintf(`{"data":{"k%d":"v"}}`, i)).code
		}(i)
	}
	wg.Wait()
	r := e.do("GET", "/api/v1/namespaces/default/configmaps/cp", nil)
	for i, c := range codes {
		if c != 200 || str(r.body, "data", fmt.Sprintf("k%d", i)) != "v" {
			t.Errorf("patch %d: code %d, data %s", i, c, str(r.body, "data"))
		}
	}
}
