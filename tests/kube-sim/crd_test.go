package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const (
	crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
	lfPath  = "/apis/leasefence.io/v1alpha1/namespaces/default/leasefences"
)

func sampleCRD(t testing.TB) map[string]interface{} {
	t.Helper()
	b, err := os.ReadFile("testdata/leasefence-crd.json")
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]interface{}
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) installCRD(t *testing.T) resp {
	t.Helper()
	r := e.do("POST", crdPath, sampleCRD(t))
	mustCode(t, "create CRD", r, 201)
	return r
}

func leaseFence(name string, spec map[string]interface{}) map[string]interface{} {
	return map[string]interface{}{"apiVersion": "leasefence.io/v1alpha1", "kind": "LeaseFence",
		"metadata": map[string]interface{}{"name": name}, "spec": spec}
}

func lfSpec() map[string]interface{} {
	return map[string]interface{}{"lease": "controller-leader",
		"writers": map[string]interface{}{"users": []interface{}{"system:serviceaccount:demo:controller"}}}
}

func conditionOf(o map[string]interface{}, typ string) map[string]interface{} {
	st, _ := o["status"].(map[string]interface{})
	l, _ := st["conditions"].([]interface{})
	for _, c := range l {
		if cm, ok := c.(map[string]interface{}); ok && cm["type"] == typ {
			return cm
		}
	}
	return nil
}

