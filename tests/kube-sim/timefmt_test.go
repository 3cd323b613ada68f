package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// What Go 1.23's time.Parse (kube-apiserver 1.32) answers for MicroTime's
// layout: the canonical value kube-apiserver writes back, or the error.
var microTimeCases = []struct{ in, out, err string }{
	{in: "2026-11-24T06:12:00.123456Z", out: "2026-11-24T06:12:00.123456Z"},
	{in: "2026-11-24T06:12:00.123456+05:30", out: "2026-11-24T00:42:00.123456Z"},
	{in: "2026-11-24T06:12:00.123456-00:00", out: "2026-11-24T06:12:00.123456Z"},
	{in: "2026-11-24T06:12:00,123456Z", out: "2026-11-24T06:12:00.123456Z"},
	{in: "2026-11-24T6:12:00.123456Z", out: "2026-11-24T06:12:00.123456Z"},
	{in: "2026-11-24T06:12:00.123456+24:00", out: "2026-11-23T06:12:00.123456Z"},
	{in: "2026-11-24T06:12:00.123456+05:60", out: "2026-11-24T00:12:00.123456Z"},
	{in: "0001-01-01T00:00:00.000000Z", out: ""}, // the zero instant: null
	{in: "2026-11-24T06:12:00.123456+25:00", err: `parsing time "2026-11-24T06:12:00.123456+25:00": time zone offset hour out of range`},
	{in: "2026-11-24T06:12:00.123456+05:61", err: `parsing time "2026-11-24T06:12:00.123456+05:61": time zone offset minute out of range`},
	{in: "2026-11-24T06:12:00.123456z", err: `parsing time "2026-11-24T06:12:00.123456z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "z" as "Z07:00"`},
	{in: "2026-11-24T06:12:00.123456+-1:00", err: `parsing time "2026-11-24T06:12:00.123456+-1:00" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "+-1:00" as "Z07:00"`},
	{in: "2026-11-24T06:12:00.123456+0a:00", err: `parsing time "2026-11-24T06:12:00.123456+0a:00" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "+0a:00" as "Z07:00"`},
	{in: "2026-11-24T06:12:00.123Z", err: `parsing time "2026-11-24T06:12:00.123Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".123Z" as ".000000"`},
	{in: "2026-11-24T06:12:00.1234567Z", err: `parsing time "2026-11-24T06:12:00.1234567Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "7Z" as "Z07:00"`},
	{in: "2026-11-24T06:12:00Z", err: `parsing time "2026-11-24T06:12:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"`},
	{in: "2026-02-30T06:12:00.123456Z", err: `parsing time "2026-02-30T06:12:00.123456Z": day out of range`},
	{in: "2026-13-01T06:12:00.123456Z", err: `parsing time "2026-13-01T06:12:00.123456Z": month out of range`},
	{in: "2026-11-24T24:00:00.000000Z", err: `parsing time "2026-11-24T24:00:00.000000Z": hour out of range`},
	{in: "2026-11-24T06:12:00.123456Z ", err: `parsing time "2026-11-24T06:12:00.123456Z ": extra text: " "`},
	{in: "2026-11-24 06:12:00.123456Z", err: `parsing time "2026-11-24 06:12:00.123456Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse " 06:12:00.123456Z" as "T"`},
	{in: "yesterday", err: `parsing time "yesterday" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "yesterday" as "2006"`},
	{in: "2026-11-24T06:12:00.-12345Z", err: `parsing time "2026-11-24T06:12:00.-12345Z": fractional second out of range`},
}