func TestCRDLifecycleAndDiscovery(t *testing.T) {
	e := newEnv(t)
	wl := e.watch(e.h2, crdPath+"?watch=1&resourceVersion=4")
	mustCode(t, "no leasefences before the CRD", e.do("GET", lfPath, nil), 404)
	r := e.installCRD(t)
	if str(r.body, "status", "acceptedNames") != `{"kind":"","plural":""}` || str(r.body, "status", "storedVersions") != `["v1alpha1"]` ||
		str(r.body, "status", "conditions") != "" || str(r.body, "metadata", "generation") != "1" ||
		str(r.body, "spec", "conversion", "strategy") != "None" {
		t.Errorf("create answer (as before the controllers ran): %s", r.raw)
	}
	createRV := atoi(str(r.body, "metadata", "resourceVersion"))
	// The naming and establishing controllers: two status updates.
	var types []string
	for i := 0; i < 3; i++ {
		ev := wl.next(2 * time.Second)
		types = append(types, fmt.Sprintf("%s/%d", str(ev, "type"), atoi(str(ev, "object", "metadata", "resourceVersion"))-createRV))
	}
	if strings.Join(types, " ") != "ADDED/0 MODIFIED/1 MODIFIED/2" {
		t.Errorf("CRD events: %v", types)
	}
	g := e.do("GET", crdPath+"/leasefences.leasefence.io", nil)
	if c := conditionOf(g.body, "NamesAccepted"); c == nil || c["status"] != "True" || c["reason"] != "NoConflicts" || c["message"] != "no conflicts found" {
		t.Errorf("NamesAccepted: %s", g.raw)
	}
	if c := conditionOf(g.body, "Established"); c == nil || c["status"] != "True" || c["reason"] != "InitialNamesAccepted" || c["message"] != "the initial names have been accepted" {
		t.Errorf("Established: %s", g.raw)
	}
	if str(g.body, "status", "acceptedNames") != `{"categories":["leasefence"],"kind":"LeaseFence","listKind":"LeaseFenceList","plural":"leasefences","shortNames":["lf"],"singular":"leasefence"}` {
		t.Errorf("acceptedNames: %s", str(g.body, "status", "acceptedNames"))
	}
	// Discovery.
	d := e.do("GET", "/apis", nil)
	if !strings.Contains(d.raw, `{"name":"leasefence.io","preferredVersion":{"groupVersion":"leasefence.io/v1alpha1","version":"v1alpha1"},"versions":[{"groupVersion":"leasefence.io/v1alpha1","version":"v1alpha1"}]}`) {
		t.Errorf("/apis: %s", d.raw)
	}
	mustCode(t, "/apis/leasefence.io", e.do("GET", "/apis/leasefence.io", nil), 200)
	d = e.do("GET", "/apis/leasefence.io/v1alpha1", nil)
	if !strings.Contains(d.raw, `{"categories":["leasefence"],"kind":"LeaseFence","name":"leasefences","namespaced":true,"shortNames":["lf"],"singularName":"leasefence","verbs":["delete","deletecollection","get","list","patch","create","update","watch"]}`) ||
		!strings.Contains(d.raw, `{"kind":"LeaseFence","name":"leasefences/status","namespaced":true,"singularName":"","verbs":["get","patch","update"]}`) {
		t.Errorf("/apis/leasefence.io/v1alpha1: %s", d.raw)
	}
	d = e.do("GET", "/apis/apiextensions.k8s.io/v1", nil)
	if !strings.Contains(d.raw, `"name":"customresourcedefinitions","namespaced":false,"shortNames":["crd","crds"]`) || !strings.Contains(d.raw, `"customresourcedefinitions/status"`) {
		t.Errorf("/apis/apiextensions.k8s.io/v1: %s", d.raw)
	}
	if d = e.do("GET", "/openapi/v3", nil); !strings.Contains(d.raw, `"apis/leasefence.io/v1alpha1"`) {
		t.Errorf("/openapi/v3: %s", d.raw)
	}
	mustCode(t, "openapi of the CR group", e.do("GET", "/openapi/v3/apis/leasefence.io/v1alpha1", nil), 200)

	// Updates: a resourceVersion is required; a spec change bumps generation.
	cur := g.body
	rv := str(cur, "metadata", "resourceVersion")
	delete(cur["metadata"].(map[string]interface{}), "resourceVersion")
	wantStatus(t, "PUT without resourceVersion", e.do("PUT", crdPath+"/leasefences.leasefence.io", cur), 422, "Invalid",
		`customresourcedefinitions.apiextensions.k8s.io "leasefences.leasefence.io" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
		`{"causes":[{"field":"metadata.resourceVersion","message":"Invalid value: 0x0: must be specified for an update","reason":"FieldValueInvalid"}],"group":"apiextensions.k8s.io","kind":"customresourcedefinitions","name":"leasefences.leasefence.io"}`)
	r = e.req(e.h2, "PATCH", crdPath+"/leasefences.leasefence.io", e.token, "application/merge-patch+json", `{"metadata":{"labels":{"a":"b"}}}`)
	if str(r.body, "metadata", "generation") != "1" || str(r.body, "metadata", "resourceVersion") == rv {
		t.Errorf("label patch: %s", r.raw)
	}
	r = e.req(e.h2, "PATCH", crdPath+"/leasefences.leasefence.io", e.token, "application/json-patch+json",
		`[{"op":"replace","path":"/spec/versions/0/additionalPrinterColumns/2/name","value":"Enforcement"}]`)
	if str(r.body, "metadata", "generation") != "2" || conditionOf(r.body, "Established") == nil {
		t.Errorf("spec patch: %s", r.raw)
	}
	tb, _ := httpGetWithAccept(e, lfPath, "application/json;as=Table;v=v1;g=meta.k8s.io")
	if !strings.Contains(str(tb, "columnDefinitions"), `"name":"Enforcement"`) {
		t.Errorf("changed printer column not served: %v", str(tb, "columnDefinitions"))
	}
	wantStatus(t, "invalid CRD", e.do("POST", crdPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "x.example.com"},
		"spec": map[string]interface{}{"group": "example.com", "scope": "Somewhere", "names": map[string]interface{}{"plural": "ys", "kind": "Y"},
			"versions": []interface{}{map[string]interface{}{"name": "v1", "served": true, "storage": true}}}}), 422, "Invalid",
		`CustomResourceDefinition.apiextensions.k8s.io "x.example.com" is invalid: [metadata.name: Invalid value: "x.example.com": must be spec.names.plural+"."+spec.group, spec.scope: Unsupported value: "Somewhere": supported values: "Cluster", "Namespaced", spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required]`, "")

	// Deleting the CRD deletes its objects and stops serving it.
	mustCode(t, "create lf", e.do("POST", lfPath, leaseFence("a", lfSpec())), 201)
	wcr := e.watch(e.h2, lfPath+"?watch=1")
	if ev := wcr.next(2 * time.Second); str(ev, "type") != "ADDED" {
		t.Fatalf("lf watch: %v", ev)
	}
	r = e.do("DELETE", crdPath+"/leasefences.leasefence.io", nil)
	mustCode(t, "delete CRD", r, 200)
	if str(r.body, "kind") != "CustomResourceDefinition" || str(r.body, "metadata", "deletionTimestamp") == "" ||
		str(r.body, "metadata", "finalizers") != `["customresourcecleanup.apiextensions.k8s.io"]` || conditionOf(r.body, "Terminating") == nil {
		t.Errorf("delete answer: %s", r.raw)
	}
	if ev := wcr.next(2 * time.Second); str(ev, "type") != "DELETED" || str(ev, "object", "metadata", "name") != "a" {
		t.Errorf("lf deleted with its CRD: %v", ev)
	}
	if !wcr.ended(2 * time.Second) {
		t.Errorf("watch of the deleted CRD's resource not ended")
	}
	mustCode(t, "CRD gone", e.do("GET", crdPath+"/leasefences.leasefence.io", nil), 404)
	wantStatus(t, "resource gone", e.do("GET", lfPath, nil), 404, "NotFound", "the server could not find the requested resource", "{}")
	mustCode(t, "discovery gone", e.do("GET", "/apis/leasefence.io/v1alpha1", nil), 404)
	if d := e.do("GET", "/apis", nil); strings.Contains(d.raw, "leasefence.io") {
		t.Errorf("/apis still lists the group: %s", d.raw)
	}
	// ...and it can be installed again, empty.
	e.installCRD(t)
	if r := e.do("GET", lfPath, nil); str(r.body, "items") != "[]" {
		t.Errorf("re-installed CRD has objects: %s", r.raw)
	}
}

func TestCustomResourceCRUD(t *testing.T) {
	e := newEnv(t)
	e.installCRD(t)
	before := e.do("GET", "/api/v1/namespaces", nil)
	lf := leaseFence("fence", lfSpec())
	lf["status"] = map[string]interface{}{"holder": "someone"}
	lf["metadata"].(map[string]interface{})["labels"] = map[string]interface{}{"team": "a"}
	r := e.do("POST", lfPath, lf)
	mustCode(t, "create", r, 201)
	if atoi(str(r.body, "metadata", "resourceVersion")) != atoi(str(before.body, "metadata", "resourceVersion"))+1 {
		t.Errorf("resourceVersion not from the global counter: %s after %s", str(r.body, "metadata", "resourceVersion"), str(before.body, "metadata", "resourceVersion"))
	}
	if str(r.body, "metadata", "generation") != "1" || len(str(r.body, "metadata", "uid")) != 36 || str(r.body, "metadata", "creationTimestamp") == "" ||
		str(r.body, "metadata", "namespace") != "default" || str(r.body, "status") != "" ||
		str(r.body, "spec", "mode") != "enforce" || str(r.body, "spec", "identity") != "podName" || str(r.body, "spec", "consistency") != "watch" ||
		str(r.body, "apiVersion") != "leasefence.io/v1alpha1" || str(r.body, "kind") != "LeaseFence" {
		t.Errorf("create answer (generation 1, defaults, no status): %s", r.raw)
	}
	mustCode(t, "create twice", e.do("POST", lfPath, leaseFence("fence", lfSpec())), 409)
	mustCode(t, "second", e.do("POST", lfPath, leaseFence("other", lfSpec())), 201)
	mustCode(t, "in kube-system", e.do("POST", "/apis/leasefence.io/v1alpha1/namespaces/kube-system/leasefences", leaseFence("ks", lfSpec())), 201)
	wantStatus(t, "missing namespace", e.do("POST", "/apis/leasefence.io/v1alpha1/namespaces/nope/leasefences", leaseFence("x", lfSpec())), 404, "NotFound", `namespaces "nope" not found`, "")

	// get, list (items keep kind and apiVersion), selectors.
	g := e.do("GET", lfPath+"/fence", nil)
	mustCode(t, "get", g, 200)
	wantStatus(t, "get missing", e.do("GET", lfPath+"/nope", nil), 404, "NotFound", `leasefences.leasefence.io "nope" not found`, `{"group":"leasefence.io","kind":"leasefences","name":"nope"}`)
	l := e.do("GET", lfPath, nil)
	if str(l.body, "kind") != "LeaseFenceList" || str(l.body, "apiVersion") != "leasefence.io/v1alpha1" ||
		!strings.Contains(str(l.body, "items"), `"kind":"LeaseFence"`) || len(l.body["items"].([]interface{})) != 2 {
		t.Errorf("list: %s", l.raw)
	}
	if l := e.do("GET", "/apis/leasefence.io/v1alpha1/leasefences", nil); len(l.body["items"].([]interface{})) != 3 {
		t.Errorf("list across namespaces: %s", l.raw)
	}
	for q, want := range map[string]int{"labelSelector=team%3Da": 1, "fieldSelector=metadata.name%3Dother": 1,
		"fieldSelector=metadata.namespace%3Ddefault": 2, "labelSelector=team%21%3Da": 1} {
		if l := e.do("GET", lfPath+"?"+q, nil); l.code != 200 || len(l.body["items"].([]interface{})) != want {
			t.Errorf("list ?%s: want %d: %s", q, want, l.raw)
		}
	}
	mustCode(t, "unsupported field selector", e.do("GET", lfPath+"?fieldSelector=spec.lease%3Dx", nil), 400)

	// update: resourceVersion required; spec change bumps generation; status ignored.
	cur := g.body
	rv := str(cur, "metadata", "resourceVersion")
	noRV := copyObj(cur)
	delete(meta(noRV), "resourceVersion")
	wantStatus(t, "PUT without resourceVersion", e.do("PUT", lfPath+"/fence", noRV), 422, "Invalid",
		`leasefences.leasefence.io "fence" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`, "")
	cur["status"] = map[string]interface{}{"holder": "me"}
	r = e.do("PUT", lfPath+"/fence", cur)
	if r.code != 200 || str(r.body, "metadata", "resourceVersion") != rv || str(r.body, "status") != "" {
		t.Errorf("status written through the main resource: %s", r.raw)
	}
	cur["spec"].(map[string]interface{})["mode"] = "warn"
	r = e.do("PUT", lfPath+"/fence", cur)
	if r.code != 200 || str(r.body, "metadata", "generation") != "2" || str(r.body, "spec", "mode") != "warn" || str(r.body, "status") != "" {
		t.Errorf("spec update: %s", r.raw)
	}
	wantStatus(t, "stale PUT", e.do("PUT", lfPath+"/fence", cur), 409, "Conflict",
		`Operation cannot be fulfilled on leasefences.leasefence.io "fence": the object has been modified; please apply your changes to the latest version and try again`, "")
	r = e.req(e.h2, "PATCH", lfPath+"/fence", e.token, "application/merge-patch+json", `{"metadata":{"labels":{"team":"b"}}}`)
	if r.code != 200 || str(r.body, "metadata", "generation") != "2" || str(r.body, "metadata", "labels", "team") != "b" {
		t.Errorf("metadata-only patch changed generation: %s", r.raw)
	}
	r = e.req(e.h2, "PATCH", lfPath+"/fence", e.token, "application/json-patch+json", `[{"op":"add","path":"/spec/writers/groups","value":["g1"]}]`)
	if r.code != 200 || str(r.body, "metadata", "generation") != "3" || str(r.body, "spec", "writers", "groups") != `["g1"]` {
		t.Errorf("JSON patch: %s", r.raw)
	}
	wantStatus(t, "strategic merge patch", e.req(e.h2, "PATCH", lfPath+"/fence", e.token, "application/strategic-merge-patch+json", `{"spec":{"mode":"audit"}}`),
		415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml", "")
	mustCode(t, "patch missing", e.req(e.h2, "PATCH", lfPath+"/nope", e.token, "application/merge-patch+json", `{}`), 404)
	mustCode(t, "PUT missing (no create on update)", e.do("PUT", lfPath+"/nope", leaseFence("nope", lfSpec())), 404)

	// delete
	r = e.do("DELETE", lfPath+"/other", nil)
	if r.code != 200 || str(r.body, "status") != "Success" || str(r.body, "details", "kind") != "leasefences" || str(r.body, "details", "group") != "leasefence.io" {
		t.Errorf("delete: %s", r.raw)
	}
	mustCode(t, "deleted", e.do("GET", lfPath+"/other", nil), 404)
	// Deleting the namespace deletes its custom resources.
	mustCode(t, "delete kube-system", e.do("DELETE", "/api/v1/namespaces/kube-system", nil), 200)
	if l := e.do("GET", "/apis/leasefence.io/v1alpha1/leasefences", nil); len(l.body["items"].([]interface{})) != 1 {
		t.Errorf("namespace deletion left custom resources: %s", l.raw)
	}
}

func TestCustomResourceStatusSubresource(t *testing.T) {
	e := newEnv(t)
	e.installCRD(t)
	r := e.do("POST", lfPath, leaseFence("fence", lfSpec()))
	cur := r.body
	cur["status"] = map[string]interface{}{"holder": "pod-a", "observedGeneration": 1,
		"conditions": []interface{}{map[string]interface{}{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-24T06:12:00Z"}}}
	cur["spec"].(map[string]interface{})["mode"] = "audit"
	meta(cur)["labels"] = map[string]interface{}{"sneaky": "yes"}
	r = e.do("PUT", lfPath+"/fence/status", cur)
	mustCode(t, "PUT status", r, 200)
	if str(r.body, "status", "holder") != "pod-a" || str(r.body, "spec", "mode") != "enforce" || str(r.body, "metadata", "labels") != "" ||
		str(r.body, "metadata", "generation") != "1" {
		t.Errorf("status update must change only .status: %s", r.raw)
	}
	r = e.req(e.h2, "PATCH", lfPath+"/fence/status", e.token, "application/merge-patch+json", `{"status":{"holder":"pod-b","allowed":3},"spec":{"lease":"other"}}`)
	if r.code != 200 || str(r.body, "status", "holder") != "pod-b" || str(r.body, "status", "allowed") != "3" || str(r.body, "spec", "lease") != "controller-leader" {
		t.Errorf("status patch: %s", r.raw)
	}
	g := e.do("GET", lfPath+"/fence/status", nil)
	if g.code != 200 || str(g.body, "status", "holder") != "pod-b" || str(g.body, "kind") != "LeaseFence" {
		t.Errorf("GET status: %s", g.raw)
	}
	// Status is validated against the status schema; paths name the status.
	wantStatus(t, "invalid status", e.req(e.h2, "PATCH", lfPath+"/fence/status", e.token, "application/merge-patch+json",
		`{"status":{"observedGeneration":-1,"conditions":[{"type":"Ready","status":"Maybe"}]}}`), 422, "Invalid",
		`LeaseFence.leasefence.io "fence" is invalid: [status.conditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown", status.observedGeneration: Invalid value: -1: observedGeneration in body should be greater than or equal to 0]`, "")
	wantStatus(t, "duplicate condition", e.req(e.h2, "PATCH", lfPath+"/fence/status", e.token, "application/merge-patch+json",
		`{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Ready","status":"False"}]}}`), 422, "Invalid",
		`LeaseFence.leasefence.io "fence" is invalid: status.conditions[1]: Duplicate value: map[string]interface {}{"type":"Ready"}`, "")
	// The status subresource of a CRD without one, or another subresource: NotFound.
	wantStatus(t, "unknown subresource", e.do("GET", lfPath+"/fence/scale", nil), 404, "NotFound", `leasefences.leasefence.io "fence" not found`, "")
	mustCode(t, "status of a missing object", e.do("GET", lfPath+"/nope/status", nil), 404)
	mustCode(t, "no POST on status", e.do("POST", lfPath+"/fence/status", leaseFence("fence", lfSpec())), 405)
	// The main resource keeps the status.
	cur = e.do("GET", lfPath+"/fence", nil).body
	cur["spec"].(map[string]interface{})["lease"] = "renamed"
	delete(cur, "status")
	r = e.do("PUT", lfPath+"/fence", cur)
	if str(r.body, "status", "holder") != "pod-b" || str(r.body, "metadata", "generation") != "2" {
		t.Errorf("main update dropped the status: %s", r.raw)
	}
}

func TestCustomResourceSchema(t *testing.T) {
	e := newEnv(t)
	e.installCRD(t)
	sp := lfSpec()
	sp["mode"] = "bogus"
	r := e.do("POST", lfPath, leaseFence("bad", sp))
	wantStatus(t, "mode bogus", r, 422, "Invalid",
		`LeaseFence.leasefence.io "bad" is invalid: spec.mode: Unsupported value: "bogus": supported values: "enforce", "warn", "audit"`,
		`{"causes":[{"field":"spec.mode","message":"Unsupported value: \"bogus\": supported values: \"enforce\", \"warn\", \"audit\"","reason":"FieldValueNotSupported"}],"group":"leasefence.io","kind":"LeaseFence","name":"bad"}`)
	sp = map[string]interface{}{"lease": 5, "writers": map[string]interface{}{"users": "alice"}, "holderMatch": "fuzzy"}
	wantStatus(t, "several errors", e.do("POST", lfPath, leaseFence("bad", sp)), 422, "Invalid",
		`LeaseFence.leasefence.io "bad" is invalid: [spec.holderMatch: Unsupported value: "fuzzy": supported values: "exact", "hostname", spec.lease: Invalid value: "integer": spec.lease in body must be of type string: "integer", spec.writers.users: Invalid value: "string": spec.writers.users in body must be of type array: "string"]`, "")
	wantStatus(t, "required", e.do("POST", lfPath, leaseFence("bad", map[string]interface{}{"lease": ""})), 422, "Invalid",
		`LeaseFence.leasefence.io "bad" is invalid: [spec.lease: Invalid value: "": spec.lease in body should be at least 1 chars long, spec.writers: Required value]`, "")
	wantStatus(t, "no spec", e.do("POST", lfPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "bad"}}), 422, "Invalid",
		`LeaseFence.leasefence.io "bad" is invalid: spec: Required value`, "")
	long := lfSpec()
	long["lease"] = strings.Repeat("x", 254)
	wantStatus(t, "too long", e.do("POST", lfPath, leaseFence("bad", long)), 422, "Invalid",
		`LeaseFence.leasefence.io "bad" is invalid: spec.lease: Too long: may not be more than 253 bytes`, "")
	nul := lfSpec()
	nul["lease"] = nil
	wantStatus(t, "null of a required field is dropped, then missing", e.do("POST", lfPath, leaseFence("bad", nul)), 422, "Invalid",
		`LeaseFence.leasefence.io "bad" is invalid: spec.lease: Required value`, "")

	// Unknown fields: pruned with a warning (default), 400 with Strict.
	unk := lfSpec()
	unk["bogus"] = 1
	unk["writers"].(map[string]interface{})["robots"] = []interface{}{"r2"}
	body := leaseFence("unk", unk)
	body["extra"] = true
	body["metadata"].(map[string]interface{})["colour"] = "red"
	wantStatus(t, "strict", e.do("POST", lfPath+"?fieldValidation=Strict", body), 400, "BadRequest",
		`LeaseFence in version "v1alpha1" cannot be handled as a LeaseFence: strict decoding error: unknown field "metadata.colour", unknown field "extra", unknown field "spec.bogus", unknown field "spec.writers.robots"`, "")
	r = e.do("POST", lfPath, body)
	mustCode(t, "warn", r, 201)
	if w := strings.Join(r.hdr.Values("Warning"), "|"); w != `299 - "unknown field \"metadata.colour\""|299 - "unknown field \"extra\""|299 - "unknown field \"spec.bogus\""|299 - "unknown field \"spec.writers.robots\""` {
		t.Errorf("warnings: %s", w)
	}
	if strings.Contains(r.raw, "bogus") || strings.Contains(r.raw, "robots") || strings.Contains(r.raw, "extra") || strings.Contains(r.raw, "colour") {
		t.Errorf("unknown fields kept: %s", r.raw)
	}
	r = e.do("POST", lfPath+"?fieldValidation=Ignore", leaseFence("unk2", unk))
	if r.code != 201 || len(r.hdr.Values("Warning")) != 0 {
		t.Errorf("Ignore: %d %v", r.code, r.hdr)
	}
	wantStatus(t, "wrong apiVersion", e.do("POST", lfPath, map[string]interface{}{"apiVersion": "leasefence.io/v1", "kind": "LeaseFence", "metadata": map[string]interface{}{"name": "x"}, "spec": lfSpec()}),
		400, "BadRequest", "the API version in the data (leasefence.io/v1) does not match the expected API version (leasefence.io/v1alpha1)", "")

	// Ratcheting: after the schema is narrowed, an update that leaves the
	// now-invalid value alone passes; changing it to another invalid value fails.
	sp = lfSpec()
	sp["mode"] = "audit"
	mustCode(t, "audit", e.do("POST", lfPath, leaseFence("old", sp)), 201)
	r = e.req(e.h2, "PATCH", crdPath+"/leasefences.leasefence.io", e.token, "application/json-patch+json",
		`[{"op":"replace","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/mode/enum","value":["enforce","warn"]}]`)
	mustCode(t, "narrow the enum", r, 200)
	r = e.req(e.h2, "PATCH", lfPath+"/old", e.token, "application/merge-patch+json", `{"spec":{"lease":"new-lease"}}`)
	if r.code != 200 || str(r.body, "spec", "lease") != "new-lease" {
		t.Errorf("ratcheted update: %s", r.raw)
	}
	wantStatus(t, "new invalid value", e.req(e.h2, "PATCH", lfPath+"/old", e.token, "application/merge-patch+json", `{"spec":{"mode":"bogus"}}`), 422, "Invalid",
		`LeaseFence.leasefence.io "old" is invalid: spec.mode: Unsupported value: "bogus": supported values: "enforce", "warn"`, "")
}