func TestAPIParseTimeMicro(t *testing.T) {
	for _, c := range microTimeCases {
		v, _, err := canonicalTime(c.in, true, "LeaseSpec.spec.renewTime")
		got := ""
		if s, ok := v.(string); ok {
			got = s
		}
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: err %v, want %s", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.out {
			t.Errorf("%q: got %q %v, want %q", c.in, got, err, c.out)
		}
	}
	// metav1.Time (RFC3339): any fraction, kept until written (seconds).
	for in, out := range map[string]string{
		"2026-11-24T06:12:00Z":              "2026-11-24T06:12:00Z",
		"2026-11-24T06:12:00.999999999999Z": "2026-11-24T06:12:00Z",
		"2026-11-24T06:12:00,5+01:00":       "2026-11-24T05:12:00Z",
	} {
		v, _, err := canonicalTime(in, false, "ObjectMeta.metadata.creationTimestamp")
		if err != nil || v != out {
			t.Errorf("Time %q: %v %v, want %q", in, v, err, out)
		}
	}
	if _, _, err := canonicalTime(json.Number("5"), true, "LeaseSpec.spec.renewTime"); err == nil ||
		err.Error() != "json: cannot unmarshal number into Go struct field LeaseSpec.spec.renewTime of type string" {
		t.Errorf("number: %v", err)
	}
}

func TestMicroTimeReencodedAsKubeAPIServer(t *testing.T) {
	e := newEnv(t)
	l := lease("mt", "a", 10)
	spec := l["spec"].(map[string]interface{})
	spec["renewTime"] = "2026-11-24T06:12:00,123456+05:30"
	spec["acquireTime"] = "2026-11-24T00:00:00.000000-01:00"
	r := e.do("POST", leasesPath, l)
	mustCode(t, "create", r, 201)
	if str(r.body, "spec", "renewTime") != "2026-11-24T00:42:00.123456Z" || str(r.body, "spec", "acquireTime") != "2026-11-24T01:00:00.000000Z" {
		t.Fatalf("create answer not re-encoded: %s", r.raw)
	}
	rv := str(r.body, "metadata", "resourceVersion")
	g := e.do("GET", leasesPath+"/mt", nil)
	if str(g.body, "spec", "renewTime") != "2026-11-24T00:42:00.123456Z" {
		t.Fatalf("stored: %s", g.raw)
	}
	ws := e.watch(e.h2, leasesPath+"?watch=1&resourceVersion="+rv)
	seq := int64(len(e.logEntries(0)))

	// The same instants written in other zones: nothing changes, no write.
	cur := g.body
	cs := cur["spec"].(map[string]interface{})
	cs["renewTime"] = "2026-11-23T19:42:00.123456-05:00"
	cs["acquireTime"] = "2026-11-24T01:00:00,000000Z"
	r = e.do("PUT", leasesPath+"/mt", cur)
	mustCode(t, "same instant", r, 200)
	if str(r.body, "metadata", "resourceVersion") != rv || str(r.body, "spec", "renewTime") != "2026-11-24T00:42:00.123456Z" {
		t.Errorf("same instant in another zone bumped the object: %s", r.raw)
	}
	r = e.req(e.h2, "PATCH", leasesPath+"/mt", e.token, "application/merge-patch+json", `{"spec":{"renewTime":"2026-11-24T01:42:00.123456+01:00"}}`)
	if str(r.body, "metadata", "resourceVersion") != rv {
		t.Errorf("patch with the same instant bumped the object: %s", r.raw)
	}
	if ev := ws.next(300 * time.Millisecond); ev != nil {
		t.Errorf("no-op update sent an event: %v", ev)
	}
	for _, le := range e.logEntries(seq) {
		if le["type"] == "commit" {
			t.Errorf("no-op update committed: %v", le)
		}
	}
	// A different instant is a write, re-encoded; null drops the pointer field.
	r = e.req(e.h2, "PATCH", leasesPath+"/mt", e.token, "application/merge-patch+json", `{"spec":{"renewTime":"2026-11-24T06:12:01.5+00:00"}}`)
	wantStatus(t, "3-digit-less fraction", r, 400, "BadRequest",
		`Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-24T06:12:01.5+00:00" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".5+00:00" as ".000000"`, "")
	cur = e.do("GET", leasesPath+"/mt", nil).body
	cur["spec"].(map[string]interface{})["renewTime"] = "2026-11-24T07:12:01.000001+01:00"
	cur["spec"].(map[string]interface{})["acquireTime"] = nil
	r = e.do("PUT", leasesPath+"/mt", cur)
	mustCode(t, "new instant", r, 200)
	if str(r.body, "spec", "renewTime") != "2026-11-24T06:12:01.000001Z" || strings.Contains(r.raw, "acquireTime") || str(r.body, "metadata", "resourceVersion") == rv {
		t.Errorf("new instant: %s", r.raw)
	}
	if ev := ws.next(2 * time.Second); str(ev, "type") != "MODIFIED" || str(ev, "object", "spec", "renewTime") != "2026-11-24T06:12:01.000001Z" {
		t.Errorf("watch event: %v", ev)
	}

	// The zero instant is written as null (a non-nil *MicroTime).
	l = lease("zero", "a", 10)
	l["spec"].(map[string]interface{})["acquireTime"] = "0001-01-01T00:00:00.000000Z"
	r = e.do("POST", leasesPath, l)
	if !strings.Contains(r.raw, `"acquireTime":null`) {
		t.Errorf("zero instant: %s", r.raw)
	}

	// Out-of-range offsets and other unparsable times: 400 from the decoder.
	for _, c := range microTimeCases {
		if c.err == "" {
			continue
		}
		l := lease("bad", "a", 10)
		l["spec"].(map[string]interface{})["renewTime"] = c.in
		wantStatus(t, "renewTime "+c.in, e.do("POST", leasesPath, l), 400, "BadRequest",
			`Lease in version "v1" cannot be handled as a Lease: `+c.err, "")
	}
	l = lease("bad", "a", 10)
	l["spec"].(map[string]interface{})["acquireTime"] = true
	wantStatus(t, "bool acquireTime", e.do("POST", leasesPath, l), 400, "BadRequest",
		`Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal bool into Go struct field LeaseSpec.spec.acquireTime of type string`, "")
	mustCode(t, "nothing created", e.do("GET", leasesPath+"/bad", nil), 404)
}