func TestCustomResourceWatchAndTable(t *testing.T) {
	e := newEnv(t, func(o *options) { o.bookmarkInterval = 300 * time.Millisecond })
	e.installCRD(t)
	r := e.do("POST", lfPath, leaseFence("fence", lfSpec()))
	rv := str(r.body, "metadata", "resourceVersion")
	ws := e.watch(e.h1, lfPath+"?watch=1&allowWatchBookmarks=true&resourceVersion="+rv)
	r = e.req(e.h2, "PATCH", lfPath+"/fence/status", e.token, "application/merge-patch+json",
		`{"status":{"holder":"pod-a","conditions":[{"type":"Synced","status":"True"},{"type":"Ready","status":"False","reason":"NoLease"}]}}`)
	mustCode(t, "status", r, 200)
	ev := ws.next(2 * time.Second)
	if str(ev, "type") != "MODIFIED" || str(ev, "object", "status", "holder") != "pod-a" || str(ev, "object", "apiVersion") != "leasefence.io/v1alpha1" {
		t.Errorf("watch event: %v", ev)
	}
	if ev := ws.next(2 * time.Second); str(ev, "type") != "BOOKMARK" || str(ev, "object", "kind") != "LeaseFence" || str(ev, "object", "metadata") != fmt.Sprintf(`{"resourceVersion":"%s"}`, str(r.body, "metadata", "resourceVersion")) {
		t.Errorf("bookmark: %v", ev)
	}
	tb, code := httpGetWithAccept(e, lfPath, "application/json;as=Table;v=v1;g=meta.k8s.io")
	if code != 200 || str(tb, "kind") != "Table" {
		t.Fatalf("table: %d %v", code, tb)
	}
	var names []string
	for _, c := range tb["columnDefinitions"].([]interface{}) {
		cm := c.(map[string]interface{})
		names = append(names, str(cm, "name")+":"+str(cm, "type"))
	}
	if strings.Join(names, " ") != "Name:string Lease:string Holder:string Mode:string Ready:string Age:date" {
		t.Errorf("columns: %v", names)
	}
	cells := str(tb["rows"].([]interface{})[0].(map[string]interface{}), "cells")
	if !strings.HasPrefix(cells, `["fence","controller-leader","pod-a","enforce","False","`) || !strings.HasSuffix(cells, `s"]`) {
		t.Errorf("cells: %s", cells)
	}
	// A column whose path finds nothing is null; other types are typed.
	mustCode(t, "second", e.do("POST", lfPath, leaseFence("bare", lfSpec())), 201)
	tb, _ = httpGetWithAccept(e, lfPath+"/bare", "application/json;as=Table;v=v1;g=meta.k8s.io")
	if cells := str(tb["rows"].([]interface{})[0].(map[string]interface{}), "cells"); !strings.HasPrefix(cells, `["bare","controller-leader",null,"enforce",null,"`) {
		t.Errorf("cells without status: %s", cells)
	}
	for _, c := range []struct {
		typ  string
		v    interface{}
		want string
	}{{"integer", int64(3), "3"}, {"number", int64(3), "3"}, {"boolean", true, "true"}, {"integer", "x", "null"},
		{"string", map[string]interface{}{"a": int64(1)}, `"{\"a\":1}"`}, {"string", nil, `"\u003cno value\u003e"`},
		{"date", "yesterday", `"\u003cinvalid\u003e"`}, {"date", time.Now().Add(-200 * time.Second).UTC().Format(time.RFC3339), `"3m20s"`}} {
		b, _ := json.Marshal(crCell(c.typ, c.v))
		if string(b) != c.want {
			t.Errorf("cell %s %v: %s, want %s", c.typ, c.v, b, c.want)
		}
	}
}

func TestCustomResourceAdmission(t *testing.T) {
	e := newEnv(t)
	e.installCRD(t)
	h := newHookServer(t, "127.0.0.1")
	h.answer = func(req map[string]interface{}) interface{} {
		if str(req, "object", "status", "holder") == "forbidden" || str(req, "object", "metadata", "labels", "deny") != "" {
			return denyResp(req, map[string]interface{}{"code": 403, "reason": "Forbidden", "message": "not the holder"})
		}
		return allowResp(req)
	}
	w := webhookSpec("fence.leasefence.io", "https://"+h.addr+"/validate", h.caPEM)
	w["rules"] = []interface{}{map[string]interface{}{"operations": []interface{}{"*"}, "apiGroups": []interface{}{"leasefence.io"},
		"apiVersions": []interface{}{"*"}, "resources": []interface{}{"leasefences", "leasefences/status"}}}
	mustCode(t, "vwc", e.do("POST", vwcPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "fence"}, "webhooks": []interface{}{w}}), 201)
	r := e.do("POST", lfPath, leaseFence("fence", lfSpec()))
	mustCode(t, "create", r, 201)
	req := h.last()["request"].(map[string]interface{})
	if str(req, "operation") != "CREATE" || str(req, "kind") != `{"group":"leasefence.io","kind":"LeaseFence","version":"v1alpha1"}` ||
		str(req, "resource") != `{"group":"leasefence.io","resource":"leasefences","version":"v1alpha1"}` || str(req, "object", "spec", "mode") != "enforce" {
		t.Errorf("create review: %v", req)
	}
	wantStatus(t, "denied status update", e.req(e.h2, "PATCH", lfPath+"/fence/status", e.token, "application/merge-patch+json", `{"status":{"holder":"forbidden"}}`),
		403, "Forbidden", `admission webhook "fence.leasefence.io" denied the request: not the holder`, "")
	req = h.last()["request"].(map[string]interface{})
	if str(req, "subResource") != "status" || str(req, "requestSubResource") != "status" || str(req, "operation") != "UPDATE" || str(req, "oldObject", "metadata", "name") != "fence" {
		t.Errorf("status review: %v", req)
	}
	n := h.count()
	mustCode(t, "allowed status update", e.req(e.h2, "PATCH", lfPath+"/fence/status", e.token, "application/merge-patch+json", `{"status":{"holder":"pod-a"}}`), 200)
	// A rule for the main resource only does not match the status subresource.
	w["rules"] = []interface{}{map[string]interface{}{"operations": []interface{}{"*"}, "apiGroups": []interface{}{"leasefence.io"},
		"apiVersions": []interface{}{"*"}, "resources": []interface{}{"leasefences"}}}
	cur := e.do("GET", vwcPath+"/fence", nil).body
	cur["webhooks"] = []interface{}{w}
	mustCode(t, "narrow the rule", e.do("PUT", vwcPath+"/fence", cur), 200)
	n = h.count()
	mustCode(t, "status not sent", e.req(e.h2, "PATCH", lfPath+"/fence/status", e.token, "application/merge-patch+json", `{"status":{"holder":"forbidden"}}`), 200)
	if h.count() != n {
		t.Errorf("status update sent to a main-resource rule")
	}
	mustCode(t, "delete", e.do("DELETE", lfPath+"/fence", nil), 200)
	entries := e.logEntries(0)
	found := false
	for _, le := range entries {
		if le["type"] == "commit" && le["resource"] == "leasefences" && le["subresource"] == "status" {
			found = true
		}
	}
	if !found {
		t.Errorf("no commit entry with subresource status in the log")
	}
}