func TestMetaTimesDecoded(t *testing.T) {
	e := newEnv(t)
	// creationTimestamp is decoded (and then set by the server).
	l := lease("ct", "a", 10)
	l["metadata"].(map[string]interface{})["creationTimestamp"] = "2026-11-24 06:12:00"
	wantStatus(t, "bad creationTimestamp", e.do("POST", leasesPath, l), 400, "BadRequest",
		`Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-24 06:12:00" as "2006-01-02T15:04:05Z07:00": cannot parse " 06:12:00" as "T"`, "")
	l["metadata"].(map[string]interface{})["creationTimestamp"] = "2001-01-01T00:00:00.5+01:00"
	r := e.do("POST", leasesPath, l)
	mustCode(t, "create", r, 201)
	ct := str(r.body, "metadata", "creationTimestamp")
	if ts, err := time.Parse(time.RFC3339, ct); err != nil || time.Since(ts) > time.Minute || !strings.HasSuffix(ct, "Z") {
		t.Errorf("creationTimestamp %q", ct)
	}
	// An update cannot set deletionTimestamp (nor change creationTimestamp).
	cur := r.body
	m := cur["metadata"].(map[string]interface{})
	m["creationTimestamp"] = "2001-01-01T00:00:00Z"
	m["deletionTimestamp"] = "2026-11-24T07:12:00+01:00"
	wantStatus(t, "deletionTimestamp", e.do("PUT", leasesPath+"/ct", cur), 422, "Invalid",
		`Lease.coordination.k8s.io "ct" is invalid: metadata.deletionTimestamp: Invalid value: 2026-11-24 06:12:00 +0000 UTC: field is immutable`, "")
	delete(m, "deletionTimestamp")
	r = e.do("PUT", leasesPath+"/ct", cur)
	mustCode(t, "update", r, 200)
	if str(r.body, "metadata", "creationTimestamp") != ct || str(r.body, "metadata", "resourceVersion") != str(cur, "metadata", "resourceVersion") {
		t.Errorf("creationTimestamp changed by an update, or a no-op update written: %s", r.raw)
	}
	m["deletionTimestamp"] = 7
	wantStatus(t, "number deletionTimestamp", e.do("PUT", leasesPath+"/ct", cur), 400, "BadRequest",
		`Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.deletionTimestamp of type string`, "")
}