func TestCRDCreateDelayAndStats(t *testing.T) {
	// Established's lastTransitionTime has whole seconds (as the real
	// server's, read back from storage): with 1.1 s, a create right after the
	// CRD is always held, one 1.1 s later never.
	e := newEnv(t, func(o *options) { o.crdCreateDelay = 1100 * time.Millisecond })
	e.installCRD(t)
	t0 := time.Now()
	mustCode(t, "first", e.do("POST", lfPath, leaseFence("a", lfSpec())), 201)
	if d := time.Since(t0); d < 1100*time.Millisecond {
		t.Errorf("create right after the CRD was established answered after %v, want the delay", d)
	}
	t0 = time.Now()
	mustCode(t, "later", e.do("POST", lfPath, leaseFence("b", lfSpec())), 201)
	if d := time.Since(t0); d > 300*time.Millisecond {
		t.Errorf("create long after: %v", d)
	}
	stats := e.stats
	if s := stats(); s["watches"].(float64) != 0 {
		t.Errorf("stats before watching: %v", s)
	}
	e.watch(e.h2, lfPath+"?watch=1")
	e.watch(e.h1, leasesPath+"?watch=1")
	ws := e.watch(e.h2, "/apis/leasefence.io/v1alpha1/leasefences?watch=1")
	deadline := time.Now().Add(2 * time.Second)
	var s map[string]interface{}
	for time.Now().Before(deadline) {
		if s = stats(); s["watches"].(float64) == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s["watches"].(float64) != 3 || str(s, "watchesByResource") != `{"leasefences.leasefence.io":2,"leases.coordination.k8s.io":1}` {
		t.Errorf("stats: %v", s)
	}
	ws.res.Body.Close()
	for time.Now().Add(-2*time.Second).Before(deadline) && stats()["watches"].(float64) != 2 {
		time.Sleep(20 * time.Millisecond)
	}
	if s := stats(); s["watches"].(float64) != 2 {
		t.Errorf("closed watch still counted: %v", s)
	}
}

// A cluster-scoped CRD with two served versions, no printer columns and a
// schema that keeps unknown fields under one property.
func TestClusterScopedCustomResource(t *testing.T) {
	e := newEnv(t)
	schema := map[string]interface{}{"openAPIV3Schema": map[string]interface{}{"type": "object", "properties": map[string]interface{}{
		"spec": map[string]interface{}{"type": "object", "properties": map[string]interface{}{
			"size":  map[string]interface{}{"type": "integer", "minimum": 1, "maximum": 10},
			"extra": map[string]interface{}{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
			"when":  map[string]interface{}{"type": "string", "format": "date-time"}}}}}}
	crd := map[string]interface{}{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]interface{}{"name": "widgets.example.com"},
		"spec": map[string]interface{}{"group": "example.com", "scope": "Cluster", "names": map[string]interface{}{"plural": "widgets", "kind": "Widget"},
			"surprise": 1,
			"versions": []interface{}{
				map[string]interface{}{"name": "v1", "served": true, "storage": true, "schema": schema},
				map[string]interface{}{"name": "v1beta1", "served": true, "storage": false, "schema": schema}}}}
	wantStatus(t, "unknown CRD field, Strict", e.do("POST", crdPath+"?fieldValidation=Strict", crd), 400, "BadRequest",
		`CustomResourceDefinition in version "v1" cannot be handled as a CustomResourceDefinition: strict decoding error: unknown field "spec.surprise"`, "")
	r := e.do("POST", crdPath, crd)
	mustCode(t, "CRD", r, 201)
	if strings.Contains(r.raw, "surprise") || str(r.body, "spec", "names", "listKind") != "WidgetList" || str(r.body, "spec", "names", "singular") != "widget" {
		t.Errorf("CRD answer: %s", r.raw)
	}
	if d := e.do("GET", "/apis/example.com", nil); str(d.body, "preferredVersion", "version") != "v1" || str(d.body, "versions") != `[{"groupVersion":"example.com/v1","version":"v1"},{"groupVersion":"example.com/v1beta1","version":"v1beta1"}]` {
		t.Errorf("group: %s", d.raw)
	}
	w := map[string]interface{}{"apiVersion": "example.com/v1beta1", "kind": "Widget", "metadata": map[string]interface{}{"name": "w1", "namespace": "ignored"},
		"spec": map[string]interface{}{"size": 3, "extra": map[string]interface{}{"anything": map[string]interface{}{"goes": true}}, "when": "2026-11-24T06:12:00+05:30", "gone": 1}}
	r = e.do("POST", "/apis/example.com/v1beta1/widgets", w)
	mustCode(t, "create via v1beta1", r, 201)
	if str(r.body, "metadata", "namespace") != "" || str(r.body, "spec", "extra") != `{"anything":{"goes":true}}` || str(r.body, "spec", "gone") != "" ||
		str(r.body, "spec", "when") != "2026-11-24T06:12:00+05:30" || str(r.body, "apiVersion") != "example.com/v1beta1" {
		t.Errorf("cluster-scoped create: %s", r.raw)
	}
	if g := e.do("GET", "/apis/example.com/v1/widgets/w1", nil); str(g.body, "apiVersion") != "example.com/v1" || str(g.body, "spec", "size") != "3" {
		t.Errorf("read through v1: %s", g.raw)
	}
	mustCode(t, "namespaced path of a cluster-scoped resource", e.do("GET", "/apis/example.com/v1/namespaces/default/widgets/w1", nil), 404)
	wantStatus(t, "range", e.req(e.h2, "PATCH", "/apis/example.com/v1/widgets/w1", e.token, "application/merge-patch+json", `{"spec":{"size":11,"when":"soon"}}`), 422, "Invalid",
		`Widget.example.com "w1" is invalid: [spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10, spec.when: Invalid value: "soon": spec.when in body must be of type date-time: "soon"]`, "")
	wantStatus(t, "kind", e.do("POST", "/apis/example.com/v1/widgets", map[string]interface{}{"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": map[string]interface{}{"name": "g"}}),
		422, "Invalid", `Gadget.example.com "g" is invalid: kind: Invalid value: "Gadget": must be Widget`, "")
	tb, _ := httpGetWithAccept(e, "/apis/example.com/v1/widgets", "application/json;as=Table;v=v1;g=meta.k8s.io")
	if cols := str(tb, "columnDefinitions"); !strings.Contains(cols, `"name":"Age","priority":0,"type":"date"`) || strings.Count(cols, `"name":`) != 2 {
		t.Errorf("default columns: %s", cols)
	}
	if w := e.watch(e.h2, "/apis/example.com/v1beta1/widgets?watch=1"); str(w.next(2*time.Second), "object", "apiVersion") != "example.com/v1beta1" {
		t.Errorf("watch through v1beta1 not in v1beta1")
	}
}