// Create-on-PUT runs the same create pipeline as POST.
func TestCreateOnPutSharesCreatePipeline(t *testing.T) {
	e := newEnv(t)
	bad := lease("inv", "a", 0)
	post := e.do("POST", leasesPath, bad)
	put := e.do("PUT", leasesPath+"/inv", bad)
	wantStatus(t, "POST invalid", post, 422, "Invalid", `Lease.coordination.k8s.io "inv" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0`, "")
	if put.raw != post.raw {
		t.Errorf("PUT-create validation differs:\n%s\n%s", put.raw, post.raw)
	}
	l := lease("dry", "a", 10)
	l["spec"].(map[string]interface{})["renewTime"] = "2026-11-24T07:12:00.000000+01:00"
	for _, c := range []struct{ method, path string }{{"POST", leasesPath + "?dryRun=All"}, {"PUT", leasesPath + "/dry?dryRun=All"}} {
		r := e.do(c.method, c.path, l)
		mustCode(t, c.method+" dry run", r, 201)
		if str(r.body, "metadata", "uid") == "" || str(r.body, "metadata", "creationTimestamp") == "" ||
			str(r.body, "spec", "renewTime") != "2026-11-24T06:12:00.000000Z" || str(r.body, "metadata", "resourceVersion") != "" {
			t.Errorf("%s dry run: %s", c.method, r.raw)
		}
	}
	mustCode(t, "dry run stored nothing", e.do("GET", leasesPath+"/dry", nil), 404)
	seq := int64(len(e.logEntries(0)))
	r := e.do("PUT", leasesPath+"/dry", l)
	mustCode(t, "PUT-create", r, 201)
	if str(r.body, "metadata", "generation") != "" || str(r.body, "spec", "renewTime") != "2026-11-24T06:12:00.000000Z" {
		t.Errorf("PUT-create: %s", r.raw)
	}
	les := e.logEntries(seq)
	if len(les) != 1 || les[0]["verb"] != "create" {
		t.Errorf("PUT-create log: %v", les)
	}
	wantStatus(t, "PUT-create in a missing namespace", e.do("PUT", "/apis/coordination.k8s.io/v1/namespaces/nope/leases/x", lease("x", "a", 1)),
		404, "NotFound", `namespaces "nope" not found`, "")
}

// The uid an update's body carries is a storage precondition, checked before
// anything else the write does (etcd3 GuaranteedUpdate checks preconditions
// before it calls the update function, where the resourceVersion is compared
// and, when creating, the NamespaceLifecycle admission runs).
func TestUIDPreconditionComesFirst(t *testing.T) {
	e := newEnv(t)
	const uid = "00000000-0000-0000-0000-000000000001"
	l := lease("u", "a", 10)
	l["metadata"].(map[string]interface{})["uid"] = uid
	wantStatus(t, "PUT-create with a uid into a missing namespace", e.do("PUT", "/apis/coordination.k8s.io/v1/namespaces/nope/leases/u", l), 409, "Conflict",
		`Operation cannot be fulfilled on leases.coordination.k8s.io "u": Precondition failed: UID in precondition: `+uid+`, UID in object meta: `, "")
	r := e.do("POST", leasesPath, lease("u", "a", 10))
	mustCode(t, "create", r, 201)
	cur := r.body
	cm := cur["metadata"].(map[string]interface{})
	have := str(cur, "metadata", "uid")
	cm["uid"] = uid
	cm["resourceVersion"] = "1" // stale too: the uid is reported
	wantStatus(t, "PUT with another uid and a stale resourceVersion", e.do("PUT", leasesPath+"/u", cur), 409, "Conflict",
		`Operation cannot be fulfilled on leases.coordination.k8s.io "u": Precondition failed: UID in precondition: `+uid+`, UID in object meta: `+have, "")
	wantStatus(t, "DELETE with another uid", e.do("DELETE", leasesPath+"/u", map[string]interface{}{"preconditions": map[string]interface{}{"uid": uid}}), 409, "Conflict",
		`Operation cannot be fulfilled on leases.coordination.k8s.io "u": Precondition failed: UID in precondition: `+uid+`, UID in object meta: `+have, "")
}
